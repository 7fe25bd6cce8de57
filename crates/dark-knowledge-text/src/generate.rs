//! Continuing prompts with a language model: greedy or seeded sampled decoding.

use burn::tensor::{Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::LanguageModel;

/// How [`generate`] picks each next id from the last position's logits `z`.
///
/// As JSON: `{"kind": "greedy"}` or `{"kind": "sample", "temperature": 0.8, "seed": 1}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    deny_unknown_fields,
    from = "SamplingRepr"
)]
pub enum Sampling {
    /// The most likely id (the first one on a tie): deterministic.
    Greedy,
    /// A draw from `softmax(z / temperature)`, with a host random generator seeded by
    /// `seed`: the same seed gives the same continuation.
    Sample {
        /// Divides the logits before the softmax: below 1 sharpens, above 1 flattens;
        /// must be > 0.
        temperature: f64,
        /// Seeds the draws.
        seed: u64,
    },
}

/// What [`Sampling`] deserializes through: serde's `deny_unknown_fields` ignores extra keys
/// beside the tag of a unit variant, and does not of an empty struct variant.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum SamplingRepr {
    Greedy {},
    Sample { temperature: f64, seed: u64 },
}

impl From<SamplingRepr> for Sampling {
    fn from(repr: SamplingRepr) -> Self {
        match repr {
            SamplingRepr::Greedy {} => Self::Greedy,
            SamplingRepr::Sample { temperature, seed } => Self::Sample { temperature, seed },
        }
    }
}

/// Continues each prompt by `new_tokens` ids, one at a time.
///
/// The model runs as its [`valid`](burn::module::Module::valid) snapshot on the prompts' device without
/// autodiff: no graph is recorded and dropout is off. At each step it reads the last
/// `max_seq_len()` ids of each row (longer contexts are cropped from the left) and the next
/// id is picked from the last position's logits as `sampling` says. Rows are continued
/// together; with [`Sampling::Sample`] one generator draws for every row in turn.
///
/// # Shapes
/// - `prompts`: `[batch_size, prompt_len]` ids below the model's `vocab_size()`
/// - output: `[batch_size, prompt_len + new_tokens]`, the prompts followed by their
///   continuations, on the prompts' device
///
/// # Errors
/// [`Error::InvalidValue`] for an empty prompt or batch, an id outside the vocabulary, a
/// temperature that is not a finite number > 0, or a model producing NaN or infinite
/// logits.
pub fn generate<M: LanguageModel>(
    model: &M,
    prompts: Tensor<2, Int>,
    new_tokens: usize,
    sampling: Sampling,
) -> Result<Tensor<2, Int>> {
    let [batch, prompt_len] = prompts.dims();
    if batch == 0 || prompt_len == 0 {
        return Err(Error::invalid(
            "prompts",
            format!("[{batch}, {prompt_len}]"),
            "at least one row of at least one id",
        ));
    }
    let mut rng = match sampling {
        Sampling::Greedy => None,
        Sampling::Sample { temperature, seed } => {
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err(Error::invalid(
                    "temperature",
                    temperature,
                    "a finite number > 0",
                ));
            }
            Some((temperature, StdRng::seed_from_u64(seed)))
        }
    };
    let out_device = prompts.device();
    let prompts = prompts.without_autodiff();
    let device = prompts.device();
    let vocab = model.vocab_size();
    let mut rows = read_prompts(prompts, vocab)?;
    let model = model.valid();
    let context = model.max_seq_len().max(1);
    for _ in 0..new_tokens {
        let len = rows[0].len();
        let start = len.saturating_sub(context);
        let ctx: Vec<i64> = rows
            .iter()
            .flat_map(|r| r[start..].iter().map(|&id| i64::from(id)))
            .collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ctx, [batch, len - start]), &device);
        let logits = model.token_logits(ids);
        let [_, seq, width] = logits.dims();
        let last: Vec<f32> = logits
            .narrow(1, seq - 1, 1)
            .into_data()
            .iter::<f32>()
            .collect();
        for (row, z) in rows.iter_mut().zip(last.chunks_exact(width)) {
            if let Some(bad) = z.iter().find(|v| !v.is_finite()) {
                return Err(Error::invalid("model logits", bad, "finite numbers"));
            }
            let next = match &mut rng {
                None => argmax(z),
                Some((temperature, rng)) => sample(z, *temperature, rng),
            };
            row.push(next as u32);
        }
    }
    let total = prompt_len + new_tokens;
    let flat: Vec<i64> = rows.into_iter().flatten().map(i64::from).collect();
    Ok(Tensor::from_data(
        TensorData::new(flat, [batch, total]),
        &out_device,
    ))
}

/// The prompts' rows as host ids, each checked against the vocabulary.
fn read_prompts(prompts: Tensor<2, Int>, vocab: usize) -> Result<Vec<Vec<u32>>> {
    let [_, len] = prompts.dims();
    let ids: Vec<i64> = prompts.into_data().iter::<i64>().collect();
    if let Some(&bad) = ids.iter().find(|&&id| id < 0 || id as u64 >= vocab as u64) {
        return Err(Error::invalid(
            "prompt id",
            bad,
            format!("ids in 0..{vocab}, the model's vocabulary"),
        ));
    }
    Ok(ids
        .chunks_exact(len)
        .map(|r| r.iter().map(|&id| id as u32).collect())
        .collect())
}

/// The index of the largest value, the first one on a tie.
fn argmax(z: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in z.iter().enumerate() {
        if v > z[best] {
            best = i;
        }
    }
    best
}

/// A draw from `softmax(z / temperature)` (in f64).
fn sample(z: &[f32], temperature: f64, rng: &mut StdRng) -> usize {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = z
        .iter()
        .map(|&v| ((f64::from(v) - f64::from(max)) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    // Rounding left `u` past the last weight: the last id with any mass.
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.0, 2.0, 2.0, -1.0]), 1);
        assert_eq!(argmax(&[5.0]), 0);
    }

    #[test]
    fn samples_follow_the_tempered_softmax() {
        let z = [0.0f32, (3.0f32).ln(), f32::NEG_INFINITY];
        let mut rng = StdRng::seed_from_u64(3);
        let n = 20_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[sample(&z, 1.0, &mut rng)] += 1;
        }
        assert_eq!(counts[2], 0, "an id of zero probability is never drawn");
        let p1 = counts[1] as f64 / n as f64;
        assert!((p1 - 0.75).abs() < 0.015, "p(1) = {p1}, expected 3/4");
        // Temperature 2 gives weights 1 : √3.
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[sample(&z, 2.0, &mut rng)] += 1;
        }
        let expected = 3f64.sqrt() / (1.0 + 3f64.sqrt());
        let p1 = counts[1] as f64 / n as f64;
        assert!(
            (p1 - expected).abs() < 0.015,
            "p(1) = {p1}, expected {expected}"
        );
    }

    #[test]
    fn sampling_serializes_with_a_kind_tag() {
        let s = Sampling::Sample {
            temperature: 0.5,
            seed: 9,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"kind":"sample","temperature":0.5,"seed":9}"#);
        assert_eq!(serde_json::from_str::<Sampling>(&json).unwrap(), s);
        let greedy: Sampling = serde_json::from_str(r#"{"kind":"greedy"}"#).unwrap();
        assert_eq!(greedy, Sampling::Greedy);
        assert!(serde_json::from_str::<Sampling>(r#"{"kind":"greedy","x":1}"#).is_err());
        assert!(serde_json::from_str::<Sampling>(r#"{"kind":"sample","seed":1}"#).is_err());
    }
}
