//! The error type of the trainer.

/// What can stop training.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An invalid setting, class-count mismatch or teacher failure.
    #[error(transparent)]
    Core(#[from] dark_knowledge_core::Error),
    /// A checkpoint cannot be written, or read back for this run.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// A problem with the data.
    #[error(transparent)]
    Data(#[from] dark_knowledge_data::Error),
    /// The loss became NaN or infinite.
    #[error(
        "training diverged in epoch {epoch}: the mean loss is {value}; lower the learning rate or check the inputs for extreme values"
    )]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The loss value.
        value: f64,
    },
    /// Augmented training data with a teacher whose logits are looked up by row.
    #[error(
        "the training data is augmented ({augmentation}) but the teacher {teacher} looks its logits up by row id: those logits belong to the un-augmented rows. Distill from the teacher network itself (it then runs on each augmented batch) or turn augmentation off"
    )]
    AugmentedLookupTeacher {
        /// The teacher's description.
        teacher: String,
        /// The augmentation's description.
        augmentation: String,
    },
}

/// The result type of the trainer.
pub type Result<T> = std::result::Result<T, Error>;
