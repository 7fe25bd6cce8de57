//! Fidelity of a model to its teacher: hard-label agreement and mean KL divergence.

use crate::error::{Result, check_probs, check_same_len, rows_of};

/// Lower clamp applied to the model's probabilities inside the logarithm of [`mean_kl`].
pub const KL_EPS: f64 = 1e-12;

/// Fraction of rows on which two models predict the same class.
///
/// Errors when the slices differ in length or are empty. Class indices are compared as
/// given; no class-range check is made.
pub fn agreement(a_pred: &[usize], b_pred: &[usize]) -> Result<f64> {
    check_same_len("b_pred", b_pred.len(), "a_pred", a_pred.len())?;
    let same = a_pred.iter().zip(b_pred).filter(|(a, b)| a == b).count();
    Ok(same as f64 / a_pred.len() as f64)
}

/// Mean over rows of `KL(teacher ‖ model) = Σ_c p_t[c] · (ln p_t[c] − ln p_m[c])`.
///
/// Terms with `p_t[c] == 0` contribute 0 (the limit of `x ln x`), and `p_m[c]` is clamped
/// below at `1e-12` so a model that assigns zero probability where the teacher does not
/// gives a large finite value instead of infinity. Both inputs are validated as
/// probability matrices with the same shape; the row count comes from `teacher_probs`.
pub fn mean_kl(teacher_probs: &[f32], model_probs: &[f32], num_classes: usize) -> Result<f64> {
    let rows = rows_of("teacher_probs", teacher_probs, num_classes)?;
    check_probs("teacher_probs", teacher_probs, num_classes, rows)?;
    check_probs("model_probs", model_probs, num_classes, rows)?;
    let total: f64 = teacher_probs
        .iter()
        .zip(model_probs)
        .filter(|(t, _)| **t > 0.0)
        .map(|(&t, &m)| {
            let t = f64::from(t);
            let m = f64::from(m).max(KL_EPS);
            t * (t.ln() - m.ln())
        })
        .sum();
    // KL is never negative; float32 probabilities that do not sum to exactly 1 can push a
    // value that should be 0 (a model against itself) a hair below it.
    Ok((total / rows as f64).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::MetricsError;

    #[test]
    fn agreement_by_hand() {
        // [0, 1, 2, 1] vs [0, 2, 2, 1]: rows 0, 2, 3 agree → 3/4.
        assert_eq!(agreement(&[0, 1, 2, 1], &[0, 2, 2, 1]).unwrap(), 0.75);
        assert_eq!(agreement(&[4], &[4]).unwrap(), 1.0);
    }

    #[test]
    fn agreement_rejects_bad_lengths() {
        assert_eq!(
            agreement(&[0, 1], &[0]).unwrap_err().to_string(),
            "b_pred has 1 entries, expected 2 (one per row of a_pred)"
        );
        assert_eq!(
            agreement(&[], &[]).unwrap_err(),
            MetricsError::Empty { what: "a_pred" }
        );
    }

    #[test]
    fn mean_kl_by_hand() {
        // Row 0: t [0.5, 0.5], m [0.25, 0.75]
        //   0.5·ln(0.5/0.25) + 0.5·ln(0.5/0.75) = 0.5·ln(4/3)             = 0.1438410362
        // Row 1: t [1, 0], m [0.5, 0.5]
        //   1·ln(1/0.5) + (t = 0 term → 0)        = ln 2                   = 0.6931471806
        // Row 2: t [0.2, 0.8], m [0, 1]  (m = 0 clamped to 1e-12)
        //   0.2·(ln 0.2 − ln 1e-12) + 0.8·ln 0.8
        //   = 0.2·(−1.6094379124 + 27.6310211159) + 0.8·(−0.2231435513)
        //   = 5.2043166407 − 0.1785148411                                  = 5.0258017996
        // mean = (0.1438410362 + 0.6931471806 + 5.0258017996) / 3 = 5.8627900164 / 3
        //      = 1.9542633388
        let t = [0.5, 0.5, 1.0, 0.0, 0.2, 0.8];
        let m = [0.25, 0.75, 0.5, 0.5, 0.0, 1.0];
        let kl = mean_kl(&t, &m, 2).unwrap();
        assert!((kl - 1.954_263_338_8).abs() < 1e-6, "{kl}");
    }

    #[test]
    fn mean_kl_of_identical_distributions_is_zero() {
        let p = [0.1, 0.2, 0.7, 0.0, 1.0, 0.0];
        assert_eq!(mean_kl(&p, &p, 3).unwrap(), 0.0);
    }

    #[test]
    fn mean_kl_validates_both_inputs() {
        let t = [0.5, 0.5, 0.5, 0.5];
        assert_eq!(
            mean_kl(&t, &[0.5, 0.5], 2).unwrap_err().to_string(),
            "model_probs has 2 values, expected 2 rows x 2 classes = 4"
        );
        assert!(matches!(
            mean_kl(&[0.5, 0.5, 0.5], &t, 2).unwrap_err(),
            MetricsError::RaggedMatrix {
                what: "teacher_probs",
                ..
            }
        ));
        assert!(matches!(
            mean_kl(&t, &[0.5, 0.5, 0.9, 0.5], 2).unwrap_err(),
            MetricsError::RowSum {
                what: "model_probs",
                row: 1,
                ..
            }
        ));
        assert!(matches!(
            mean_kl(&[], &[], 2).unwrap_err(),
            MetricsError::Empty {
                what: "teacher_probs"
            }
        ));
    }
}
