//! The error type shared by every metric, and the input checks that produce it.
//!
//! Every public metric validates its inputs before computing anything, so bad user data
//! is reported as a [`MetricsError`] naming the offending argument instead of a panic or
//! a silently wrong number.

/// Absolute tolerance on `|row sum − 1|` for a row of probabilities.
pub const ROW_SUM_TOLERANCE: f64 = 1e-4;

/// Why a metric could not be computed from the given inputs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// An input has no rows, so the metric (a mean) is undefined.
    #[error("{what} is empty: at least one row is required")]
    Empty {
        /// Name of the empty argument.
        what: &'static str,
    },
    /// `num_classes` is below 2.
    #[error("num_classes must be at least 2, got {num_classes}")]
    TooFewClasses {
        /// The value that was passed.
        num_classes: usize,
    },
    /// A flat row-major matrix does not have `rows × num_classes` values.
    #[error("{what} has {len} values, expected {rows} rows x {num_classes} classes = {expected}")]
    ShapeMismatch {
        /// Name of the matrix argument.
        what: &'static str,
        /// Number of values it has.
        len: usize,
        /// Number of rows it should have (from the other arguments).
        rows: usize,
        /// Number of columns it should have.
        num_classes: usize,
        /// `rows × num_classes`.
        expected: usize,
    },
    /// A flat matrix whose row count is not fixed by another argument has a length that is
    /// not a multiple of `num_classes`.
    #[error("{what} has {len} values, which is not a multiple of num_classes = {num_classes}")]
    RaggedMatrix {
        /// Name of the matrix argument.
        what: &'static str,
        /// Number of values it has.
        len: usize,
        /// Number of columns it should have.
        num_classes: usize,
    },
    /// Two per-row arguments have different lengths.
    #[error("{what} has {len} entries, expected {expected} (one per row of {other})")]
    LengthMismatch {
        /// Name of the argument with the wrong length.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length it should have.
        expected: usize,
        /// Name of the argument that fixes the expected length.
        other: &'static str,
    },
    /// A class index is `>= num_classes`.
    #[error("{what}[{index}] = {class}, but num_classes = {num_classes} (valid: 0..{num_classes})")]
    ClassOutOfRange {
        /// Name of the argument (`labels`, `predicted`, ...).
        what: &'static str,
        /// Position of the bad entry.
        index: usize,
        /// The bad class index.
        class: usize,
        /// Number of classes.
        num_classes: usize,
    },
    /// A value is NaN or infinite.
    #[error("{what}[{index}] = {value} is not finite")]
    NonFinite {
        /// Name of the argument.
        what: &'static str,
        /// Position of the bad value in the flat slice.
        index: usize,
        /// The bad value.
        value: f32,
    },
    /// A probability is outside `[0, 1]`.
    #[error("{what}[{index}] = {value} is not a probability (outside [0, 1])")]
    NotAProbability {
        /// Name of the argument.
        what: &'static str,
        /// Position of the bad value in the flat slice.
        index: usize,
        /// The bad value.
        value: f32,
    },
    /// A row of probabilities does not sum to 1 within [`ROW_SUM_TOLERANCE`].
    #[error("row {row} of {what} sums to {sum}, expected 1 (tolerance {ROW_SUM_TOLERANCE})")]
    RowSum {
        /// Name of the argument.
        what: &'static str,
        /// Row index.
        row: usize,
        /// The row's sum.
        sum: f64,
    },
    /// A ranking metric needs examples of a class that is absent.
    #[error("{metric} is undefined: {what} contains no {missing} examples")]
    MissingClass {
        /// The metric being computed (`ROC-AUC`, `PR-AUC`).
        metric: &'static str,
        /// Name of the argument holding the targets.
        what: &'static str,
        /// `"positive"` or `"negative"`.
        missing: &'static str,
    },
    /// Any other invalid argument (bin count, class names, positive class, ...).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Name of the argument.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with [`MetricsError`] as the error type.
pub type Result<T> = std::result::Result<T, MetricsError>;

/// Checks `num_classes >= 2`.
pub(crate) fn check_num_classes(num_classes: usize) -> Result<()> {
    if num_classes < 2 {
        return Err(MetricsError::TooFewClasses { num_classes });
    }
    Ok(())
}

/// Checks that `len` (of `what`) equals `expected` (the length of `other`), and that it is
/// not zero.
pub(crate) fn check_same_len(
    what: &'static str,
    len: usize,
    other: &'static str,
    expected: usize,
) -> Result<()> {
    if expected == 0 {
        return Err(MetricsError::Empty { what: other });
    }
    if len != expected {
        return Err(MetricsError::LengthMismatch {
            what,
            len,
            expected,
            other,
        });
    }
    Ok(())
}

/// Checks every class index in `classes` is `< num_classes`.
pub(crate) fn check_classes(
    what: &'static str,
    classes: &[usize],
    num_classes: usize,
) -> Result<()> {
    match classes.iter().position(|&c| c >= num_classes) {
        Some(index) => Err(MetricsError::ClassOutOfRange {
            what,
            index,
            class: classes[index],
            num_classes,
        }),
        None => Ok(()),
    }
}

/// Checks a row-major probability matrix: `num_classes >= 2`, exactly `rows × num_classes`
/// values, `rows > 0`, every value finite and in `[0, 1]`, every row summing to 1 within
/// [`ROW_SUM_TOLERANCE`].
pub(crate) fn check_probs(
    what: &'static str,
    probs: &[f32],
    num_classes: usize,
    rows: usize,
) -> Result<()> {
    check_num_classes(num_classes)?;
    if rows == 0 {
        return Err(MetricsError::Empty { what });
    }
    let expected = rows.checked_mul(num_classes);
    if expected != Some(probs.len()) {
        return Err(MetricsError::ShapeMismatch {
            what,
            len: probs.len(),
            rows,
            num_classes,
            expected: expected.unwrap_or(usize::MAX),
        });
    }
    for (index, &value) in probs.iter().enumerate() {
        if !value.is_finite() {
            return Err(MetricsError::NonFinite { what, index, value });
        }
        if !(0.0..=1.0).contains(&value) {
            return Err(MetricsError::NotAProbability { what, index, value });
        }
    }
    for (row, chunk) in probs.chunks_exact(num_classes).enumerate() {
        let sum: f64 = chunk.iter().map(|&p| f64::from(p)).sum();
        if (sum - 1.0).abs() > ROW_SUM_TOLERANCE {
            return Err(MetricsError::RowSum { what, row, sum });
        }
    }
    Ok(())
}

/// Checks a probability matrix with one row per label, and the labels themselves.
pub(crate) fn check_probs_and_labels(
    probs: &[f32],
    num_classes: usize,
    labels: &[usize],
) -> Result<()> {
    check_num_classes(num_classes)?;
    if labels.is_empty() {
        return Err(MetricsError::Empty { what: "labels" });
    }
    check_probs("probabilities", probs, num_classes, labels.len())?;
    check_classes("labels", labels, num_classes)
}

/// Number of rows of a probability matrix whose row count is not given by another
/// argument; errors when `num_classes < 2`, the length is not a multiple, or it is empty.
pub(crate) fn rows_of(what: &'static str, values: &[f32], num_classes: usize) -> Result<usize> {
    check_num_classes(num_classes)?;
    if values.is_empty() {
        return Err(MetricsError::Empty { what });
    }
    if !values.len().is_multiple_of(num_classes) {
        return Err(MetricsError::RaggedMatrix {
            what,
            len: values.len(),
            num_classes,
        });
    }
    Ok(values.len() / num_classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_message_names_rows_classes_and_expected_count() {
        let err = check_probs("probabilities", &[0.25; 9], 4, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "probabilities has 9 values, expected 3 rows x 4 classes = 12"
        );
    }

    #[test]
    fn detects_each_kind_of_bad_probability() {
        assert_eq!(
            check_probs("p", &[0.5, 0.5], 1, 2).unwrap_err(),
            MetricsError::TooFewClasses { num_classes: 1 }
        );
        assert_eq!(
            check_probs("p", &[], 2, 0).unwrap_err(),
            MetricsError::Empty { what: "p" }
        );
        assert!(matches!(
            check_probs("p", &[0.5, f32::NAN], 2, 1).unwrap_err(),
            MetricsError::NonFinite { index: 1, .. }
        ));
        assert!(matches!(
            check_probs("p", &[1.5, -0.5], 2, 1).unwrap_err(),
            MetricsError::NotAProbability { index: 0, .. }
        ));
        // Row 1 sums to 0.9: off by 0.1 > 1e-4.
        let err = check_probs("p", &[0.5, 0.5, 0.4, 0.5], 2, 2).unwrap_err();
        assert!(matches!(err, MetricsError::RowSum { row: 1, .. }), "{err}");
        // Off by 5e-5 < 1e-4 is accepted.
        check_probs("p", &[0.5, 0.50005], 2, 1).unwrap();
    }

    #[test]
    fn labels_are_checked_for_count_and_range() {
        let p = [0.5f32, 0.5, 0.5, 0.5];
        assert_eq!(
            check_probs_and_labels(&p, 2, &[]).unwrap_err(),
            MetricsError::Empty { what: "labels" }
        );
        let err = check_probs_and_labels(&p, 2, &[0, 2]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "labels[1] = 2, but num_classes = 2 (valid: 0..2)"
        );
        check_probs_and_labels(&p, 2, &[0, 1]).unwrap();
    }

    #[test]
    fn rows_of_requires_a_whole_number_of_rows() {
        assert_eq!(rows_of("t", &[0.0; 6], 3), Ok(2));
        assert_eq!(
            rows_of("t", &[0.0; 5], 3).unwrap_err().to_string(),
            "t has 5 values, which is not a multiple of num_classes = 3"
        );
        assert_eq!(rows_of("t", &[], 3), Err(MetricsError::Empty { what: "t" }));
    }
}
