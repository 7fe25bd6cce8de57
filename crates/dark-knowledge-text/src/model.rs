//! Causal language models: what the trainer needs of one ([`LanguageModel`]), and a small
//! reference transformer ([`CausalLmConfig`] + `init` → [`CausalLm`]).

mod causal;
mod config;
mod persist;

pub use causal::CausalLm;
pub use config::CausalLmConfig;

use burn::module::{Module, ModuleDisplay};
use burn::tensor::{Int, Tensor};

/// A burn [`Module`] that predicts the next token at every position: every student and
/// every teacher language model. Implement it to distil your own model.
///
/// The trainer moves the module as any burn module (`fork`, `train`, `valid`, optimizer
/// steps) and only ever reads the logits and hidden states below.
///
/// Callers keep `seq ≤ max_seq_len()`; a model may panic on longer rows (the reference
/// [`CausalLm`] does, having no position embedding for them), and
/// [`generate`](crate::generate::generate) crops its context to fit.
pub trait LanguageModel: Module + ModuleDisplay {
    /// Next-token logits (unnormalised log-probabilities): position `i` predicts id `i + 1`
    /// and sees ids `0..=i` only.
    ///
    /// # Shapes
    /// - `ids`: `[batch_size, seq]`
    /// - output: `[batch_size, seq, vocab_size]`
    fn token_logits(&self, ids: Tensor<2, Int>) -> Tensor<3>;

    /// The logits and the last hidden state of one forward pass (for hidden-state
    /// distillation).
    ///
    /// # Shapes
    /// - `ids`: `[batch_size, seq]`
    /// - output: `([batch_size, seq, vocab_size], [batch_size, seq, hidden_size])`
    fn token_features(&self, ids: Tensor<2, Int>) -> (Tensor<3>, Tensor<3>);

    /// The number of token ids the model reads and predicts.
    fn vocab_size(&self) -> usize;

    /// The width of the hidden state of [`token_features`](Self::token_features).
    fn hidden_size(&self) -> usize;

    /// The longest row the model reads.
    fn max_seq_len(&self) -> usize;
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution};
    use dark_knowledge_core::tensor_util::to_vec_f32;

    use super::*;

    fn random_ids(batch: usize, seq: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
        Tensor::<2>::random(
            [batch, seq],
            Distribution::Uniform(0.0, vocab as f64),
            device,
        )
        .int()
        .clamp(0, vocab as i64 - 1)
    }

    #[test]
    fn shapes_and_parameter_count() {
        let device = Device::flex();
        for config in [
            CausalLmConfig::new(11).with_max_seq_len(16),
            CausalLmConfig::student(30),
            CausalLmConfig::teacher(7).with_n_layers(1),
        ] {
            let model = config.init(&device);
            assert_eq!(
                model.num_params(),
                config.num_params().unwrap(),
                "{config:?}"
            );
            let ids = random_ids(3, 9, config.vocab_size, &device);
            let (logits, hidden) = model.token_features(ids.clone());
            assert_eq!(logits.dims(), [3, 9, config.vocab_size]);
            assert_eq!(hidden.dims(), [3, 9, config.d_model]);
            assert_eq!(model.token_logits(ids).dims(), [3, 9, config.vocab_size]);
            assert_eq!(model.vocab_size(), config.vocab_size);
            assert_eq!(model.hidden_size(), config.d_model);
            assert_eq!(model.max_seq_len(), config.max_seq_len);
            assert_eq!(model.config(), config);
        }
    }

    #[test]
    fn position_i_sees_only_ids_up_to_i() {
        let device = Device::flex();
        device.seed(5);
        let model = CausalLmConfig::new(13)
            .with_max_seq_len(12)
            .with_n_layers(3)
            .init(&device);
        let (batch, seq, vocab) = (2, 12, 13);
        let ids = random_ids(batch, seq, vocab, &device);
        let base = model.token_logits(ids.clone());
        for i in 0..seq - 1 {
            // Replace every id after position i by a different one (shifted by 1..vocab-1).
            let shift = random_ids(batch, seq - i - 1, vocab - 1, &device) + 1;
            let tail =
                (ids.clone().narrow(1, i + 1, seq - i - 1) + shift).remainder_scalar(vocab as i64);
            let changed = Tensor::cat(vec![ids.clone().narrow(1, 0, i + 1), tail], 1);
            let logits = model.token_logits(changed);
            let before = to_vec_f32(base.clone().narrow(1, 0, i + 1));
            let after = to_vec_f32(logits.clone().narrow(1, 0, i + 1));
            let worst = before
                .iter()
                .zip(&after)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst <= 1e-5, "position ≤ {i} moved by {worst}");
            // The next position does see the change.
            let next_before = to_vec_f32(base.clone().narrow(1, i + 1, 1));
            let next_after = to_vec_f32(logits.narrow(1, i + 1, 1));
            assert_ne!(
                next_before,
                next_after,
                "position {} must see id {}",
                i + 1,
                i + 1
            );
        }
    }

    #[test]
    fn a_prefix_gives_the_same_logits_as_the_full_row() {
        let device = Device::flex();
        let model = CausalLmConfig::new(9).with_max_seq_len(10).init(&device);
        let ids = random_ids(2, 10, 9, &device);
        let full = to_vec_f32(model.token_logits(ids.clone()).narrow(1, 0, 4));
        let prefix = to_vec_f32(model.token_logits(ids.narrow(1, 0, 4)));
        for (a, b) in full.iter().zip(&prefix) {
            assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    #[should_panic(expected = "max_seq_len")]
    fn rows_longer_than_the_context_panic_with_a_clear_message() {
        let device = Device::flex();
        let model = CausalLmConfig::new(5).with_max_seq_len(4).init(&device);
        let _ = model.token_logits(Tensor::zeros([1, 5], &device));
    }

    #[test]
    fn init_refuses_invalid_settings() {
        let device = Device::flex();
        let err = CausalLmConfig::new(10)
            .with_d_model(10)
            .with_n_heads(3)
            .try_init(&device)
            .unwrap_err();
        assert!(err.to_string().contains("n_heads"), "{err}");
        let panicked = std::panic::catch_unwind(|| {
            CausalLmConfig::new(0).init(&Device::flex());
        });
        assert!(panicked.is_err());
    }
}
