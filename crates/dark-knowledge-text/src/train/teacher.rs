//! Where the teacher's per-token distributions come from: a frozen network run on each batch,
//! or a top-k cache written once.

use burn::tensor::{Int, Tensor};

use crate::cache::{TokenLogitCache, TokenTopK};
use crate::corpus::TokenBatch;
use crate::error::{Error, Result};
use crate::model::LanguageModel;

/// The teacher of a language-model distillation run.
pub enum TokenTeacher<'a, T> {
    /// A network, run on every batch (off autodiff: it is never trained).
    Network(&'a T),
    /// The teacher's top-k logits per token, looked up by window index (the windows the cache
    /// was built from must be the training windows, in the same order).
    Cache(&'a TokenLogitCache),
}

impl<T> Clone for TokenTeacher<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for TokenTeacher<'_, T> {}

/// What the teacher gives for one batch, on the batch's (plain) device. (One per batch,
/// never stored in bulk: the size difference of the variants does not matter.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum TeacherSignal {
    /// Full logits `[batch, seq, vocab]`.
    Full(Tensor<3>),
    /// The top-k of a cache with `k < vocab`.
    TopK(TokenTopK),
}

impl<T: LanguageModel> TokenTeacher<'_, T> {
    /// The vocabulary size of the teacher's distributions.
    pub fn vocab_size(&self) -> usize {
        match self {
            Self::Network(t) => t.vocab_size(),
            Self::Cache(c) => c.meta().vocab_size,
        }
    }

    /// Whether the teacher can score text it was not cached on (on-policy batches, hidden
    /// states).
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Network(_))
    }

    /// The teacher's signal for `batch` and, when `hidden`, its last hidden state.
    pub(crate) fn signal(
        &self,
        batch: &TokenBatch,
        hidden: bool,
    ) -> Result<(TeacherSignal, Option<Tensor<3>>)> {
        match self {
            Self::Network(t) => {
                let ids = batch.inputs.clone();
                if hidden {
                    let (logits, states) = t.token_features(ids);
                    Ok((TeacherSignal::Full(logits.detach()), Some(states.detach())))
                } else {
                    Ok((TeacherSignal::Full(t.token_logits(ids).detach()), None))
                }
            }
            Self::Cache(cache) => {
                let meta = cache.meta();
                let [_, seq] = batch.inputs.dims();
                if seq != meta.seq_len {
                    return Err(Error::ShapeMismatch {
                        what: "teacher cache windows",
                        expected: format!("{} tokens per window, as the training windows", seq),
                        got: format!("a cache of {}-token windows", meta.seq_len),
                    });
                }
                let (top, _) = cache.get(&batch.windows, &batch.inputs.device())?;
                if top.k() >= meta.vocab_size {
                    Ok((
                        TeacherSignal::Full(top.to_full_logits(meta.vocab_size)),
                        None,
                    ))
                } else {
                    Ok((TeacherSignal::TopK(top), None))
                }
            }
        }
    }
}

/// The rows `[tokens, k]` of a `[batch, seq, k]` float tensor at the kept tokens.
pub(crate) fn kept_rows(t: Tensor<3>, index: Tensor<1, Int>) -> Tensor<2> {
    let [b, s, k] = t.dims();
    t.reshape([b * s, k]).select(0, index)
}

/// The rows `[tokens, k]` of a `[batch, seq, k]` int tensor at the kept tokens.
pub(crate) fn kept_int_rows(t: Tensor<3, Int>, index: Tensor<1, Int>) -> Tensor<2, Int> {
    let [b, s, k] = t.dims();
    t.reshape([b * s, k]).select(0, index)
}
