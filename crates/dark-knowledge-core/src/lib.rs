//! The core of dark-knowledge: distillation losses written in log-space, the [`Teacher`]
//! abstraction (frozen networks, precomputed logits), the [`Classifier`] contract every
//! student follows, device selection and the error type.
//!
//! Library code here never chooses a backend: tensors live on the `Device` they are given.
#![warn(missing_docs)]

pub mod checksums;
pub mod classifier;
pub mod device;
pub mod error;
pub mod input;
pub mod io;
pub mod loss;
pub mod rows;
pub mod teacher;
pub mod tensor_util;
#[cfg(test)]
mod test_support;

pub use classifier::{Classifier, FeatureNames, Features};
pub use device::{device_from_name, device_names, devices_from_names, wgpu_unavailable_reason};
pub use error::{Error, Result};
pub use input::ModelInput;
pub use teacher::{FrozenTeacher, PrecomputedTeacher, Teacher, TeacherBatch, check_class_counts};
