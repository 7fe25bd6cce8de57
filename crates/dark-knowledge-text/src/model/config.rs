//! The settings of a [`CausalLm`](super::CausalLm).

use burn::config::Config;

use crate::error::Error;

/// Settings of a [`CausalLm`](super::CausalLm): a decoder-only (GPT-style) transformer with
/// learned token and position embeddings, `n_layers` pre-norm blocks of causal
/// self-attention and a ReLU feed-forward network, a final layer norm and a linear head.
///
/// Saved as JSON beside the weights ([`CausalLm::save`](super::CausalLm::save)).
#[derive(Config, Debug, PartialEq)]
pub struct CausalLmConfig {
    /// The number of token ids (the model's input range and its logits per position).
    pub vocab_size: usize,
    /// The longest context the model reads (the rows of the position embedding).
    #[config(default = 128)]
    pub max_seq_len: usize,
    /// The width of the embeddings and of every block (the hidden size).
    #[config(default = 64)]
    pub d_model: usize,
    /// Attention heads per block; must divide `d_model`.
    #[config(default = 4)]
    pub n_heads: usize,
    /// The number of transformer blocks.
    #[config(default = 2)]
    pub n_layers: usize,
    /// The inner width of each block's feed-forward network.
    #[config(default = 256)]
    pub d_ff: usize,
    /// Dropout probability (embeddings, attention weights, residual branches), in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl CausalLmConfig {
    /// The study's teacher: `d_model` 128, 2 layers of 4 heads, feed-forward 512, context
    /// 128, no dropout (about 0.4 M parameters plus `256 · vocab_size` in the embedding and
    /// head); a training step at batch 32 × seq 64 took ~200 ms on a loaded 2-core CPU.
    pub fn teacher(vocab_size: usize) -> Self {
        Self::new(vocab_size)
            .with_d_model(128)
            .with_n_layers(2)
            .with_n_heads(4)
            .with_d_ff(512)
    }

    /// The study's student: `d_model` 48, 2 layers of 4 heads, feed-forward 192, context
    /// 128, no dropout (about 56 k parameters plus `96 · vocab_size`); ~45 ms per step at
    /// batch 32 × seq 64 on a loaded 2-core CPU.
    pub fn student(vocab_size: usize) -> Self {
        Self::new(vocab_size)
            .with_d_model(48)
            .with_n_layers(2)
            .with_n_heads(4)
            .with_d_ff(192)
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the setting for a zero size, a `d_model` that
    /// `n_heads` does not divide, a dropout outside `[0, 1)`, or a model whose parameter
    /// count does not fit in memory's address range.
    pub fn validate(&self) -> crate::Result<()> {
        for (name, value) in [
            ("vocab_size", self.vocab_size),
            ("max_seq_len", self.max_seq_len),
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("n_layers", self.n_layers),
            ("d_ff", self.d_ff),
        ] {
            if value == 0 {
                return Err(Error::invalid(name, 0, "an integer >= 1"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(Error::invalid(
                "n_heads",
                self.n_heads,
                format!("a divisor of d_model ({})", self.d_model),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(
                "dropout",
                self.dropout,
                "a number in [0, 1)",
            ));
        }
        if self.num_params().is_none() {
            return Err(Error::invalid(
                "model size",
                format!("{self:?}"),
                "a parameter count that fits in usize",
            ));
        }
        Ok(())
    }

    /// The number of parameters a model of these settings has, or `None` on overflow.
    pub fn num_params(&self) -> Option<usize> {
        let (v, l, d, f) = (self.vocab_size, self.max_seq_len, self.d_model, self.d_ff);
        let attention = d.checked_mul(d)?.checked_mul(4)?.checked_add(4 * d)?;
        let feed_forward = d.checked_mul(f)?.checked_mul(2)?.checked_add(f + d)?;
        let norms = 4 * d;
        let block = attention.checked_add(feed_forward)?.checked_add(norms)?;
        let embeddings = v.checked_add(l)?.checked_mul(d)?;
        let head = d.checked_mul(v)?.checked_add(v)?;
        block
            .checked_mul(self.n_layers)?
            .checked_add(embeddings)?
            .checked_add(head)?
            .checked_add(2 * d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_settings_name_what_is_wrong() {
        let ok = CausalLmConfig::new(10);
        ok.validate().unwrap();
        CausalLmConfig::teacher(100).validate().unwrap();
        CausalLmConfig::student(100).validate().unwrap();
        let cases = [
            (CausalLmConfig::new(0), "vocab_size"),
            (ok.clone().with_max_seq_len(0), "max_seq_len"),
            (ok.clone().with_d_model(0), "d_model"),
            (ok.clone().with_n_heads(0), "n_heads"),
            (ok.clone().with_n_layers(0), "n_layers"),
            (ok.clone().with_d_ff(0), "d_ff"),
            (
                ok.clone().with_d_model(30).with_n_heads(4),
                "divisor of d_model",
            ),
            (ok.clone().with_dropout(1.0), "dropout"),
            (ok.clone().with_dropout(-0.1), "dropout"),
            (ok.clone().with_dropout(f64::NAN), "dropout"),
            (CausalLmConfig::new(usize::MAX / 2), "model size"),
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }
}
