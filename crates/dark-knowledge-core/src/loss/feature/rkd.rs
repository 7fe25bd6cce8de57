//! Relational knowledge distillation (Park et al. 2019, "Relational Knowledge Distillation").

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::{l2_normalize, shape_mismatch};
use crate::error::{Result, check_weights};

/// Lower bound of a squared distance before its square root, as in the authors' `pdist`.
const MIN_SQUARED_DISTANCE: f64 = 1e-12;

/// Settings of [`RkdLoss`].
///
/// Defaults are the paper's: distance weight 25, angle weight 50.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RkdConfig {
    /// Weight of the distance term (RKD-D).
    pub distance_weight: f64,
    /// Weight of the angle term (RKD-A).
    pub angle_weight: f64,
}

impl Default for RkdConfig {
    fn default() -> Self {
        Self {
            distance_weight: 25.0,
            angle_weight: 50.0,
        }
    }
}

impl RkdConfig {
    /// A configuration with the given weights.
    pub fn new(distance_weight: f64, angle_weight: f64) -> Self {
        Self {
            distance_weight,
            angle_weight,
        }
    }

    /// Checks the weights and builds the loss.
    ///
    /// # Errors
    /// [`crate::Error::InvalidValue`] for a weight that is negative or not finite;
    /// [`crate::Error::AllWeightsZero`] when both weights are 0.
    pub fn init(&self) -> Result<RkdLoss> {
        check_weights(&[
            ("distance_weight", self.distance_weight),
            ("angle_weight", self.angle_weight),
        ])?;
        Ok(RkdLoss {
            distance_weight: self.distance_weight,
            angle_weight: self.angle_weight,
        })
    }
}

/// The RKD loss and its two unweighted terms for one batch.
#[derive(Debug, Clone)]
pub struct RkdTerms {
    /// `distance_weight · distance + angle_weight · angle`, shape `[1]`.
    pub total: Tensor<1>,
    /// The distance term [`rkd_distance_loss`], unweighted, shape `[1]`.
    pub distance: Tensor<1>,
    /// The angle term [`rkd_angle_loss`], unweighted, shape `[1]`.
    pub angle: Tensor<1>,
}

/// Relational knowledge distillation, following the authors' code (`lenscloth/RKD`,
/// `RkdDistance` and `RKdAngle`): the student imitates the *relations* between the samples
/// of a batch — their pairwise distances and the angles they form — not the teacher's
/// features themselves, so student and teacher feature widths may differ.
///
/// ```text
/// loss = distance_weight · rkd_distance_loss(s, t) + angle_weight · rkd_angle_loss(s, t)
/// ```
///
/// The teacher's features are detached. Batches of 0 or 1 samples have no pairs: both terms
/// are 0 (a zero still connected to the student's graph, so `backward` works and gives a
/// zero gradient).
///
/// # Shapes
/// - student: `[n, d_s]`, teacher: `[n, d_t]`
/// - output: `[1]`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RkdLoss {
    distance_weight: f64,
    angle_weight: f64,
}

impl RkdLoss {
    /// The weight of the distance term.
    pub fn distance_weight(&self) -> f64 {
        self.distance_weight
    }

    /// The weight of the angle term.
    pub fn angle_weight(&self) -> f64 {
        self.angle_weight
    }

    /// The weighted loss, shape `[1]`; a term whose weight is 0 is not computed.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] naming both shapes when the batch sizes differ.
    pub fn forward(&self, student: Tensor<2>, teacher: Tensor<2>) -> Result<Tensor<1>> {
        check_batch_sizes(&student, &teacher)?;
        let distance = (self.distance_weight > 0.0)
            .then(|| rkd_distance_loss(student.clone(), teacher.clone()))
            .transpose()?
            .map(|d| d.mul_scalar(self.distance_weight));
        let angle = (self.angle_weight > 0.0)
            .then(|| rkd_angle_loss(student, teacher))
            .transpose()?
            .map(|a| a.mul_scalar(self.angle_weight));
        let total = match (distance, angle) {
            (Some(d), Some(a)) => Some(d + a),
            (d, a) => d.or(a),
        };
        Ok(total.expect("RkdConfig::init rejects two zero weights"))
    }

    /// The weighted loss together with both unweighted terms.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] naming both shapes when the batch sizes differ.
    pub fn forward_terms(&self, student: Tensor<2>, teacher: Tensor<2>) -> Result<RkdTerms> {
        let distance = rkd_distance_loss(student.clone(), teacher.clone())?;
        let angle = rkd_angle_loss(student, teacher)?;
        let total = distance.clone().mul_scalar(self.distance_weight)
            + angle.clone().mul_scalar(self.angle_weight);
        Ok(RkdTerms {
            total,
            distance,
            angle,
        })
    }
}

/// The RKD distance term (RKD-D), unweighted:
///
/// ```text
/// d_ij   = sqrt(max(‖e_i‖² + ‖e_j‖² − 2 e_i·e_j, 1e-12)) for i ≠ j,   d_ii = 0
/// ψ(e)   = d / mean_{i≠j} d_ij                       (the mean over the n(n−1) pairs)
/// loss   = (1/n²) Σ_{i,j} smooth_l1(ψ(s)_ij − ψ(t)_ij)
/// smooth_l1(x) = 0.5 x² if |x| < 1, else |x| − 0.5
/// ```
///
/// The mean is over all `n²` entries, the zero diagonal included (PyTorch's
/// `F.smooth_l1_loss` on the full matrices). The student's normaliser `mean d` is part of
/// the graph; the teacher is detached. Fewer than 2 samples give 0 (see [`RkdLoss`]).
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] naming both shapes when the batch sizes differ.
pub fn rkd_distance_loss(student: Tensor<2>, teacher: Tensor<2>) -> Result<Tensor<1>> {
    check_batch_sizes(&student, &teacher)?;
    if student.dims()[0] < 2 {
        return Ok(connected_zero(student));
    }
    let target = normalized_distances(teacher.detach());
    Ok(smooth_l1_mean(normalized_distances(student), target))
}

/// The RKD angle term (RKD-A), unweighted:
///
/// ```text
/// u_ij         = normalize(e_j − e_i)      (u_ii = 0; normalize as PyTorch's F.normalize)
/// angle_ijk    = u_ij · u_ik               (the cosine of the angle at e_i)
/// loss         = (1/n³) Σ_{i,j,k} smooth_l1(angle(s)_ijk − angle(t)_ijk)
/// ```
///
/// The mean is over all `n³` entries. The teacher is detached. Fewer than 2 samples give 0
/// (see [`RkdLoss`]).
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] naming both shapes when the batch sizes differ.
pub fn rkd_angle_loss(student: Tensor<2>, teacher: Tensor<2>) -> Result<Tensor<1>> {
    check_batch_sizes(&student, &teacher)?;
    if student.dims()[0] < 2 {
        return Ok(connected_zero(student));
    }
    let target = angles(teacher.detach());
    Ok(smooth_l1_mean(angles(student), target))
}

fn check_batch_sizes(student: &Tensor<2>, teacher: &Tensor<2>) -> Result<()> {
    if student.dims()[0] == teacher.dims()[0] {
        Ok(())
    } else {
        Err(shape_mismatch(
            "relational KD",
            "student features with the teacher's batch size",
            &student.dims(),
            &teacher.dims(),
        ))
    }
}

/// A `[1]` zero that depends on `student`, so a loss made only of it still backpropagates.
fn connected_zero(student: Tensor<2>) -> Tensor<1> {
    student.sum().mul_scalar(0.0)
}

/// Pairwise Euclidean distances with a zero diagonal, `[n, d] → [n, n]` (the authors'
/// `pdist(e, squared=False)`).
fn pairwise_distances(e: Tensor<2>) -> Tensor<2> {
    let [n, _] = e.dims();
    let device = e.device();
    let squared_norms = e.clone().square().sum_dim(1);
    let products = e.clone().matmul(e.transpose());
    let squared = squared_norms.clone() + squared_norms.transpose() - products.mul_scalar(2.0);
    let off_diagonal = Tensor::<2>::eye(n, &device).neg().add_scalar(1.0);
    squared.clamp_min(MIN_SQUARED_DISTANCE).sqrt() * off_diagonal
}

/// Pairwise distances divided by their mean over the `n(n−1)` off-diagonal entries; `n ≥ 2`.
fn normalized_distances(e: Tensor<2>) -> Tensor<2> {
    let [n, _] = e.dims();
    let distances = pairwise_distances(e);
    let mean = distances
        .clone()
        .sum()
        .div_scalar((n * (n - 1)) as f64)
        .reshape([1, 1]);
    distances / mean
}

/// `angle[i, j, k] = normalize(e_j − e_i) · normalize(e_k − e_i)`, `[n, d] → [n, n, n]`.
fn angles(e: Tensor<2>) -> Tensor<3> {
    let differences = e.clone().unsqueeze_dim::<3>(0) - e.unsqueeze_dim::<3>(1);
    let directions = l2_normalize(differences, 2);
    directions.clone().matmul(directions.swap_dims(1, 2))
}

/// `mean(smooth_l1(x − y))` with `beta = 1` (PyTorch's `F.smooth_l1_loss`, mean reduction).
fn smooth_l1_mean<const D: usize>(x: Tensor<D>, y: Tensor<D>) -> Tensor<1> {
    let diff = x - y;
    let magnitude = diff.clone().abs();
    let quadratic = diff.square().mul_scalar(0.5);
    let linear = magnitude.clone().sub_scalar(0.5);
    linear
        .mask_where(magnitude.lower_elem(1.0), quadratic)
        .mean()
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::tensor_util::to_vec_f32;
    use crate::test_support::tensor as matrix;

    /// The 3-4-5 right triangle (0, 0), (3, 0), (0, 4) in 2-D.
    fn triangle(device: &Device) -> Tensor<2> {
        matrix(vec![0.0, 0.0, 3.0, 0.0, 0.0, 4.0], [3, 2], device)
    }

    /// Three collinear points 0, 1, 2 in 1-D.
    fn line(device: &Device) -> Tensor<2> {
        matrix(vec![0.0, 1.0, 2.0], [3, 1], device)
    }

    fn assert_close(got: Tensor<1>, want: f32) {
        let got = got.into_scalar::<f32>();
        assert!((got - want).abs() < 1e-6, "got {got}, want {want}");
    }

    #[test]
    fn smooth_l1_is_quadratic_below_one_and_linear_above() {
        // 0.5·0.5² = 0.125; |−2| − 0.5 = 1.5; at |x| = 1 both pieces give 0.5; mean = 2.125/3.
        let device = Device::flex();
        let x = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, -2.0, 1.0], [3]), &device);
        assert_close(smooth_l1_mean(x, Tensor::zeros([3], &device)), 2.125 / 3.0);
    }

    #[test]
    fn distance_term_matches_the_hand_computation() {
        // Student (triangle): d01 = 3, d02 = 4, d12 = 5; mean over the 6 off-diagonal
        // entries = 24/6 = 4 → ψ = 0.75, 1, 1.25.
        // Teacher (line 0, 1, 2): d01 = 1, d02 = 2, d12 = 1; mean = 8/6 = 4/3
        //   → ψ = 0.75, 1.5, 0.75.
        // Differences 0, −0.5, 0.5, each pair twice: smooth_l1 = 4 · 0.5 · 0.25 = 0.5 over
        // the 9 entries → 0.5 / 9.
        let device = Device::flex();
        let d = to_vec_f32(pairwise_distances(triangle(&device)));
        let want = [0.0f32, 3.0, 4.0, 3.0, 0.0, 5.0, 4.0, 5.0, 0.0];
        assert!(
            d.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-5),
            "{d:?}"
        );
        let loss = rkd_distance_loss(triangle(&device), line(&device)).unwrap();
        assert_eq!(loss.dims(), [1]);
        assert_close(loss, 0.5 / 9.0);
    }

    #[test]
    fn angle_term_matches_the_hand_computation() {
        // Student (triangle): u01 = (1, 0), u02 = (0, 1), u10 = (−1, 0), u12 = (−0.6, 0.8),
        //   u20 = (0, −1), u21 = (0.6, −0.8); the cosines at each vertex:
        //   angle[0,1,2] = 0, angle[1,0,2] = 0.6, angle[2,0,1] = 0.8.
        // Teacher (line 0, 1, 2): u01 = u02 = u12 = 1, u10 = u20 = u21 = −1:
        //   angle[0,1,2] = 1, angle[1,0,2] = −1, angle[2,0,1] = 1.
        // Entries [i,j,j] (j ≠ i) are 1 for both, entries with j = i or k = i are 0 for both.
        // Differences −1, 1.6, −0.2, each twice ([i,j,k] and [i,k,j]):
        //   smooth_l1 = 2 · (0.5 + 1.1 + 0.02) = 3.24 over the 27 entries → 0.12.
        let device = Device::flex();
        let loss = rkd_angle_loss(triangle(&device), line(&device)).unwrap();
        assert_close(loss, 0.12);
    }

    #[test]
    fn total_is_the_weighted_sum_and_forward_agrees() {
        let device = Device::flex();
        let loss = RkdConfig::new(2.0, 3.0).init().unwrap();
        let terms = loss
            .forward_terms(triangle(&device), line(&device))
            .unwrap();
        let want = 2.0 * 0.5 / 9.0 + 3.0 * 0.12;
        assert_close(terms.total, want);
        assert_close(
            loss.forward(triangle(&device), line(&device)).unwrap(),
            want,
        );
        let angle_only = RkdConfig::new(0.0, 1.0).init().unwrap();
        assert_close(
            angle_only
                .forward(triangle(&device), line(&device))
                .unwrap(),
            0.12,
        );
    }

    #[test]
    fn relations_ignore_scale_rotation_and_translation() {
        // The teacher is the student triangle doubled, rotated by 90° and shifted.
        let device = Device::flex();
        let teacher = matrix(vec![1.0, 1.0, 1.0, 7.0, -7.0, 1.0], [3, 2], &device);
        let terms = RkdConfig::default()
            .init()
            .unwrap()
            .forward_terms(triangle(&device), teacher)
            .unwrap();
        assert_close(terms.distance, 0.0);
        assert_close(terms.angle, 0.0);
    }

    #[test]
    fn a_single_sample_gives_a_zero_that_still_backpropagates() {
        let device = Device::flex().autodiff();
        let student = matrix(vec![1.0, 2.0], [1, 2], &device).require_grad();
        let teacher = matrix(vec![3.0, 4.0, 5.0], [1, 3], &device);
        let loss = RkdConfig::default().init().unwrap();
        let total = loss.forward(student.clone(), teacher).unwrap();
        assert_eq!(total.dims(), [1]);
        let grads = total.clone().backward();
        assert_eq!(total.into_scalar::<f32>(), 0.0);
        let grad = to_vec_f32(student.grad(&grads).expect("the student requires grad"));
        assert_eq!(grad, vec![0.0, 0.0]);
    }

    #[test]
    fn mismatched_batch_sizes_are_errors_naming_both_shapes() {
        let device = Device::flex();
        let loss = RkdConfig::default().init().unwrap();
        let student = Tensor::<2>::zeros([3, 8], &device);
        let teacher = Tensor::<2>::zeros([4, 16], &device);
        for msg in [
            loss.forward(student.clone(), teacher.clone()).unwrap_err(),
            loss.forward_terms(student, teacher).unwrap_err(),
        ]
        .map(|e| e.to_string())
        {
            assert!(msg.contains("relational KD"), "{msg}");
            assert!(msg.contains("student [3, 8]"), "{msg}");
            assert!(msg.contains("teacher [4, 16]"), "{msg}");
        }
    }

    #[test]
    fn init_checks_the_weights() {
        let bad = [
            (RkdConfig::new(-1.0, 50.0), "distance_weight"),
            (RkdConfig::new(25.0, f64::NAN), "angle_weight"),
            (RkdConfig::new(0.0, 0.0), "all loss weights are 0"),
        ];
        for (config, needle) in bad {
            let msg = config.init().unwrap_err().to_string();
            assert!(msg.contains(needle), "{config:?}: {msg}");
        }
        let config: RkdConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, RkdConfig::new(25.0, 50.0));
        assert!(serde_json::from_str::<RkdConfig>(r#"{"gamma": 1}"#).is_err());
    }
}
