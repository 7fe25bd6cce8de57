//! One copy of the frozen teacher per device the student is trained on.

use std::sync::{Arc, Mutex, PoisonError};

use burn::module::Module;
use burn::tensor::Device;

/// The frozen teacher, and its copies on the other devices it was asked for.
///
/// burn-train's multi-device strategies fork the learner's module to each device, and a
/// skipped field is cloned as it is, not moved: without copies, a teacher on device 0 would
/// be handed inputs on device 1. The copies are shared by every clone and fork of the module
/// (one `Arc`), so each device's copy is made once.
#[derive(Debug, Clone)]
pub(crate) struct TeacherReplicas<T> {
    copies: Arc<Mutex<Vec<T>>>,
}

impl<T: Module> TeacherReplicas<T> {
    /// `teacher` (a `valid()` snapshot) as the only copy.
    pub fn new(teacher: T) -> Self {
        Self {
            copies: Arc::new(Mutex::new(vec![teacher])),
        }
    }

    /// The first copy: the teacher as given.
    pub fn original(&self) -> T {
        self.lock()[0].clone()
    }

    /// The teacher's copy on `device` (autodiff or not: the copy lives on the plain device),
    /// made now when there is none yet.
    pub fn on(&self, device: &Device) -> T {
        let mut copies = self.lock();
        if let Some(found) = copies.iter().find(|t| t.devices().contains(device)) {
            return found.clone();
        }
        let copy = copies[0].clone().to_device(&device.clone().inner());
        copies.push(copy.clone());
        copy
    }

    /// The number of devices the teacher is on.
    #[cfg(test)]
    pub fn num_copies(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        // A copy is pushed whole or not at all: a panic elsewhere leaves the list valid.
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
