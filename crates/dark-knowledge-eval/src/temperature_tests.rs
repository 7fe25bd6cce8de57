use super::*;

/// SplitMix64: a small seeded generator for property tests.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Mean NLL of `softmax(logits / t)`, in `f64` with log-sum-exp.
fn nll(logits: &[f32], k: usize, labels: &[usize], t: f64) -> f64 {
    let total: f64 = logits
        .chunks_exact(k)
        .zip(labels)
        .map(|(row, &y)| {
            let z: Vec<f64> = row.iter().map(|&v| f64::from(v) / t).collect();
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            lse - z[y]
        })
        .sum();
    total / labels.len() as f64
}

/// `n` rows with logits `(0, d)`, of which the first `ones` have label 1.
fn binary_set(n: usize, ones: usize, d: f32) -> (Vec<f32>, Vec<usize>) {
    let logits = (0..n).flat_map(|_| [0.0, d]).collect();
    let labels = (0..n).map(|i| usize::from(i < ones)).collect();
    (logits, labels)
}

/// A random, over-confident `k`-class set: logits in `±scale`, the label the arg-max with
/// probability 0.6 and otherwise uniform.
fn random_set(rng: &mut SplitMix, n: usize, k: usize, scale: f64) -> (Vec<f32>, Vec<usize>) {
    let mut logits = Vec::with_capacity(n * k);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..k)
            .map(|_| ((rng.unit() * 2.0 - 1.0) * scale) as f32)
            .collect();
        let arg = crate::argmax_rows(&row, k)[0];
        labels.push(if rng.unit() < 0.6 { arg } else { rng.below(k) });
        logits.extend(row);
    }
    (logits, labels)
}

#[test]
fn binary_optimum_is_d_over_logit_p() {
    // Every row is (0, d); p(label 1) = sigmoid(β d). The NLL derivative in β is
    // d·sigmoid(β d) − p·d, zero at sigmoid(β d) = p, i.e. T = 1/β = d / logit(p).
    for (n, ones, d) in [(10, 7, 2.0f32), (20, 17, 0.5), (8, 5, 3.0), (10, 9, 1e4)] {
        let (logits, labels) = binary_set(n, ones, d);
        let p = ones as f64 / n as f64;
        let expected = f64::from(d) / (p / (1.0 - p)).ln();
        let t = fit_temperature(&logits, 2, &labels).unwrap();
        assert!(
            (t - expected).abs() <= 1e-9 * expected.max(1.0),
            "{t} vs {expected}"
        );
    }
    // 7 of 10 rows labelled 1 with logits (0, 2): d / logit(0.7) = 2 / 0.8472978604.
    let (logits, labels) = binary_set(10, 7, 2.0);
    let t = fit_temperature(&logits, 2, &labels).unwrap();
    assert!((t - 2.360_445_002_287_658).abs() < 1e-9, "{t}");
}

#[test]
fn optimum_below_beta_zero_returns_the_upper_bound() {
    // Only 3 of 10 rows are labelled 1 but class 1 always has the larger logit: the best
    // positive β is 0 (uniform), so T is the upper bound s · 1e6 = 1e4 · 1e6.
    let (logits, labels) = binary_set(10, 3, 1e4);
    let t = fit_temperature(&logits, 2, &labels).unwrap();
    assert_eq!(t, 1e4 * TEMPERATURE_BOUND_FACTOR);
}

#[test]
fn fitted_temperature_never_increases_the_nll() {
    let mut rng = SplitMix(0x5EED);
    for case in 0..12 {
        let k = 2 + case % 4;
        let scale = [0.5, 3.0, 20.0, 300.0][case % 4];
        let (logits, labels) = random_set(&mut rng, 40 + 7 * case, k, scale);
        let t = fit_temperature(&logits, k, &labels).unwrap();
        assert!(t > 0.0 && t.is_finite(), "case {case}: {t}");
        let best = nll(&logits, k, &labels, t);
        assert!(best <= nll(&logits, k, &labels, 1.0) + 1e-12, "case {case}");
        // A true minimum: nudging T either way does not help.
        for factor in [0.999, 1.001] {
            let nudged = nll(&logits, k, &labels, t * factor);
            assert!(best <= nudged + 1e-12, "case {case}: {best} > {nudged}");
        }
    }
}

#[test]
fn temperature_scales_with_the_logits() {
    let mut rng = SplitMix(42);
    let (logits, labels) = random_set(&mut rng, 60, 3, 4.0);
    let t = fit_temperature(&logits, 3, &labels).unwrap();
    // Powers of two scale f32 logits exactly.
    for c in [4.0f32, 0.5, 1024.0] {
        let scaled: Vec<f32> = logits.iter().map(|z| z * c).collect();
        let tc = fit_temperature(&scaled, 3, &labels).unwrap();
        let expected = f64::from(c) * t;
        assert!(
            (tc - expected).abs() <= 1e-9 * expected,
            "c {c}: {tc} vs {expected}"
        );
    }
    // Other factors only up to the f32 rounding of c · z.
    let scaled: Vec<f32> = logits.iter().map(|z| z * 3.0).collect();
    let t3 = fit_temperature(&scaled, 3, &labels).unwrap();
    assert!((t3 - 3.0 * t).abs() <= 1e-5 * t3, "{t3} vs {}", 3.0 * t);
}

#[test]
fn separable_and_constant_edge_cases() {
    // Every label is its row's arg-max (row 2 ties at the max): the NLL decreases as
    // T → 0, so T is the lower bound s / 1e6 with s = 3 (the spread of row 1).
    let logits = [2.0, 0.0, 0.0, 3.0, 1.0, 1.0];
    let t = fit_temperature(&logits, 2, &[0, 1, 1]).unwrap();
    assert_eq!(t, 3.0 / TEMPERATURE_BOUND_FACTOR);
    // All logits equal within each row: the NLL does not depend on T → T = 1.
    let t = fit_temperature(&[1.0, 1.0, -5.0, -5.0], 2, &[0, 1]).unwrap();
    assert_eq!(t, 1.0);
}

#[test]
fn fit_rejects_bad_input() {
    assert_eq!(
        fit_temperature(&[], 2, &[]).unwrap_err(),
        MetricsError::Empty { what: "labels" }
    );
    assert!(matches!(
        fit_temperature(&[0.0, 1.0, 2.0], 2, &[0, 1]).unwrap_err(),
        MetricsError::ShapeMismatch { expected: 4, .. }
    ));
    assert!(matches!(
        fit_temperature(&[0.0, f32::NAN], 2, &[0]).unwrap_err(),
        MetricsError::NonFinite {
            what: "logits",
            index: 1,
            ..
        }
    ));
    assert!(matches!(
        fit_temperature(&[0.0, f32::INFINITY], 2, &[0]).unwrap_err(),
        MetricsError::NonFinite { index: 1, .. }
    ));
    assert!(matches!(
        fit_temperature(&[0.0, 1.0], 2, &[2]).unwrap_err(),
        MetricsError::ClassOutOfRange { class: 2, .. }
    ));
    assert_eq!(
        fit_temperature(&[0.0], 1, &[0]).unwrap_err(),
        MetricsError::TooFewClasses { num_classes: 1 }
    );
}

#[test]
fn softmax_with_temperature_by_hand() {
    // (0, ln 3) at T = 1 → (1/4, 3/4); (0, 2 ln 3) at T = 2 → the same.
    let ln3 = 3.0f32.ln();
    let p = softmax_with_temperature(&[0.0, ln3, 0.0, 2.0 * ln3], 2, 1.0).unwrap();
    assert!(
        (p[0] - 0.25).abs() < 1e-6 && (p[1] - 0.75).abs() < 1e-6,
        "{p:?}"
    );
    let p = softmax_with_temperature(&[0.0, 2.0 * ln3], 2, 2.0).unwrap();
    assert!((p[0] - 0.25).abs() < 1e-6, "{p:?}");
    // ±1e4: one-hot at T = 1; (1, −1) at T = 1e4 → e / (e + 1/e) = 0.880797.
    let p = softmax_with_temperature(&[1e4, -1e4], 2, 1.0).unwrap();
    assert_eq!(p, vec![1.0, 0.0]);
    let p = softmax_with_temperature(&[1e4, -1e4], 2, 1e4).unwrap();
    assert!(
        (f64::from(p[0]) - 0.880_797_077_977_882_4).abs() < 1e-6,
        "{p:?}"
    );
    // scale_logits divides.
    assert_eq!(scale_logits(&[2.0, -4.0], 2.0), vec![1.0, -2.0]);
}

#[test]
fn softmax_with_temperature_rejects_bad_input() {
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = softmax_with_temperature(&[0.0, 1.0], 2, t).unwrap_err();
        assert!(
            matches!(
                err,
                MetricsError::InvalidArgument {
                    what: "temperature",
                    ..
                }
            ),
            "{err}"
        );
    }
    assert!(matches!(
        softmax_with_temperature(&[0.0, 1.0, 2.0], 2, 1.0).unwrap_err(),
        MetricsError::RaggedMatrix { .. }
    ));
    assert!(matches!(
        softmax_with_temperature(&[], 2, 1.0).unwrap_err(),
        MetricsError::Empty { what: "logits" }
    ));
    assert!(matches!(
        softmax_with_temperature(&[f32::NAN, 1.0], 2, 1.0).unwrap_err(),
        MetricsError::NonFinite { index: 0, .. }
    ));
}

#[test]
fn calibrate_fits_on_valid_and_reports_test() {
    let mut rng = SplitMix(7);
    let (valid, valid_labels) = random_set(&mut rng, 200, 4, 8.0);
    let (test, test_labels) = random_set(&mut rng, 150, 4, 8.0);
    let change = calibrate(&valid, &valid_labels, &test, &test_labels, 4).unwrap();
    assert_eq!(
        change.temperature,
        fit_temperature(&valid, 4, &valid_labels).unwrap()
    );
    // Logits in ±8 with 60 % of labels at the arg-max are over-confident: T > 1.
    assert!(change.temperature > 1.0, "{}", change.temperature);
    let probs = crate::softmax_rows(&test, 4);
    let before = log_loss(&probs, 4, &test_labels).unwrap();
    assert!((change.before.log_loss - before).abs() < 1e-6);
    assert!(change.after.log_loss < change.before.log_loss, "{change:?}");
    assert!(change.after.ece < change.before.ece, "{change:?}");
    // Fitting and testing on the same split can only lower the NLL.
    let same = calibrate(&valid, &valid_labels, &valid, &valid_labels, 4).unwrap();
    assert!(
        same.after.log_loss <= same.before.log_loss + 1e-6,
        "{same:?}"
    );
    // Errors name the split.
    let err = calibrate(&valid, &valid_labels, &test, &test_labels[1..], 4).unwrap_err();
    assert!(
        matches!(
            err,
            MetricsError::ShapeMismatch {
                what: "test_logits",
                ..
            }
        ),
        "{err}"
    );
    let err = calibrate(&valid, &[], &test, &test_labels, 4).unwrap_err();
    assert_eq!(
        err,
        MetricsError::Empty {
            what: "valid_labels"
        }
    );
    // Serde round trip.
    let json = serde_json::to_string(&change).unwrap();
    let back: CalibrationChange = serde_json::from_str(&json).unwrap();
    assert_eq!(back, change);
}
