//! On-policy batches (GKD): the student continues prompts from the data with its own samples,
//! and the distillation term is taken on the tokens it generated.

use burn::tensor::{Bool, Tensor, TensorData};

use crate::corpus::TokenBatch;
use crate::error::{Error, Result};
use crate::generate::{Sampling, generate};
use crate::model::LanguageModel;
use crate::train::config::OnPolicyConfig;

/// The student's continuations of the first `prompt_len` tokens of each window of `batch`, as
/// a batch whose mask keeps exactly the positions that predict a generated token.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the windows are shorter than the prompt; any error of
/// [`generate`].
pub(crate) fn on_policy_batch<M: LanguageModel>(
    student: &M,
    batch: &TokenBatch,
    p: &OnPolicyConfig,
    seed: u64,
) -> Result<TokenBatch> {
    let [b, seq] = batch.inputs.dims();
    if p.prompt_len > seq {
        return Err(Error::ShapeMismatch {
            what: "on-policy prompt",
            expected: format!("at most {seq} tokens, the windows' length"),
            got: format!("prompt_len {}", p.prompt_len),
        });
    }
    let prompts = batch.inputs.clone().narrow(1, 0, p.prompt_len);
    let sampling = Sampling::Sample {
        temperature: p.temperature,
        seed,
    };
    let sequences = generate(student, prompts, p.new_tokens, sampling)?;
    let len = p.prompt_len + p.new_tokens - 1;
    let inputs = sequences.clone().narrow(1, 0, len);
    let targets = sequences.narrow(1, 1, len);
    let keep: Vec<bool> = (0..b)
        .flat_map(|_| (0..len).map(|i| i + 1 >= p.prompt_len))
        .collect();
    let mask =
        Tensor::<2, Bool>::from_data(TensorData::new(keep, [b, len]), &batch.inputs.device());
    Ok(TokenBatch {
        inputs,
        targets,
        mask,
        windows: batch.windows.clone(),
    })
}
