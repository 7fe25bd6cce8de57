//! Checkpoints of a training run and exact resume.
//!
//! A checkpoint holds everything the rest of the run depends on: each student (with its
//! hint projections), its optimizer state, its best model so far, its history, the partial
//! sums of the epoch in progress, and the run's position (epoch, batches done, global step).
//! The learning-rate and loss-term schedules are functions of that position; the shuffle is
//! replayed from the seed; augmentations derive their seeds from the epoch and batch; the
//! device's generator (dropout) is reseeded from the seed and the global step before every
//! step. A resumed run therefore ends with the same weights, bit for bit, as one that was
//! never interrupted (same seed, same device).

mod file;
mod optim_check;
mod resume;
mod state;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use dark_knowledge_core::Error as CoreError;

/// The temporary-file cleanup of every writer (`.{name}.tmp-{pid}-{random}` of dead processes).
pub use dark_knowledge_core::io::remove_stale_temp_files;
pub(crate) use file::clear;
pub(crate) use state::{Fingerprint, Header, Position, Restored, StudentState, load, save};

/// Where and how often the trainer writes checkpoints.
///
/// A checkpoint is written after every epoch and, with `every_steps`, also every that many
/// optimizer steps. Each is written atomically (temporary file + rename), so a crash never
/// leaves a half checkpoint and never damages an earlier one; the newest `keep` are kept.
///
/// ```
/// use burn::tensor::Device;
/// use dark_knowledge_core::tensor_util::parameters_to_vec;
/// use dark_knowledge_data::GaussianMixtureConfig;
/// use dark_knowledge_models::MlpConfig;
/// use dark_knowledge_train::{CheckpointConfig, Progress, Trainer, TrainerConfig};
///
/// let device = Device::flex();
/// let data = GaussianMixtureConfig { num_samples: 120, num_features: 4, num_classes: 2,
///     clusters_per_class: 1, cluster_std: 1.0, seed: 1 }.dataset(&device)?;
/// let dir = std::env::temp_dir().join(format!("dk-doc-ckpt-{}", std::process::id()));
/// let config = TrainerConfig { epochs: 2, batch_size: 16, ..TrainerConfig::default() };
/// let trainer = Trainer::new(config)?
///     .with_progress(Progress::Silent)
///     .with_checkpoints(CheckpointConfig::new(&dir).with_every_steps(5));
/// let model = || MlpConfig::new(4, vec![8], 2).init(&device);
/// let out = trainer.fit(model(), &data, &data, None)?;
/// // After a crash this goes on from the newest checkpoint; here the run is finished, so it
/// // trains nothing and returns the same model.
/// let again = trainer.resuming().fit(model(), &data, &data, None)?;
/// assert_eq!(parameters_to_vec(&again.last), parameters_to_vec(&out.last));
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// The directory of the checkpoint files (`checkpoint-{step}.dkc`), created if absent.
    pub dir: PathBuf,
    /// Also write a checkpoint every this many steps (`>= 1`) within epochs.
    #[serde(default)]
    pub every_steps: Option<usize>,
    /// How many of the newest checkpoints to keep, `>= 1`.
    #[serde(default = "keep")]
    pub keep: usize,
    /// A description of the experiment beyond the trainer settings and the data's shape
    /// (e.g. the data file's name and size): a checkpoint with another tag is refused.
    #[serde(default)]
    pub tag: String,
}

fn keep() -> usize {
    2
}

impl CheckpointConfig {
    /// Checkpoints in `dir` after every epoch, keeping the newest two.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            every_steps: None,
            keep: keep(),
            tag: String::new(),
        }
    }

    /// Also a checkpoint every `steps` steps.
    pub fn with_every_steps(mut self, steps: usize) -> Self {
        self.every_steps = Some(steps);
        self
    }

    /// Keep the newest `keep` checkpoints.
    pub fn with_keep(mut self, keep: usize) -> Self {
        self.keep = keep;
        self
    }

    /// The experiment's tag (see [`CheckpointConfig::tag`]).
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`CoreError::InvalidValue`] for `every_steps = 0` or `keep = 0`.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.every_steps == Some(0) {
            return Err(CoreError::InvalidValue {
                name: "checkpoint every_steps",
                value: "0".into(),
                allowed: "an integer >= 1, or none for a checkpoint after every epoch only",
            });
        }
        if self.keep == 0 {
            return Err(CoreError::InvalidValue {
                name: "checkpoint keep",
                value: "0".into(),
                allowed: "an integer >= 1",
            });
        }
        Ok(())
    }

    /// The newest checkpoint in the directory, if any.
    ///
    /// # Errors
    /// When the directory cannot be read.
    pub fn latest(&self) -> Result<Option<PathBuf>, CheckpointError> {
        Ok(file::list(&self.dir)?.pop().map(|(_, p)| p))
    }
}

/// Why a checkpoint cannot be written or resumed from.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("checkpoint {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start like a checkpoint.
    #[error("{} is not a dark-knowledge checkpoint (it does not start with the checkpoint signature)", path.display())]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
    },
    /// The file is shorter than its length field says.
    #[error("checkpoint {} is truncated: {found} bytes of {expected}; resume from an earlier checkpoint or delete it", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The full length.
        expected: u64,
        /// The length found.
        found: u64,
    },
    /// The checksum or the structure is wrong.
    #[error("checkpoint {} is damaged: {details}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        details: String,
    },
    /// The checkpoint belongs to another experiment.
    #[error("checkpoint {} was written by another experiment: its {what} is {expected}, this run's is {found}; resume with the same settings, model and data, or use another checkpoint directory", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs (a setting, the data's shape, the model, …).
        what: String,
        /// The checkpoint's value.
        expected: String,
        /// This run's value.
        found: String,
    },
}

impl CheckpointError {
    pub(crate) fn damaged(path: &Path, details: impl Into<String>) -> Self {
        Self::Damaged {
            path: path.to_path_buf(),
            details: details.into(),
        }
    }
}
