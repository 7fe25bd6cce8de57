//! The error type of dark-knowledge's core.

/// Everything that can go wrong when configuring losses, teachers or devices.
///
/// Every variant names the offending value and what is allowed, so a message can be shown
/// to a user as is.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum Error {
    /// A numeric setting is outside its allowed range, or not a finite number.
    #[error("invalid {name}: got {value}, allowed: {allowed}")]
    InvalidValue {
        /// The setting, e.g. `temperature`.
        name: &'static str,
        /// The value that was given, as text.
        value: String,
        /// What is allowed, e.g. `a finite number > 0`.
        allowed: &'static str,
    },
    /// Every loss weight is zero, so the loss would be identically zero.
    #[error("all loss weights are 0 ({details}): at least one weight must be > 0")]
    AllWeightsZero {
        /// The weights that were given.
        details: String,
    },
    /// Teacher and student predict a different number of classes.
    #[error(
        "class-count mismatch: the teacher yields {teacher} classes but the student predicts {student}; they must be equal"
    )]
    ClassCountMismatch {
        /// Classes of the teacher.
        teacher: usize,
        /// Classes of the student.
        student: usize,
    },
    /// A tensor or a table does not have the expected shape.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// What was checked.
        what: &'static str,
        /// The expected shape.
        expected: String,
        /// The shape found.
        got: String,
    },
    /// A device name that is not known, or whose backend was not compiled in.
    #[error("unknown or unavailable device {name:?}: {allowed}")]
    UnknownDevice {
        /// The name given.
        name: String,
        /// The names accepted by this build.
        allowed: String,
    },
    /// A teacher could not produce logits for the requested rows.
    #[error("teacher cannot serve this batch: {0}")]
    Teacher(String),
}

/// The result type of dark-knowledge's core.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `value` is finite and strictly positive.
pub fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            name,
            value: value.to_string(),
            allowed: "a finite number > 0",
        })
    }
}

/// Checks that `value` is finite and not negative.
pub fn check_non_negative(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            name,
            value: value.to_string(),
            allowed: "a finite number >= 0",
        })
    }
}

/// Checks a loss's term weights: each finite and not negative, and not all 0.
///
/// # Errors
/// [`Error::InvalidValue`] naming the first bad weight; [`Error::AllWeightsZero`] listing
/// them all when every weight is 0.
pub fn check_weights(weights: &[(&'static str, f64)]) -> Result<()> {
    for &(name, value) in weights {
        check_non_negative(name, value)?;
    }
    if weights.iter().all(|&(_, v)| v == 0.0) {
        let details = weights
            .iter()
            .map(|(name, v)| format!("{name} = {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::AllWeightsZero { details });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_check_rejects_zero_negative_nan_and_infinity() {
        assert!(check_positive("t", 0.5).is_ok());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = check_positive("temperature", bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("temperature"), "{msg}");
            assert!(msg.contains("> 0"), "{msg}");
        }
    }

    #[test]
    fn non_negative_check_accepts_zero_only_among_the_edge_cases() {
        assert!(check_non_negative("w", 0.0).is_ok());
        assert!(check_non_negative("w", -0.1).is_err());
        assert!(check_non_negative("w", f64::NAN).is_err());
    }
}
