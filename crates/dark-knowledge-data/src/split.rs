//! Reproducible stratified splits.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};
use dark_knowledge_core::error::check_non_negative;

/// Positions of the rows of each part of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub valid: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Splits rows into train / validation / test, stratified by label: each class is shuffled
/// with `seed` and cut in the given fractions (rounded per class), so every part keeps the
/// class balance. The same labels and seed always give the same split.
///
/// # Errors
/// An invalid-value error when a fraction is negative or not finite or the two sum to 1 or
/// more; [`Error::Empty`] when a part would be empty.
pub fn stratified_split(
    labels: &[usize],
    valid_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Result<Split> {
    check_non_negative("valid_fraction", valid_fraction)?;
    check_non_negative("test_fraction", test_fraction)?;
    if valid_fraction + test_fraction >= 1.0 {
        return Err(dark_knowledge_core::Error::InvalidValue {
            name: "valid_fraction + test_fraction",
            value: (valid_fraction + test_fraction).to_string(),
            allowed: "a sum < 1 (the rest is the training split)",
        }
        .into());
    }
    let num_classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut split = Split {
        train: Vec::new(),
        valid: Vec::new(),
        test: Vec::new(),
    };
    for class in 0..num_classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let n = rows.len() as f64;
        let n_test = (n * test_fraction).round() as usize;
        let n_valid = ((n * valid_fraction).round() as usize).min(rows.len() - n_test);
        split.test.extend(&rows[..n_test]);
        split.valid.extend(&rows[n_test..n_test + n_valid]);
        split.train.extend(&rows[n_test + n_valid..]);
    }
    for (part, rows, wanted) in [
        ("training split", &mut split.train, true),
        ("validation split", &mut split.valid, valid_fraction > 0.0),
        ("test split", &mut split.test, test_fraction > 0.0),
    ] {
        if wanted && rows.is_empty() {
            return Err(Error::Empty { what: part });
        }
        rows.sort_unstable();
    }
    Ok(split)
}

/// How many training labels to keep when the rest are hidden (a transfer set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LabelBudget {
    /// This many rows of each class.
    PerClass(usize),
    /// This fraction of each class's rows (rounded per class, at least one), in `(0, 1]`.
    Fraction(f64),
}

/// The positions (sorted) whose labels are kept: per class, the first rows of a shuffle
/// seeded with `seed`. Every other row becomes unlabelled.
///
/// # Errors
/// A fraction outside `(0, 1]`, a per-class count of 0, or a class with fewer rows than
/// `PerClass` asks for (naming the class and its count).
pub fn stratified_labeled(labels: &[usize], budget: LabelBudget, seed: u64) -> Result<Vec<usize>> {
    match budget {
        LabelBudget::PerClass(0) => {
            return Err(dark_knowledge_core::Error::InvalidValue {
                name: "labeled_per_class",
                value: "0".into(),
                allowed: "an integer >= 1",
            }
            .into());
        }
        LabelBudget::Fraction(f) if !(f > 0.0 && f <= 1.0) => {
            return Err(dark_knowledge_core::Error::InvalidValue {
                name: "labeled_fraction",
                value: f.to_string(),
                allowed: "a fraction in (0, 1]",
            }
            .into());
        }
        _ => {}
    }
    let num_classes = labels.iter().copied().max().map_or(0, |m| m + 1);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut keep = Vec::new();
    for class in 0..num_classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        if rows.is_empty() {
            continue;
        }
        rows.shuffle(&mut rng);
        let n = match budget {
            LabelBudget::PerClass(n) => {
                if n > rows.len() {
                    return Err(dark_knowledge_core::Error::InvalidValue {
                        name: "labeled_per_class",
                        value: format!("{n}, but class {class} has {} training rows", rows.len()),
                        allowed: "at most the smallest class's number of training rows",
                    }
                    .into());
                }
                n
            }
            LabelBudget::Fraction(f) => ((rows.len() as f64 * f).round() as usize).max(1),
        };
        keep.extend(&rows[..n]);
    }
    keep.sort_unstable();
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_stratified_disjoint_complete_and_reproducible() {
        let labels: Vec<usize> = (0..1000).map(|i| if i % 10 == 0 { 1 } else { 0 }).collect();
        let s = stratified_split(&labels, 0.2, 0.1, 7).unwrap();
        assert_eq!(s, stratified_split(&labels, 0.2, 0.1, 7).unwrap());
        assert_ne!(s, stratified_split(&labels, 0.2, 0.1, 8).unwrap());
        let mut all: Vec<usize> = s
            .train
            .iter()
            .chain(&s.valid)
            .chain(&s.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let positives = |rows: &[usize]| rows.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!(
            (positives(&s.train), positives(&s.valid), positives(&s.test)),
            (70, 20, 10)
        );
        assert_eq!(
            (s.train.len(), s.valid.len(), s.test.len()),
            (700, 200, 100)
        );
    }

    #[test]
    fn labels_kept_are_stratified_seeded_and_checked() {
        let labels: Vec<usize> = (0..300).map(|i| i % 3).collect();
        let keep = stratified_labeled(&labels, LabelBudget::PerClass(7), 1).unwrap();
        assert_eq!(keep.len(), 21);
        for c in 0..3 {
            assert_eq!(keep.iter().filter(|&&i| labels[i] == c).count(), 7);
        }
        assert_eq!(
            keep,
            stratified_labeled(&labels, LabelBudget::PerClass(7), 1).unwrap()
        );
        assert_ne!(
            keep,
            stratified_labeled(&labels, LabelBudget::PerClass(7), 2).unwrap()
        );
        let frac = stratified_labeled(&labels, LabelBudget::Fraction(0.1), 1).unwrap();
        assert_eq!(frac.len(), 30);
        let err = stratified_labeled(&labels, LabelBudget::PerClass(101), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("class 0 has 100"), "{err}");
        assert!(stratified_labeled(&labels, LabelBudget::Fraction(0.0), 1).is_err());
        assert!(stratified_labeled(&labels, LabelBudget::PerClass(0), 1).is_err());
    }

    #[test]
    fn bad_fractions_are_errors() {
        let labels = vec![0, 1, 0, 1];
        assert!(stratified_split(&labels, 0.6, 0.5, 0).is_err());
        assert!(stratified_split(&labels, -0.1, 0.1, 0).is_err());
    }
}
