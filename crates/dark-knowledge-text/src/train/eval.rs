//! Held-out bits per token: the mean next-token cross-entropy in bits, over every target of
//! the windows (with a character tokenizer, bits per character).

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Device, Tensor};
use dark_knowledge_core::loss::{
    cross_entropy_no_reduction, flatten_token_targets, flatten_tokens,
};

use crate::corpus::{TokenBatch, TokenBatcher, TokenWindow};
use crate::error::{Error, Result};
use crate::model::LanguageModel;

/// The mean cross-entropy of `model`'s next-token predictions over `windows`, in bits per
/// token (`nats / ln 2`), on the first `max_windows` windows (0 = all), `batch_size` at a
/// time. The model runs off autodiff; the sum stays on the device and is read once.
///
/// # Errors
/// [`Error::InvalidValue`] for a zero batch size or no windows; [`Error::Dataset`] when a
/// window cannot be read.
pub fn bits_per_token<M: LanguageModel, D: Dataset<TokenWindow>>(
    model: &M,
    windows: &D,
    batch_size: usize,
    max_windows: usize,
    device: &Device,
) -> Result<f64> {
    if batch_size == 0 {
        return Err(Error::invalid("batch_size", 0, "at least 1"));
    }
    let n = if max_windows == 0 {
        windows.len()
    } else {
        max_windows.min(windows.len())
    };
    if n == 0 {
        return Err(Error::invalid(
            "evaluation windows",
            0,
            "at least one window of held-out text",
        ));
    }
    let model = model.valid();
    let mut sum: Option<Tensor<1>> = None;
    let mut tokens = 0usize;
    for start in (0..n).step_by(batch_size) {
        let batch = read_windows(windows, start..(start + batch_size).min(n), device)?;
        tokens += batch.num_tokens();
        let part = batch_cross_entropy(&model, batch)?.sum();
        sum = Some(match sum {
            Some(s) => s + part,
            None => part,
        });
    }
    let nats: f64 = sum
        .map(dark_knowledge_core::tensor_util::scalar_f64)
        .unwrap_or_default();
    Ok(nats / tokens.max(1) as f64 / std::f64::consts::LN_2)
}

/// The per-token cross-entropy `[tokens]` of the kept positions of `batch`.
pub(crate) fn batch_cross_entropy<M: LanguageModel>(
    model: &M,
    batch: TokenBatch,
) -> Result<Tensor<1>> {
    let logits = model.token_logits(batch.inputs);
    let rows = flatten_tokens(logits, &batch.mask)?;
    let targets = flatten_token_targets(batch.targets, &batch.mask)?;
    Ok(cross_entropy_no_reduction(rows, targets))
}

/// The windows at `indices` as one batch on `device`.
pub(crate) fn read_windows<D: Dataset<TokenWindow>>(
    windows: &D,
    indices: impl IntoIterator<Item = usize>,
    device: &Device,
) -> Result<TokenBatch> {
    let items = indices
        .into_iter()
        .map(|i| windows.get(i).map_err(|e| Error::Dataset(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    Ok(TokenBatcher.batch(items, device))
}
