//! Where a teacher's logits come from: a frozen burn network, precomputed logits, and later
//! caches and files, behind one trait.

use burn::tensor::{Int, Tensor, TensorData};

use crate::classifier::{Classifier, Features};
use crate::error::{Error, Result};
use crate::input::ModelInput;

/// One batch as a teacher sees it: the inputs the student reads (`Tensor<2>` rows by default,
/// or the models' own [`Classifier::Input`]) and the id of each row.
#[derive(Debug)]
pub struct TeacherBatch<'a, I = Tensor<2>> {
    /// The batch's inputs, `[batch_size, ...]` (may be on the autodiff device: a network
    /// teacher takes them off it).
    pub inputs: &'a I,
    /// The position of each row of the batch in its dataset (row order of the data file),
    /// which is what a logits cache or a file of precomputed logits is keyed by.
    pub rows: &'a [usize],
}

impl<I> Clone for TeacherBatch<'_, I> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I> Copy for TeacherBatch<'_, I> {}

/// Anything that yields a teacher's logits for a batch of inputs `I` (float rows by
/// default).
///
/// Implementations must return logits that record no autodiff graph (detached, on a device
/// without autodiff): a teacher is never trained by distillation. Sources that look logits up
/// by row id (precomputed logits, caches) implement it for every `I`.
pub trait Teacher<I = Tensor<2>> {
    /// The number of classes of the logits.
    fn num_classes(&self) -> usize;

    /// The teacher's raw logits (temperature is applied by the loss), `[batch_size, num_classes]`.
    ///
    /// # Errors
    /// [`Error::Teacher`] when the teacher cannot serve these rows (e.g. a row index beyond a
    /// file of precomputed logits).
    fn logits(&self, batch: TeacherBatch<'_, I>) -> Result<Tensor<2>>;

    /// A short description for logs and reports.
    fn describe(&self) -> String;

    /// The number of input features per row the teacher reads, when it reads inputs at all
    /// (precomputed logits do not).
    fn num_features(&self) -> Option<usize> {
        None
    }

    /// Whether the logits are computed from the batch's inputs (a network) rather than looked
    /// up by row id (precomputed logits, caches). Training on augmented inputs needs a teacher
    /// that reads them: looked-up logits belong to the un-augmented rows.
    fn reads_inputs(&self) -> bool {
        false
    }

    /// The teacher's logits together with its intermediate representations (see
    /// [`Classifier::forward_features`]), detached and without autodiff like
    /// [`logits`](Self::logits).
    ///
    /// # Errors
    /// [`Error::Teacher`] for a teacher that has no network to run (the default: precomputed
    /// logits, caches), saying that feature terms need a teacher network.
    fn features(&self, batch: TeacherBatch<'_, I>) -> Result<Features> {
        let _ = batch;
        Err(Error::Teacher(format!(
            "{} provides logits only; feature terms (hint, attention, rkd) need a teacher network",
            self.describe()
        )))
    }
}

/// Checks that a teacher and a student predict the same number of classes.
///
/// # Errors
/// [`Error::ClassCountMismatch`] naming both counts.
pub fn check_class_counts(teacher: usize, student: usize) -> Result<()> {
    if teacher == student {
        Ok(())
    } else {
        Err(Error::ClassCountMismatch { teacher, student })
    }
}

/// A burn network used as a teacher, frozen.
///
/// The network is kept as its [`valid`](burn::module::Module::valid) snapshot: parameters
/// without autodiff (no graph is recorded, no gradient can reach them) and training flags
/// off (dropout disabled). Its inputs are taken off the autodiff device and its logits are
/// detached.
#[derive(Debug, Clone)]
pub struct FrozenTeacher<M: Classifier> {
    model: M,
}

impl<M: Classifier> FrozenTeacher<M> {
    /// Freezes `model` (which may live on an autodiff device, e.g. straight from training).
    pub fn new(model: M) -> Self {
        Self {
            model: model.valid(),
        }
    }

    /// The frozen network.
    pub fn model(&self) -> &M {
        &self.model
    }
}

impl<M: Classifier> Teacher<M::Input> for FrozenTeacher<M> {
    fn num_classes(&self) -> usize {
        self.model.num_classes()
    }

    fn logits(&self, batch: TeacherBatch<'_, M::Input>) -> Result<Tensor<2>> {
        let inputs = batch.inputs.clone().without_autodiff();
        Ok(self.model.logits(inputs).detach())
    }

    fn features(&self, batch: TeacherBatch<'_, M::Input>) -> Result<Features> {
        let inputs = batch.inputs.clone().without_autodiff();
        Ok(self.model.forward_features(inputs).detach())
    }

    fn num_features(&self) -> Option<usize> {
        self.model.num_features()
    }

    fn reads_inputs(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "frozen network ({} parameters)",
            burn::module::Module::num_params(&self.model)
        )
    }
}

/// A teacher whose logits were computed beforehand: one row per dataset row, looked up by
/// [`TeacherBatch::rows`]. The in-memory base of logits caches and logits files.
#[derive(Debug, Clone)]
pub struct PrecomputedTeacher {
    logits: Tensor<2>,
    num_rows: usize,
    num_classes: usize,
}

impl PrecomputedTeacher {
    /// Wraps a `[num_rows, num_classes]` table of logits (detached, without autodiff).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] if a logit is NaN or infinite; [`Error::ShapeMismatch`] if the
    /// table has no class column.
    pub fn new(logits: Tensor<2>) -> Result<Self> {
        let [num_rows, num_classes] = logits.dims();
        if num_classes == 0 {
            return Err(Error::ShapeMismatch {
                what: "precomputed teacher logits",
                expected: "[rows, classes] with classes >= 1".into(),
                got: format!("[{num_rows}, {num_classes}]"),
            });
        }
        let logits = logits.without_autodiff().detach();
        let finite = logits.clone().is_finite().all().into_scalar::<bool>();
        if !finite {
            return Err(Error::InvalidValue {
                name: "precomputed teacher logits",
                value: "a NaN or infinite value".into(),
                allowed: "finite numbers only",
            });
        }
        Ok(Self {
            logits,
            num_rows,
            num_classes,
        })
    }

    /// The number of rows the table covers.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// A short description for logs and reports.
    pub fn describe(&self) -> String {
        format!(
            "precomputed logits ({} rows x {} classes)",
            self.num_rows, self.num_classes
        )
    }
}

impl<I> Teacher<I> for PrecomputedTeacher {
    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn logits(&self, batch: TeacherBatch<'_, I>) -> Result<Tensor<2>> {
        if let Some(&bad) = batch.rows.iter().find(|&&r| r >= self.num_rows) {
            return Err(Error::Teacher(format!(
                "row {bad} requested but the precomputed logits hold rows 0..{}",
                self.num_rows
            )));
        }
        let device = self.logits.device();
        let rows: Vec<i64> = batch.rows.iter().map(|&r| r as i64).collect();
        let n = rows.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device);
        Ok(self.logits.clone().select(0, index))
    }

    fn describe(&self) -> String {
        PrecomputedTeacher::describe(self)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    #[test]
    fn precomputed_logits_have_no_features() {
        let device = Device::flex();
        let teacher = PrecomputedTeacher::new(Tensor::zeros([4, 3], &device)).unwrap();
        let inputs = Tensor::<2>::zeros([2, 5], &device);
        let batch = TeacherBatch {
            inputs: &inputs,
            rows: &[0, 1],
        };
        assert!(Teacher::<Tensor<2>>::logits(&teacher, batch).is_ok());
        let msg = teacher.features(batch).unwrap_err().to_string();
        assert!(msg.contains("feature terms"), "{msg}");
        assert!(
            msg.contains("precomputed logits (4 rows x 3 classes)"),
            "{msg}"
        );
    }
}
