//! [`Workflow`]: one experiment's run, step by step — what `dark-knowledge demo`,
//! `train-teacher`, `distill`, `cache-teacher`, `quantize` and `evaluate` do.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use dark_knowledge_data::cache::CacheDtype;
use dark_knowledge_eval::Report;
use dark_knowledge_models::{AnyModel, ModelInfo};
use dark_knowledge_train::Progress;

use crate::error::Result;
use crate::experiment::Experiment;
use crate::prepare::Prepared;
use crate::run::{self, RunDir, RunLock, TeacherSource};

/// Latency runs per model in the report (as the CLI does).
pub const LATENCY_RUNS: usize = 200;

/// An experiment with its data prepared on its device, writing into its `output_dir`.
///
/// A workflow holds the lock of its run folder ([`RunDir::lock`]) from [`Workflow::new`] until
/// it is dropped: one workflow (one command) at a time writes a run folder.
///
/// ```no_run
/// use dark_knowledge_experiment::{Experiment, Workflow};
///
/// # fn main() -> dark_knowledge_experiment::Result<()> {
/// let experiment = Experiment::load("examples/experiments/churn.toml".as_ref())?;
/// let workflow = Workflow::new(experiment)?;
/// workflow.train_teacher()?;
/// workflow.distill(&Default::default())?;
/// let report = workflow.evaluate()?;
/// println!("{}", report.comparison_table());
/// # Ok(()) }
/// ```
pub struct Workflow {
    experiment: Experiment,
    device: Device,
    data: Prepared,
    progress: Progress,
    /// Held for the workflow's life.
    lock: RunLock,
}

impl Workflow {
    /// Checks `experiment`, prepares its data (seeded split, preprocessing fitted on the
    /// training rows) and checks that they can be trained on and evaluated
    /// ([`crate::checks`]), then takes the lock of its output folder (making the folder) and
    /// removes temporary files an interrupted run left there. Nothing in the folder is
    /// touched before every check passed.
    ///
    /// # Errors
    /// An invalid experiment, an unknown device, data that cannot be read or evaluated, an
    /// output path that is a file, a run folder another command is writing.
    pub fn new(experiment: Experiment) -> Result<Self> {
        experiment.validate()?;
        run::check_output_folder(&experiment.output_dir)?;
        let (device, data) = run::prepare_experiment(&experiment)?;
        let lock = RunDir::of(&experiment).lock()?;
        run::clean_stale(&experiment);
        Ok(Self {
            experiment,
            device,
            data,
            progress: Progress::Silent,
            lock,
        })
    }

    /// [`Workflow::new`] with the experiment file at `path`.
    ///
    /// # Errors
    /// As [`Experiment::load`] and [`Workflow::new`].
    pub fn load(path: &Path) -> Result<Self> {
        Self::new(Experiment::load(path)?)
    }

    /// How training reports progress (default: silent).
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// The experiment.
    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }

    /// The prepared data: splits, class names, preprocessing.
    pub fn data(&self) -> &Prepared {
        &self.data
    }

    /// The device everything runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The run folder.
    pub fn output_dir(&self) -> &Path {
        &self.experiment.output_dir
    }

    /// The lock file held on the run folder.
    pub fn lock_file(&self) -> &Path {
        self.lock.path()
    }

    /// Trains the teacher (and every further `[[teachers]]` model) from labels and saves it
    /// in `output_dir/teacher/`, with the run header and the model card.
    ///
    /// # Errors
    /// Training or writing the run folder failed; a run folder of other data.
    pub fn train_teacher(&self) -> Result<AnyModel> {
        run::train_teacher(&self.experiment, &self.data, &self.device, self.progress)
    }

    /// Distills the student (through the experiment's pipeline) from `source`, and trains
    /// the baseline when asked, with the same initial weights, seed and schedule.
    ///
    /// # Errors
    /// No teacher where one is needed; a cache or logits of other data; training failed.
    pub fn distill(&self, source: &TeacherSource) -> Result<()> {
        run::distill(
            &self.experiment,
            &self.data,
            &self.device,
            self.progress,
            source,
        )
    }

    /// Runs the saved teacher once over every row and writes its logits to `out` (default
    /// `output_dir/teacher/logits.dktc`), optionally as f16 or top-k; returns the file.
    ///
    /// # Errors
    /// No saved teacher; the cache cannot be written.
    pub fn cache_teacher(
        &self,
        out: Option<PathBuf>,
        dtype: CacheDtype,
        top_k: Option<usize>,
    ) -> Result<PathBuf> {
        let out = out.unwrap_or_else(|| run::default_cache_path(&self.experiment));
        run::cache_teacher(
            &self.experiment,
            &self.data,
            &self.device,
            &out,
            dtype,
            top_k,
        )?;
        Ok(out)
    }

    /// Saves an int8 copy of the `role` model (e.g. `distilled`) as the run's `quantized`
    /// model.
    ///
    /// # Errors
    /// No such model in the run; the copy cannot be written.
    pub fn quantize(&self, role: &str) -> Result<ModelInfo> {
        run::quantize(&self.experiment.output_dir, role, &self.device)
    }

    /// Compares every saved model on the test split and writes `report.json`,
    /// `report.md`, the plots, each model's test predictions and the model card.
    ///
    /// # Errors
    /// No model in the run; a model of other data; the files cannot be written.
    pub fn evaluate(&self) -> Result<Report> {
        run::evaluate(&self.experiment, &self.data, &self.device, LATENCY_RUNS)
    }

    /// What `dark-knowledge demo` does: teacher, distilled student and baseline, the int8
    /// copy of the student, then the report.
    ///
    /// # Errors
    /// As the steps.
    pub fn demo(&self) -> Result<Report> {
        self.train_teacher()?;
        self.distill(&TeacherSource::Model)?;
        let info = self.quantize("distilled")?;
        log::info!("quantized: {}", info.description);
        self.evaluate()
    }
}

/// What `dark-knowledge quantize` does: the int8 copy of `role` in `run_dir`, then the run
/// re-evaluated when its `experiment.toml` is there (`None` otherwise). `device` defaults
/// to the run's device.
///
/// With `experiment.toml`, the run's data are prepared and checked, and the folder locked,
/// before the copy is written (as [`Workflow::new`]); without it, the folder is locked.
///
/// # Errors
/// No such model (the message lists the run's models); the copy cannot be written;
/// evaluation failed; another command is writing the run.
pub fn quantize_run(
    run_dir: &Path,
    role: &str,
    device: Option<&str>,
) -> Result<(ModelInfo, Option<Report>)> {
    run::check_quantize_source(run_dir, role)?;
    let settings = run_dir.join("experiment.toml");
    if !settings.exists() {
        let device = dark_knowledge_core::device_from_name(device.unwrap_or("cpu"))?;
        let _lock = RunDir(run_dir.to_path_buf()).lock()?;
        let info = run::quantize(run_dir, role, &device)?;
        log::info!(
            "{} not found: run `evaluate` to compare the int8 copy",
            settings.display()
        );
        return Ok((info, None));
    }
    let mut experiment = Experiment::load(&settings)?;
    experiment.output_dir = run_dir.to_path_buf();
    if let Some(device) = device {
        experiment.device = device.to_string();
    }
    let workflow = Workflow::new(experiment)?;
    let info = workflow.quantize(role)?;
    Ok((info, Some(workflow.evaluate()?)))
}
