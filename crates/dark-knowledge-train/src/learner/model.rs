//! The student and its frozen teacher as one burn module with burn-train's training and
//! inference steps.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use dark_knowledge_core::error::Error as CoreError;
use dark_knowledge_core::loss::{LossTerms, SoftTargetLoss, SoftTargetLossConfig};
use dark_knowledge_core::{Classifier, ModelInput, check_class_counts};
use dark_knowledge_data::LabeledBatch;

use super::replicas::TeacherReplicas;
use crate::error::Result as TrainResult;

/// Settings of [`DistillLearnerModel`]: the distillation loss.
#[derive(Config, Debug)]
pub struct DistillLearnerConfig {
    /// `ce_weight · CE + kd_weight · T² · KL` (Hinton et al. 2015), as the trainer's
    /// [`TrainerConfig::loss`](crate::TrainerConfig::loss).
    #[config(default = "SoftTargetLossConfig::default()")]
    pub loss: SoftTargetLossConfig,
}

impl DistillLearnerConfig {
    /// Checks the settings and pairs `student` with `teacher`.
    ///
    /// The student is put in training mode (`train()`: autodiff on, dropout active), so it
    /// may be built on the plain device. The teacher is frozen here: kept as its `valid()` snapshot (no autodiff, dropout off),
    /// outside the module's parameters, so it gets no gradient, the optimizer never sees it
    /// and burn-train's checkpoints hold the student only.
    ///
    /// # Errors
    /// An invalid loss setting (temperature, weights, `top_k`); a teacher and student that
    /// predict different numbers of classes or read different numbers of features.
    pub fn init<S, T>(&self, student: S, teacher: T) -> TrainResult<DistillLearnerModel<S, T>>
    where
        S: Classifier,
        T: Classifier<Input = S::Input>,
    {
        let loss = self.loss.init()?;
        check_class_counts(teacher.num_classes(), student.num_classes())?;
        if let (Some(t), Some(s)) = (teacher.num_features(), student.num_features())
            && t != s
        {
            return Err(CoreError::ShapeMismatch {
                what: "teacher inputs",
                expected: format!("{s} features per row, as the student reads"),
                got: format!("a teacher reading {t} features"),
            }
            .into());
        }
        Ok(DistillLearnerModel {
            // Trainable wherever it was built: a model made on the plain device has no
            // autodiff, and burn-train's fork to the autodiff device keeps that.
            student: student.train(),
            teacher: TeacherReplicas::new(teacher.valid()),
            loss,
        })
    }
}

/// A trainable student and a frozen teacher, trained by burn-train's `Learner` with the
/// soft-target loss ([`SoftTargetLoss`]).
///
/// Its [`TrainStep`] reads a [`LabeledBatch`] (as built by a burn `Batcher`, e.g.
/// [`RowBatcher`](dark_knowledge_data::RowBatcher)), runs the teacher without autodiff, the
/// student with it, and returns the gradients of
/// `ce_weight · CE(z_s, y) + kd_weight · T² · KL(p(z_t; T) ‖ p(z_s; T))` with a
/// [`ClassificationOutput`] (the total loss and the student's logits), so burn's loss and
/// accuracy metrics work. Its [`InferenceStep`] reports the same loss on validation batches.
///
/// Only the student is a parameter of this module: the teacher is a skipped field, absent
/// from gradients, optimizer state and records (burn-train's checkpoints).
///
/// # Shapes
/// - student and teacher logits: `[batch_size, num_classes]`
/// - targets: `[batch_size]`
#[derive(Module, Debug)]
pub struct DistillLearnerModel<S: Classifier, T: Classifier<Input = S::Input>> {
    student: S,
    #[module(skip)]
    teacher: TeacherReplicas<T>,
    #[module(skip)]
    loss: SoftTargetLoss,
}

impl<S: Classifier, T: Classifier<Input = S::Input>> DistillLearnerModel<S, T> {
    /// The student.
    pub fn student(&self) -> &S {
        &self.student
    }

    /// The student, taking it out of the pair (e.g. from burn-train's `LearningResult`).
    pub fn into_student(self) -> S {
        self.student
    }

    /// The frozen teacher as given to [`DistillLearnerConfig::init`] (its `valid()` snapshot).
    pub fn teacher(&self) -> T {
        self.teacher.original()
    }

    /// The loss.
    pub fn loss(&self) -> &SoftTargetLoss {
        &self.loss
    }

    /// The loss and its terms on one batch, with the student's logits: what both steps
    /// report. The teacher runs on its copy on the inputs' device, without autodiff.
    pub fn forward_terms(
        &self,
        batch: LabeledBatch<S::Input>,
    ) -> (LossTerms, ClassificationOutput) {
        let device: Device = batch.inputs.device();
        let teacher_logits = self
            .teacher
            .on(&device)
            .logits(batch.inputs.clone().without_autodiff())
            .detach();
        // The teacher's logits join the student's device as constants, as in the trainer.
        let teacher_logits = teacher_logits.to_device(&device.clone().inner());
        let teacher_logits = if device.is_autodiff() {
            teacher_logits.autodiff()
        } else {
            teacher_logits
        };
        let student_logits = self.student.logits(batch.inputs);
        let terms = self.loss.forward_terms(
            student_logits.clone(),
            teacher_logits,
            batch.targets.clone(),
        );
        let output = ClassificationOutput::new(terms.total.clone(), student_logits, batch.targets);
        (terms, output)
    }
}

impl<S: Classifier, T: Classifier<Input = S::Input>> TrainStep for DistillLearnerModel<S, T> {
    type Input = LabeledBatch<S::Input>;
    type Output = ClassificationOutput;

    fn step(&self, batch: Self::Input) -> TrainOutput<ClassificationOutput> {
        let (terms, output) = self.forward_terms(batch);
        TrainOutput::new(self, terms.total.backward(), output)
    }
}

impl<S: Classifier, T: Classifier<Input = S::Input>> InferenceStep for DistillLearnerModel<S, T> {
    type Input = LabeledBatch<S::Input>;
    type Output = ClassificationOutput;

    fn step(&self, batch: Self::Input) -> ClassificationOutput {
        self.forward_terms(batch).1
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};
    use dark_knowledge_core::tensor_util::parameters_with_gradient;
    use dark_knowledge_models::{Mlp, MlpConfig};

    use super::*;

    fn pair(device: &Device) -> DistillLearnerModel<Mlp, Mlp> {
        device.seed(3);
        let ad = device.clone().autodiff();
        // The teacher straight from training: on the autodiff device, requiring gradients.
        let teacher = MlpConfig::new(4, vec![32], 3).init(&ad);
        // The student on the plain device: `init` makes it trainable.
        let student = MlpConfig::new(4, vec![8], 3).init(device);
        DistillLearnerConfig::new().init(student, teacher).unwrap()
    }

    fn batch(device: &Device) -> LabeledBatch<Tensor<2>> {
        let x: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
        LabeledBatch {
            inputs: Tensor::from_data(TensorData::new(x, [6, 4]), device),
            targets: Tensor::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2], [6]), device),
        }
    }

    #[test]
    fn only_the_student_gets_gradients_and_is_in_the_record() {
        let device = Device::flex();
        let model = pair(&device);
        let ad = device.autodiff();
        let (terms, _) = model.forward_terms(batch(&ad));
        let grads = terms.total.backward();
        assert_eq!(parameters_with_gradient(model.student(), &grads), [true; 4]);
        assert_eq!(
            parameters_with_gradient(&model.teacher(), &grads),
            [false; 4]
        );
        assert!(
            !model.teacher().devices()[0].is_autodiff(),
            "teacher off autodiff"
        );

        let step = TrainStep::step(&model, batch(&ad));
        assert_eq!(step.grads.len(), 4, "the student's weights and biases only");
        assert_eq!(model.num_params(), model.student().num_params());
        let record = model.clone().into_record();
        assert_eq!(record.len(), model.student().clone().into_record().len());
        assert!(model.teacher().num_params() > model.student().num_params());
    }

    #[test]
    fn steps_report_the_soft_target_loss_and_the_student_logits() {
        let device = Device::flex();
        let model = pair(&device);
        let out = InferenceStep::step(&model.valid(), batch(&device));
        let zs = model.student().valid().logits(batch(&device).inputs);
        let zt = model.teacher().logits(batch(&device).inputs);
        let want = model.loss().forward(zs.clone(), zt, batch(&device).targets);
        let got = out.loss.into_scalar::<f32>();
        assert_eq!(got, want.into_scalar::<f32>());
        assert!(got > 0.0);
        assert_eq!(out.output.into_data(), zs.into_data());
    }

    #[test]
    fn the_teacher_has_one_copy_per_device() {
        let device = Device::flex();
        let model = pair(&device);
        let _ = model.forward_terms(batch(&device.clone().autodiff()));
        let _ = model.clone().forward_terms(batch(&device));
        assert_eq!(
            model.teacher.num_copies(),
            1,
            "autodiff and plain flex are one device"
        );
    }

    #[test]
    fn bad_settings_and_mismatched_models_are_errors() {
        let device = Device::flex();
        let student = || MlpConfig::new(4, vec![8], 3).init(&device);
        let bad_t =
            DistillLearnerConfig::new().with_loss(SoftTargetLossConfig::new(-1.0, 0.1, 0.9));
        let err = bad_t.init(student(), student()).unwrap_err().to_string();
        assert!(err.contains("temperature"), "{err}");
        let classes = MlpConfig::new(4, vec![8], 5).init(&device);
        let err = DistillLearnerConfig::new()
            .init(student(), classes)
            .unwrap_err();
        assert!(err.to_string().contains('5'), "{err}");
        let features = MlpConfig::new(7, vec![8], 3).init(&device);
        let err = DistillLearnerConfig::new()
            .init(student(), features)
            .unwrap_err();
        assert!(err.to_string().contains("7 features"), "{err}");
    }
}
