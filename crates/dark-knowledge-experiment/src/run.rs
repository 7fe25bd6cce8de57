//! The commands behind `train-teacher`, `distill`, `evaluate` and `demo`, on a run folder:
//!
//! ```text
//! OUT/experiment.toml        the resolved experiment
//! OUT/preprocessing.json     the fitted tabular preprocessing (CSV data)
//! OUT/drift_reference.json  the training rows' distribution of each input column (CSV data)
//! OUT/data.json              the fingerprint of the data the teacher was trained on
//! OUT/<role>/model.bpk       weights (role: teacher, baseline, logistic, distilled)
//! OUT/quantized/model.q8     int8 weights of a student (`quantize`)
//! OUT/<role>/model.json      architecture, sizes, class labels, weight format
//! OUT/<role>/metrics.json    per-epoch history and the best epoch
//! OUT/<role>/score_reference.json  the model's score distribution on the training rows
//! OUT/<role>/test_predictions.csv  per-row test predictions (`evaluate`)
//! OUT/<role>/calibration.json  the temperature fitted on validation, the threshold (`evaluate`)
//! OUT/plots/*.svg            reliability diagrams and the gains chart (`evaluate`)
//! OUT/report.json, report.md the comparison report
//! OUT/MODEL_CARD.md          what the student is and how far to trust it
//! OUT/.lock                  the writer lock: the PID of the command writing the run
//! OUT/CHECKSUMS, OUT/<role>/CHECKSUMS  BLAKE3 of each file above, in `b3sum` format
//! ```
//! Every file is written atomically and listed in its folder's `CHECKSUMS`; models and the
//! preprocessing are checked against it when loaded (`dark_knowledge_core::checksums`).
//! One command at a time writes a run folder ([`RunDir::lock`]), and it touches the folder
//! only once its inputs are checked.

use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::device_from_name;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_models::{
    AnyModel, ModelInfo, ModelSpec, WeightFormat, load_saved_model, save_saved_model,
};
use dark_knowledge_train::{Progress, TeacherSet, Trainer, TrainerConfig};
use serde::Serialize;

mod card;
mod data_record;
mod distill;
mod evaluate;
mod fitted;
mod insights;
mod lock;
mod logistic;
mod slice_levels;
mod teacher_source;

pub use data_record::DATA_RECORD;
pub use distill::distill;
pub use evaluate::{check_quantize_source, evaluate, quantize, run_roles};
use evaluate::{check_saved_records, write_model_card};
pub use fitted::{Candidate, SELECTION_FILE, TeacherSelection};
pub use insights::CALIBRATION_FILE;
pub use lock::{LOCK_FILE, RunLock, check_output_folder, lock_dir};
pub use slice_levels::{MAX_NUMERIC_LEVELS, NUMERIC_BINS, check_slice_columns};
pub use teacher_source::{TeacherSource, cache_teacher, default_cache_path};

pub use crate::metrics::TrainingMetrics;

use crate::experiment::Experiment;
use crate::prepare::{Prepared, prepare};

/// Where an experiment's run folder and its parts are.
pub struct RunDir(pub PathBuf);

impl RunDir {
    /// The run folder of `experiment` (its `output_dir`).
    pub fn of(experiment: &Experiment) -> Self {
        Self(experiment.output_dir.clone())
    }

    fn role(&self, role: &str) -> PathBuf {
        self.0.join(role)
    }

    /// Takes the folder's writer lock (`.lock`), making the folder when missing; held until
    /// the [`RunLock`] is dropped. See [`lock`](self::lock) for the design.
    ///
    /// # Errors
    /// Another command holds it (the message names its process id); the path is a file;
    /// the folder cannot be made.
    pub fn lock(&self) -> Result<RunLock> {
        lock::lock_dir(&self.0)
    }

    /// `Ok` when the run has a saved `role` model (its `model.json`); otherwise the error
    /// naming the roles it has.
    ///
    /// # Errors
    /// The run has no `role` model.
    pub fn require_role(&self, role: &str) -> Result<()> {
        if self.role(role).join("model.json").exists() {
            Ok(())
        } else {
            Err(self.missing_role(role, " (pick one with --model)"))
        }
    }

    /// The error for a model `role` the run does not have, listing the roles it has.
    fn missing_role(&self, role: &str, hint: &str) -> crate::Error {
        let roles = run_roles(self);
        let has = if roles.is_empty() {
            "it has no saved model".to_string()
        } else {
            format!("the run has: {}", roles.join(", "))
        };
        crate::Error::msg(format!(
            "no {role} model in {} (missing {}); {has}{hint}",
            self.0.display(),
            self.role(role).join("model.json").display()
        ))
    }
}

/// The experiment's device, checked.
pub fn device_of(experiment: &Experiment) -> Result<Device> {
    Ok(device_from_name(&experiment.device)?)
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// Writes the resolved experiment, the preprocessing and the data's record
/// ([`DATA_RECORD`]) into the run folder.
pub fn write_run_header(experiment: &Experiment, data: &Prepared) -> Result<()> {
    let run = RunDir::of(experiment);
    // From here on the run folder's files are listed in its CHECKSUMS and checked on load.
    dark_knowledge_core::checksums::track(&run.0)?;
    write_atomic(
        &run.0.join("experiment.toml"),
        experiment.to_toml()?.as_bytes(),
    )
    .with_context(|| format!("writing into {}", run.0.display()))?;
    if let Some(encoder) = &data.encoder {
        write_atomic(
            &run.0.join("preprocessing.json"),
            encoder.to_json().as_bytes(),
        )?;
    }
    // Beside the preprocessing: the training rows' distributions, for drift reports.
    crate::drift::write_drift_reference(&run.0, &experiment.data, data)?;
    data_record::write_data_record(&run, data)
}

/// Checks that the data prepared now is the data the saved teacher was trained on: the same
/// preprocessing, and the same rows, labels and split ([`DATA_RECORD`]).
fn check_preprocessing(run: &RunDir, data: &Prepared) -> Result<()> {
    let path = run.0.join("preprocessing.json");
    if let (Some(encoder), Ok(saved)) = (&data.encoder, std::fs::read_to_string(&path))
        && saved != encoder.to_json()
    {
        bail!(
            "the data or its preprocessing changed since the teacher in {} was trained ({} differs); train the teacher again",
            run.0.display(),
            path.display()
        );
    }
    data_record::check_data_record(run, data)
}

fn save_trained(
    run: &RunDir,
    role: &str,
    spec: &ModelSpec,
    data: &Prepared,
    model: &AnyModel,
    metrics: &TrainingMetrics,
) -> Result<()> {
    let dir = run.role(role);
    let info = ModelInfo {
        role: role.to_string(),
        spec: spec.clone(),
        description: describe_model(model, spec, data),
        num_features: data.num_features(),
        class_names: data.class_names.clone(),
        weights: WeightFormat::Float32,
        source: None,
    };
    forget_calibration(&dir)?;
    save_saved_model(&dir, &info, model)?;
    crate::drift::write_score_reference(&dir, model, data)?;
    write_json(&dir.join("metrics.json"), metrics)
}

/// Removes the role folder's `calibration.json` before its model is replaced: the temperature
/// and threshold were fitted to the old weights, and `predict` would apply them to the new
/// ones. `evaluate` fits them again.
pub(crate) fn forget_calibration(dir: &Path) -> Result<()> {
    let path = dir.join(CALIBRATION_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {
            log::info!(
                "removed {} (it was fitted to the previous weights; evaluate fits it again)",
                path.display()
            );
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Loads a saved model of `role`, checking it fits the data.
pub fn load_role(run: &RunDir, role: &str, data: &Prepared, device: &Device) -> Result<AnyModel> {
    Ok(load_role_with_info(run, role, data, device)?.1)
}

/// [`load_role`] with the model's description.
fn load_role_with_info(
    run: &RunDir,
    role: &str,
    data: &Prepared,
    device: &Device,
) -> Result<(ModelInfo, AnyModel)> {
    let dir = run.role(role);
    if !dir.join("model.json").exists() {
        return Err(run.missing_role(role, ""));
    }
    let (info, model) = load_saved_model(&dir, device)?;
    if info.num_features != data.num_features() || info.class_names != data.class_names {
        bail!(
            "the {role} model in {} expects {} features and classes {:?}, the data has {} features and classes {:?}",
            dir.display(),
            info.num_features,
            info.class_names,
            data.num_features(),
            data.class_names
        );
    }
    Ok((info, model))
}

/// One model to train: its role, architecture, settings, teachers and initialisation seed.
struct Job<'a> {
    role: &'a str,
    spec: &'a ModelSpec,
    config: &'a TrainerConfig,
    teachers: TeacherSet<'a>,
    init_seed: u64,
}

fn train_role(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    job: Job<'_>,
    progress: Progress,
) -> Result<AnyModel> {
    if let ModelSpec::Auto { candidates } = job.spec {
        return fitted::fit_auto(experiment, data, device, candidates, &job, progress);
    }
    let one = fit_model(experiment, data, device, job.spec, &job, progress)?;
    save_trained(
        &RunDir::of(experiment),
        job.role,
        &one.spec,
        data,
        &one.model,
        &one.metrics,
    )?;
    Ok(one.model)
}

/// Trains (networks) or fits (trees) `spec` for `job` without saving it.
fn fit_model(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    spec: &ModelSpec,
    job: &Job<'_>,
    progress: Progress,
) -> Result<fitted::Fitted> {
    match spec {
        ModelSpec::Gbdt(config) => return fitted::fit_trees(data, config, job),
        ModelSpec::Ensemble { members, model } => {
            spec.validate()?;
            return fitted::train_ensemble(
                experiment,
                data,
                device,
                (*members, model),
                job,
                progress,
            );
        }
        ModelSpec::Auto { .. } => bail!("auto candidates cannot be auto"),
        ModelSpec::Mlp { .. } | ModelSpec::Cnn { .. } => {}
    }
    let Job {
        role,
        config,
        teachers,
        init_seed,
        ..
    } = job;
    device.seed(*init_seed);
    let model = spec.build(data.num_features(), data.num_classes(), device)?;
    let train = data.train_for(!teachers.is_empty());
    log::info!(
        "{role}: {} ({} parameters), {} epochs on {} training rows ({} labelled)",
        spec.describe(data.num_features(), data.num_classes()),
        burn::module::Module::num_params(&model),
        config.epochs,
        train.len(),
        train.num_labeled()
    );
    let trainer = Trainer::new((*config).clone())?
        .with_progress(progress)
        .with_label(*role);
    let trainer = experiment.checkpointed(trainer, role);
    let out = trainer.fit_with(model, train, &data.valid, teachers)?;
    if let Some(stop) = &out.stopped {
        log::info!("{role}: {}", stop.reason);
    }
    let metrics = TrainingMetrics {
        best_epoch: out.best_epoch,
        trainer: (*config).clone(),
        history: out.history,
        stopped: out.stopped,
        taught_by: teachers.describe(),
    };
    Ok(fitted::Fitted {
        model: out.best,
        spec: spec.clone(),
        metrics,
    })
}

/// The description saved in `model.json`: the fitted trees' size for a tree model, the
/// architecture otherwise.
fn describe_model(model: &AnyModel, spec: &ModelSpec, data: &Prepared) -> String {
    match model {
        AnyModel::Trees(trees) => trees.ensemble().describe(),
        _ => spec.describe(data.num_features(), data.num_classes()),
    }
}

/// `train-teacher`: trains the teacher from labels and saves it with the run header
/// (`experiment.toml`, `preprocessing.json`), then each further `[[teachers]]` model as
/// `teacher-<name>`.
pub fn train_teacher(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    progress: Progress,
) -> Result<AnyModel> {
    let is_teacher = |role: &str| role == "teacher" || role.starts_with("teacher-");
    check_saved_records(&RunDir::of(experiment), |role| !is_teacher(role))?;
    fitted::forget_selection(&RunDir::of(experiment))?;
    let t = &experiment.teacher;
    let job = Job {
        role: "teacher",
        spec: &t.model,
        config: &t.train,
        teachers: TeacherSet::none(),
        init_seed: experiment.seed,
    };
    let model = train_role(experiment, data, device, job, progress)?;
    // The run header says what data the saved teacher was trained on: written once it is
    // saved, so a failed or killed training leaves the previous teacher and its header.
    write_run_header(experiment, data)?;
    for (i, extra) in experiment.teachers.iter().enumerate() {
        let role = format!("teacher-{}", extra.name);
        let job = Job {
            role: &role,
            spec: &extra.model,
            config: extra.train.as_ref().unwrap_or(&t.train),
            teachers: TeacherSet::none(),
            init_seed: experiment.seed.wrapping_add(100 + i as u64),
        };
        train_role(experiment, data, device, job, progress)?;
    }
    write_model_card(experiment, &RunDir::of(experiment), data, None)?;
    Ok(model)
}

/// Removes the temporary files a killed run left in the run folder, its model folders and
/// its checkpoint folders (a file being written when the process died).
pub fn clean_stale(experiment: &Experiment) {
    fn walk(dir: &Path, depth: usize) -> usize {
        let mut removed = dark_knowledge_train::checkpoint::remove_stale_temp_files(dir);
        if depth > 0
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    removed += walk(&entry.path(), depth - 1);
                }
            }
        }
        removed
    }
    let removed = walk(&experiment.output_dir, 3);
    if removed > 0 {
        log::info!(
            "removed {removed} temporary file(s) left in {} by an interrupted run",
            experiment.output_dir.display()
        );
    }
}

/// Reads the experiment file at `config` and prepares its data on its device.
pub fn load_experiment(config: &Path) -> Result<(Experiment, Device, Prepared)> {
    let experiment = Experiment::load(config)?;
    let (device, data) = prepare_experiment(&experiment)?;
    Ok((experiment, device, data))
}

/// Prepares the data of `experiment` on its device.
pub fn prepare_experiment(experiment: &Experiment) -> Result<(Device, Prepared)> {
    let device = device_of(experiment)?;
    let data = prepare(&experiment.data, experiment.seed, &device)?;
    log::info!(
        "data: {} — {} train / {} valid / {} test rows, {} features, {} classes",
        data.name,
        data.train.len(),
        data.valid.len(),
        data.test.len(),
        data.num_features(),
        data.num_classes()
    );
    Ok((device, data))
}
