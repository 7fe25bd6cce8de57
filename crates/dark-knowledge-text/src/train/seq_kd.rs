//! Sequence-level knowledge distillation (Kim & Rush 2016, "Sequence-Level Knowledge
//! Distillation"): the teacher continues prompts from the training data, and the student
//! trains on the teacher's text with plain cross-entropy, instead of (or beside) matching its
//! per-token distributions.

use burn::data::dataset::Dataset;
use burn::tensor::Device;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::corpus::TokenWindow;
use crate::error::{Error, Result};
use crate::generate::{Sampling, generate};
use crate::model::LanguageModel;
use crate::train::eval::read_windows;

/// How the teacher writes the transfer text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceKdConfig {
    /// Tokens of each training window kept as the prompt.
    pub prompt_len: usize,
    /// Greedy (Kim & Rush's beam of one) or seeded sampling.
    pub sampling: Sampling,
    /// How many training windows the teacher continues, spread evenly over the training
    /// windows (0 = all).
    #[serde(default)]
    pub windows: usize,
    /// Windows per generation batch.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_batch() -> usize {
    64
}

/// Windows of text written by a teacher: a burn `Dataset` of [`TokenWindow`]s, like the
/// windows of a corpus, for the trainer.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedWindows {
    windows: Vec<Vec<u32>>,
    sources: Vec<usize>,
}

impl GeneratedWindows {
    /// The windows' ids.
    pub fn windows(&self) -> &[Vec<u32>] {
        &self.windows
    }

    /// For each window, the index of the training window whose prompt it continues.
    pub fn sources(&self) -> &[usize] {
        &self.sources
    }
}

impl Dataset<TokenWindow> for GeneratedWindows {
    fn get(
        &self,
        index: usize,
    ) -> std::result::Result<TokenWindow, burn::data::dataset::DatasetError> {
        Ok(TokenWindow {
            index,
            ids: self.windows[index].clone(),
        })
    }

    fn len(&self) -> usize {
        self.windows.len()
    }
}

/// The teacher's continuations of the first `prompt_len` ids of `config.windows` windows of
/// `train` (evenly spaced), each as long as its window: the transfer set of sequence-level
/// KD.
/// Sampling draws with `seed + batch number`, so the set is reproducible.
///
/// # Errors
/// [`Error::InvalidValue`] for a prompt of 0 tokens or as long as the windows, a zero batch
/// size; any error of [`generate`].
pub fn teacher_transfer_set<T: LanguageModel, D: Dataset<TokenWindow>>(
    teacher: &T,
    train: &D,
    config: &SequenceKdConfig,
    device: &Device,
    progress: bool,
) -> Result<GeneratedWindows> {
    let total = train.len();
    let n = match config.windows {
        0 => total,
        w => w.min(total),
    };
    let sources: Vec<usize> = (0..n).map(|i| i * total / n.max(1)).collect();
    if config.batch_size == 0 {
        return Err(Error::invalid("sequence_kd.batch_size", 0, "at least 1"));
    }
    let teacher = teacher.valid();
    let bar = if progress {
        ProgressBar::new(n as u64)
    } else {
        ProgressBar::hidden()
    };
    let mut windows = Vec::with_capacity(n);
    for (number, chunk) in sources.chunks(config.batch_size).enumerate() {
        let batch = read_windows(train, chunk.iter().copied(), device)?;
        let [_, seq] = batch.inputs.dims();
        if config.prompt_len == 0 || config.prompt_len > seq {
            return Err(Error::invalid(
                "sequence_kd.prompt_len",
                config.prompt_len,
                format!("1 to {seq}, shorter than the windows"),
            ));
        }
        let sampling = match config.sampling {
            Sampling::Greedy => Sampling::Greedy,
            Sampling::Sample { temperature, seed } => Sampling::Sample {
                temperature,
                seed: seed.wrapping_add(number as u64),
            },
        };
        let prompts = batch.inputs.narrow(1, 0, config.prompt_len);
        let out = generate(&teacher, prompts, seq + 1 - config.prompt_len, sampling)?;
        let [b, len] = out.dims();
        let ids: Vec<u32> = out.into_data().iter::<i64>().map(|id| id as u32).collect();
        windows.extend(ids.chunks(len).take(b).map(<[u32]>::to_vec));
        bar.inc(b as u64);
    }
    bar.finish_and_clear();
    Ok(GeneratedWindows { windows, sources })
}
