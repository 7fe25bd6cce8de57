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
    fn bad_fractions_are_errors() {
        let labels = vec![0, 1, 0, 1];
        assert!(stratified_split(&labels, 0.6, 0.5, 0).is_err());
        assert!(stratified_split(&labels, -0.1, 0.1, 0).is_err());
    }
}
