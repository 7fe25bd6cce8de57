//! Tests of the token-level losses against f64 references written here.

mod config;
mod hidden;
mod masking;
mod properties;
mod reference;
mod top_k;
mod values;

use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge_core::tensor_util::to_vec_f32;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{TokenDivergence, TokenKdConfig, TokenKdLoss};

/// Every divergence with the parameters the tests sweep.
pub fn all_divergences() -> Vec<TokenDivergence> {
    use TokenDivergence as D;
    let mut all = vec![D::ForwardKl, D::ReverseKl];
    all.extend([0.0, 0.1, 0.5, 0.9, 1.0].map(|beta| D::Jsd { beta }));
    all.extend([0.0, 0.1, 0.5].map(|lambda| D::SkewKl { lambda }));
    all.extend([0.0, 0.1, 0.5].map(|lambda| D::SkewReverseKl { lambda }));
    all.push(D::TotalVariation);
    all
}

pub fn loss(divergence: TokenDivergence, t: f64) -> TokenKdLoss {
    TokenKdConfig::new(divergence)
        .with_temperature(t)
        .init()
        .unwrap()
}

pub fn matrix<const D: usize>(values: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

/// Rows of logits: student and teacher, `[n, v]` row-major.
#[derive(Debug, Clone)]
pub struct Case {
    pub n: usize,
    pub v: usize,
    pub zs: Vec<f32>,
    pub zt: Vec<f32>,
}

impl Case {
    pub fn row(values: &[f32], v: usize, i: usize) -> Vec<f64> {
        values[i * v..(i + 1) * v]
            .iter()
            .map(|&x| f64::from(x))
            .collect()
    }

    /// A random case; `seed % 4` picks independent rows, nearly equal rows, confident rows
    /// (one class ahead by 10..40) or rows offset by ±40.
    pub fn random(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = 1 + rng.random_range(0..5);
        let v = 2 + rng.random_range(0..40);
        let scale: f32 = rng.random_range(1.0..30.0);
        let uniform = |rng: &mut StdRng, s: f32| -> Vec<f32> {
            (0..n * v)
                .map(|_| rng.random_range(-1.0f32..1.0) * s)
                .collect()
        };
        let zt = uniform(&mut rng, scale);
        let (zs, zt) = match seed % 4 {
            0 => (uniform(&mut rng, scale), zt),
            1 => {
                let noise = [1e-3f32, 1e-2, 0.1, 1.0][rng.random_range(0..4)];
                let zs = zt
                    .iter()
                    .map(|z| z + rng.random_range(-1.0f32..1.0) * noise)
                    .collect();
                (zs, zt)
            }
            2 => {
                let mut zt = uniform(&mut rng, 3.0);
                let mut zs = zt.clone();
                for i in 0..n {
                    let top = i * v + rng.random_range(0..v);
                    let gap: f32 = rng.random_range(10.0..40.0);
                    zt[top] += gap;
                    zs[top] += gap + rng.random_range(-2.0f32..2.0);
                    for z in &mut zs[i * v..(i + 1) * v] {
                        *z += rng.random_range(-0.5f32..0.5);
                    }
                }
                (zs, zt)
            }
            _ => {
                let shift = |rng: &mut StdRng| {
                    if rng.random_range(0..2) == 0 {
                        40.0f32
                    } else {
                        -40.0
                    }
                };
                let (a, b) = (shift(&mut rng), shift(&mut rng));
                let zs = uniform(&mut rng, scale.min(10.0))
                    .iter()
                    .map(|z| z + a)
                    .collect();
                let zt = zt.iter().map(|z| z.clamp(-10.0, 10.0) + b).collect();
                (zs, zt)
            }
        };
        Self { n, v, zs, zt }
    }

    /// The float32 values `[n]` and the gradient `[n, v]` of their sum w.r.t. the student.
    pub fn run(&self, loss: &TokenKdLoss) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let s = matrix(&self.zs, [self.n, self.v], &device).require_grad();
        let t = matrix(&self.zt, [self.n, self.v], &device);
        let values = loss.forward_rows(s.clone(), t);
        let got = to_vec_f32(values.clone());
        let grads = values.sum().backward();
        (
            got,
            to_vec_f32(s.grad(&grads).expect("the student requires grad")),
        )
    }
}
