//! A lean inference path for small MLP students on the CPU: the weights copied once into
//! host memory, and each row computed with plain dot products — no tensor allocation, no
//! dispatch, no thread pool. For one row of a 784-64-10 student this is a few microseconds,
//! where a framework call costs more in overhead than in arithmetic.

use burn::tensor::Tensor;

use crate::Mlp;

#[derive(Debug, Clone)]
struct Layer {
    /// `[d_out][d_in]`, row-major: one contiguous row of weights per output unit.
    weights: Vec<f32>,
    bias: Vec<f32>,
    d_in: usize,
    d_out: usize,
}

/// An [`Mlp`]'s weights in host memory, for single-row inference (see the module docs).
///
/// Results equal the burn model's within float rounding (the sums are taken in another
/// order); use one path or the other for results that must be identical.
#[derive(Debug, Clone)]
pub struct HostMlp {
    layers: Vec<Layer>,
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float weights convert to f32")
}

/// Accumulator lanes of [`dot`]: four AVX2 registers (two AVX-512), so four independent
/// chains of fused multiply-adds hide their latency.
const LANES: usize = 32;

/// `Σ_i a_i b_i` over equal-length slices, in [`LANES`] independent lanes so the compiler
/// uses SIMD registers; compiled for AVX-512, AVX2+FMA, NEON and the baseline, picked at
/// run time.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512vl",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let whole = a.len() - a.len() % LANES;
    let (a_main, a_rest) = a.split_at(whole);
    let (b_main, b_rest) = b.split_at(whole);
    for (x, y) in a_main.chunks_exact(LANES).zip(b_main.chunks_exact(LANES)) {
        for k in 0..LANES {
            lanes[k] = x[k].mul_add(y[k], lanes[k]);
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

impl HostMlp {
    /// Copies the weights of `mlp` (float weights; an int8 model is dequantized).
    pub fn from_mlp(mlp: &Mlp) -> Self {
        let layers = mlp
            .linears()
            .map(|linear| {
                let w = linear.weight.val().dequantize();
                let [d_in, d_out] = w.dims();
                let weights = host(w.transpose());
                let bias = linear
                    .bias
                    .as_ref()
                    .map(|b| host(b.val().dequantize().reshape([1, d_out])))
                    .unwrap_or_else(|| vec![0.0; d_out]);
                Layer {
                    weights,
                    bias,
                    d_in,
                    d_out,
                }
            })
            .collect();
        Self { layers }
    }

    /// Input features per row.
    pub fn num_features(&self) -> usize {
        self.layers.first().map_or(0, |l| l.d_in)
    }

    /// Output classes.
    pub fn num_classes(&self) -> usize {
        self.layers.last().map_or(0, |l| l.d_out)
    }

    /// The logits of one row into `out` (resized to the class count), using `scratch` for
    /// the hidden activations so repeated calls allocate nothing.
    ///
    /// # Panics
    /// When `x.len() != num_features()` (callers check the row first).
    pub fn logits_into(&self, x: &[f32], out: &mut Vec<f32>, scratch: &mut Vec<f32>) {
        assert_eq!(x.len(), self.num_features(), "row length");
        let mut input: Vec<f32> = std::mem::take(scratch);
        input.clear();
        input.extend_from_slice(x);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            out.clear();
            out.extend(
                layer
                    .weights
                    .chunks_exact(layer.d_in)
                    .zip(&layer.bias)
                    .map(|(w, b)| {
                        let v = dot(w, &input) + b;
                        if i < last { v.max(0.0) } else { v }
                    }),
            );
            if i < last {
                std::mem::swap(&mut input, out);
            }
        }
        *scratch = input;
    }

    /// The logits of one row.
    ///
    /// # Panics
    /// When `x.len() != num_features()`.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        self.logits_into(x, &mut out, &mut scratch);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MlpConfig;
    use burn::tensor::{Device, Distribution};
    use dark_knowledge_core::Classifier;
    use dark_knowledge_core::tensor_util::to_vec_f32;

    #[test]
    fn host_path_matches_the_burn_model() {
        let device = Device::flex();
        device.seed(4);
        for hidden in [vec![], vec![13], vec![64, 9]] {
            let mlp = MlpConfig::new(37, hidden.clone(), 5).init(&device);
            let fast = HostMlp::from_mlp(&mlp);
            assert_eq!((fast.num_features(), fast.num_classes()), (37, 5));
            let x = Tensor::<2>::random([6, 37], Distribution::Normal(0.0, 2.0), &device);
            let want = to_vec_f32(mlp.logits(x.clone()));
            let rows = to_vec_f32(x);
            let (mut out, mut scratch) = (Vec::new(), Vec::new());
            for r in 0..6 {
                fast.logits_into(&rows[r * 37..(r + 1) * 37], &mut out, &mut scratch);
                for (a, b) in out.iter().zip(&want[r * 5..(r + 1) * 5]) {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{hidden:?}: {a} vs {b}"
                    );
                }
            }
        }
    }
}
