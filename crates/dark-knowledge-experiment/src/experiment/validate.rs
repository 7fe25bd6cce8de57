//! [`Experiment::validate`] and the checks behind it: the settings that can be checked
//! before any data is read (architectures, teachers, pipeline, `[data]`).

use super::{DataSource, Experiment, Pipeline};
use crate::error::{Context, Result};

impl Experiment {
    /// Checks the settings that can be checked before any data is read.
    pub fn validate(&self) -> Result<()> {
        self.validate_models()?;
        self.checkpoint_config("check")
            .validate()
            .context("in [checkpoints]")?;
        self.teacher
            .train
            .validate()
            .context("in [teacher.train]")?;
        self.student
            .train
            .validate()
            .context("in [student.train]")?;
        crate::ensure!(
            self.loss.is_empty() || self.student.train.terms.is_empty(),
            "the student's loss is given twice: as [[loss]] and as student.train.terms; keep one"
        );
        self.student_trainer()
            .validate()
            .context("in the [[loss]] terms")?;
        self.validate_teachers()?;
        self.validate_pipeline()?;
        self.evaluation.validate()?;
        self.validate_data()
    }

    /// Checks every architecture of the file (widths, channels, dropout) before any data is
    /// read.
    fn validate_models(&self) -> Result<()> {
        let mut models = vec![
            ("[teacher] model".to_string(), &self.teacher.model),
            ("[student] model".to_string(), &self.student.model),
        ];
        for extra in &self.teachers {
            models.push((format!("[[teachers]] {:?} model", extra.name), &extra.model));
        }
        if let Pipeline::Assistant { model, .. } = &self.pipeline {
            models.push(("[pipeline] model".to_string(), model));
        }
        for (what, model) in &models {
            model.validate().with_context(|| format!("in {what}"))?;
        }
        // Students are trained by gradients from their teacher: trees, ensembles and auto are
        // teacher kinds.
        for (what, model) in models.iter().skip(1) {
            let student = what.starts_with("[student]") || what.starts_with("[pipeline]");
            crate::ensure!(
                !(student && model.is_teacher_only()),
                "{what}: kind = {:?} is a teacher kind (gbdt, ensemble, auto); a student is an \
                 mlp or a cnn",
                model.kind()
            );
        }
        crate::ensure!(
            self.data.source != DataSource::FashionMnist
                || !matches!(self.teacher.model.kind(), "gbdt" | "auto"),
            "[teacher] model: kind = {:?} is for tabular data; Fashion-MNIST teachers are an mlp, \
             a cnn or an ensemble",
            self.teacher.model.kind()
        );
        Ok(())
    }

    /// Checks the `[[teachers]]` (names, weights, settings), the teacher's weight, and that
    /// every feature term reads a teacher the experiment has.
    fn validate_teachers(&self) -> Result<()> {
        for (i, extra) in self.teachers.iter().enumerate() {
            crate::ensure!(
                !extra.name.is_empty()
                    && extra
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "[[teachers]] #{}: name {:?} must be letters, digits, '-' or '_'",
                i + 1,
                extra.name
            );
            crate::ensure!(
                self.teachers[..i].iter().all(|t| t.name != extra.name),
                "[[teachers]]: the name {:?} is used twice",
                extra.name
            );
            crate::ensure!(
                extra.weight.is_finite() && extra.weight >= 0.0,
                "[[teachers]] {:?}: weight {} must be a number >= 0",
                extra.name,
                extra.weight
            );
            if let Some(train) = &extra.train {
                train
                    .validate()
                    .with_context(|| format!("in [[teachers]] {:?} train", extra.name))?;
            }
        }
        crate::ensure!(
            self.teacher.weight.is_finite() && self.teacher.weight >= 0.0,
            "[teacher] weight {} must be a number >= 0",
            self.teacher.weight
        );
        let num_teachers = 1 + self.teachers.len();
        for term in self.student_trainer().loss_terms() {
            if let Some(t) = term.feature_teacher() {
                crate::ensure!(
                    t < num_teachers,
                    "a `{}` term reads teacher {t}, but the experiment has {num_teachers} teacher(s) (0 is [teacher], 1.. the [[teachers]] in order)",
                    term.kind_name()
                );
            }
        }
        Ok(())
    }

    /// Checks the `[pipeline]` settings.
    fn validate_pipeline(&self) -> Result<()> {
        match &self.pipeline {
            Pipeline::Standard {} => {}
            Pipeline::Assistant { train, .. } => {
                if let Some(train) = train {
                    train.validate().context("in [pipeline] train")?;
                }
            }
            Pipeline::BornAgain { generations, .. } => crate::ensure!(
                *generations >= 1,
                "[pipeline] born_again: generations = {generations}, allowed: an integer >= 1"
            ),
            Pipeline::Mutual { .. } => {
                self.pipeline
                    .mutual()
                    .expect("mutual pipeline")
                    .validate()
                    .context("in [pipeline] mutual")?;
            }
        }
        Ok(())
    }

    /// Checks the `[data]` settings that need no data: a CSV's path and target, one label
    /// budget at most, row limits and fractions in range ([`crate::checks`]).
    fn validate_data(&self) -> Result<()> {
        match self.data.source {
            DataSource::Csv => {
                crate::ensure!(
                    self.data.path.is_some(),
                    "[data] source = \"csv\" needs `path`"
                );
                crate::ensure!(
                    self.data.target.is_some(),
                    "[data] source = \"csv\" needs `target`"
                );
            }
            DataSource::FashionMnist | DataSource::Churn => {}
        }
        crate::ensure!(
            self.data.labeled_per_class.is_none() || self.data.labeled_fraction.is_none(),
            "[data] has both labeled_per_class and labeled_fraction; keep one"
        );
        crate::checks::check_data_settings(&self.data)
    }
}
