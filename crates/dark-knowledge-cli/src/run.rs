//! The commands behind `train-teacher`, `distill`, `evaluate` and `demo`, on a run folder:
//!
//! ```text
//! OUT/experiment.toml        the resolved experiment
//! OUT/preprocessing.json     the fitted tabular preprocessing (CSV data)
//! OUT/<role>/model.bpk       weights (role: teacher, baseline, distilled)
//! OUT/quantized/model.q8     int8 weights of a student (`quantize`)
//! OUT/<role>/model.json      architecture, sizes, class labels, weight format
//! OUT/<role>/metrics.json    per-epoch history and the best epoch
//! OUT/<role>/test_predictions.csv  per-row test predictions (`evaluate`)
//! OUT/report.json, report.md the comparison report
//! OUT/MODEL_CARD.md          what the student is and how far to trust it
//! ```
//! Every file is written atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_core::{FrozenTeacher, device_from_name};
use dark_knowledge_data::cache::CacheDtype;
use dark_knowledge_data::{CacheSettings, CachedTeacher};
use dark_knowledge_eval::{
    DatasetSummary, Report, derived_from, evaluate_model, predict_proba, teacher_proba,
};
use dark_knowledge_models::{
    AnyModel, ModelInfo, ModelSpec, WeightFormat, load_saved_model, quantize_int8, save_saved_model,
};
use dark_knowledge_train::{EpochRecord, Progress, Trainer, TrainerConfig};
use serde::{Deserialize, Serialize};

use crate::experiment::Experiment;
use crate::model_card::{CardModel, CardModels, TrainedModel, model_card, training_card};
use crate::prepare::{Prepared, prepare};

/// Per-epoch history of a trained model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainingMetrics {
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Settings used.
    pub trainer: TrainerConfig,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
}

/// Where an experiment's run folder and its parts are.
pub struct RunDir(pub PathBuf);

impl RunDir {
    fn role(&self, role: &str) -> PathBuf {
        self.0.join(role)
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

/// Writes the resolved experiment and the preprocessing into the run folder.
pub fn write_run_header(experiment: &Experiment, data: &Prepared) -> Result<()> {
    let run = RunDir(experiment.output_dir.clone());
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
    Ok(())
}

/// Checks that the data prepared now is the data the saved teacher was trained on.
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
    Ok(())
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
        description: spec.describe(data.num_features(), data.num_classes()),
        num_features: data.num_features(),
        class_names: data.class_names.clone(),
        weights: WeightFormat::Float32,
        source: None,
    };
    save_saved_model(&dir, &info, model).map_err(anyhow::Error::msg)?;
    write_json(&dir.join("metrics.json"), metrics)
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
        bail!(
            "no {role} model in {} (missing {})",
            run.0.display(),
            dir.join("model.json").display()
        );
    }
    let (info, model) = load_saved_model(&dir, device).map_err(anyhow::Error::msg)?;
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

/// One model to train: its role, architecture, settings, teacher and initialisation seed.
struct Job<'a> {
    role: &'a str,
    spec: &'a ModelSpec,
    config: &'a TrainerConfig,
    teacher: Option<&'a dyn dark_knowledge_core::Teacher>,
    init_seed: u64,
}

fn train_role(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    job: Job<'_>,
    progress: Progress,
) -> Result<AnyModel> {
    let Job {
        role,
        spec,
        config,
        teacher,
        init_seed,
    } = job;
    device.seed(init_seed);
    let model = spec.build(data.num_features(), data.num_classes(), device)?;
    eprintln!(
        "{role}: {} ({} parameters), {} epochs on {} training rows",
        spec.describe(data.num_features(), data.num_classes()),
        burn::module::Module::num_params(&model),
        config.epochs,
        data.train.len()
    );
    let trainer = Trainer::new(config.clone())?
        .with_progress(progress)
        .with_label(role);
    let out = trainer.fit(model, &data.train, &data.valid, teacher)?;
    let metrics = TrainingMetrics {
        best_epoch: out.best_epoch,
        trainer: config.clone(),
        history: out.history,
    };
    save_trained(
        &RunDir(experiment.output_dir.clone()),
        role,
        spec,
        data,
        &out.best,
        &metrics,
    )?;
    Ok(out.best)
}

/// `train-teacher`: trains the teacher from labels and saves it.
pub fn train_teacher(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    progress: Progress,
) -> Result<AnyModel> {
    write_run_header(experiment, data)?;
    let t = &experiment.teacher;
    let job = Job {
        role: "teacher",
        spec: &t.model,
        config: &t.train,
        teacher: None,
        init_seed: experiment.seed,
    };
    let model = train_role(experiment, data, device, job, progress)?;
    write_model_card(
        experiment,
        &RunDir(experiment.output_dir.clone()),
        data,
        None,
    )?;
    Ok(model)
}

/// Where `distill` gets the teacher's logits.
#[derive(Debug, Clone)]
pub enum TeacherSource {
    /// The run's saved teacher model, run on every batch.
    Model,
    /// A cache made by `cache-teacher` over the experiment's data.
    Cache(PathBuf),
    /// Logits made elsewhere (`.npy` or safetensors, `[rows, classes]` in the data's row
    /// order); imported into the run's cache `teacher/logits.dktc` first.
    Logits {
        /// The file.
        path: PathBuf,
        /// The tensor's name in a safetensors file holding several.
        tensor: Option<String>,
    },
}

/// The run's default teacher cache.
pub fn default_cache_path(experiment: &Experiment) -> PathBuf {
    experiment.output_dir.join("teacher").join("logits.dktc")
}

/// `cache-teacher`: runs the saved teacher once over every row of the data and writes its
/// logits to `out`.
pub fn cache_teacher(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    out: &Path,
    dtype: CacheDtype,
    top_k: Option<usize>,
) -> Result<()> {
    let run = RunDir(experiment.output_dir.clone());
    check_preprocessing(&run, data)?;
    let (info, model) = load_role_with_info(&run, "teacher", data, device)?;
    if let Some(k) = top_k
        && (k == 0 || k > data.num_classes())
    {
        bail!(
            "--top-k {k}: expected 1..={} (the class count)",
            data.num_classes()
        );
    }
    let weights = dark_knowledge_models::model_bytes(&model)?;
    let settings = CacheSettings {
        dtype,
        top_k,
        teacher: format!("{} ({})", info.description, run.role("teacher").display()),
        teacher_fingerprint: dark_knowledge_data::cache::fingerprint(
            &weights.iter().map(|&b| f32::from(b)).collect::<Vec<_>>(),
            &[],
        ),
        batch_size: 1024,
    };
    let teacher = FrozenTeacher::new(model);
    let total = data.all.len();
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    dark_knowledge_data::cache_teacher(&teacher, &data.all, out, &settings, |done| {
        if last.elapsed().as_secs_f64() > 2.0 || done == total {
            eprintln!(
                "cache-teacher: {done}/{total} rows ({:.0} rows/s)",
                done as f64 / started.elapsed().as_secs_f64().max(1e-9)
            );
            last = std::time::Instant::now();
        }
    })?;
    Ok(())
}

/// Imports logits made elsewhere into a cache over the experiment's data.
fn import_logits(
    experiment: &Experiment,
    data: &Prepared,
    path: &Path,
    tensor: Option<&str>,
) -> Result<PathBuf> {
    let matrix = dark_knowledge_data::logits::read_logits(path, tensor)?;
    matrix.check_shape(data.all.len(), data.num_classes())?;
    let out = default_cache_path(experiment);
    let header = dark_knowledge_data::cache::CacheHeader {
        version: u32::from(dark_knowledge_data::cache::FORMAT_VERSION),
        num_classes: matrix.cols,
        num_rows: matrix.rows,
        dataset_fingerprint: dark_knowledge_data::dataset_fingerprint(&data.all),
        teacher_fingerprint: dark_knowledge_data::cache::fingerprint(&matrix.values, &[]),
        teacher: format!("imported logits {}", path.display()),
        dtype: CacheDtype::F32,
        top_k: None,
    };
    let mut writer = dark_knowledge_data::cache::CacheWriter::create(&out, header)?;
    writer.push(&matrix.values)?;
    writer.finish()?;
    eprintln!(
        "imported {} x {} logits from {} into {}",
        matrix.rows,
        matrix.cols,
        path.display(),
        out.display()
    );
    Ok(out)
}

/// The teacher `distill` uses.
fn open_teacher(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    source: &TeacherSource,
) -> Result<Box<dyn dark_knowledge_core::Teacher>> {
    let run = RunDir(experiment.output_dir.clone());
    let open_cache = |path: &Path| -> Result<Box<dyn dark_knowledge_core::Teacher>> {
        let cached = CachedTeacher::open(path, &data.all).with_context(|| {
            format!(
                "the cache must be made over this experiment's data ({} rows); run cache-teacher again",
                data.all.len()
            )
        })?;
        eprintln!(
            "teacher: {}",
            dark_knowledge_core::Teacher::describe(&cached)
        );
        Ok(Box::new(cached))
    };
    match source {
        TeacherSource::Model => {
            check_preprocessing(&run, data)?;
            Ok(Box::new(FrozenTeacher::new(load_role(
                &run, "teacher", data, device,
            )?)))
        }
        TeacherSource::Cache(path) => open_cache(path),
        TeacherSource::Logits { path, tensor } => {
            write_run_header(experiment, data)?;
            let cache = import_logits(experiment, data, path, tensor.as_deref())?;
            open_cache(&cache)
        }
    }
}

/// `distill`: trains the distilled student from the teacher, and the baseline when
/// asked, with the same initial weights, seed and schedule.
pub fn distill(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    progress: Progress,
    source: &TeacherSource,
) -> Result<()> {
    let run = RunDir(experiment.output_dir.clone());
    let teacher = open_teacher(experiment, data, device, source)?;
    let s = &experiment.student;
    let init_seed = experiment.seed.wrapping_add(1);
    let job = |role, teacher| Job {
        role,
        spec: &s.model,
        config: &s.train,
        teacher,
        init_seed,
    };
    if s.baseline {
        train_role(experiment, data, device, job("baseline", None), progress)?;
    }
    train_role(
        experiment,
        data,
        device,
        job("distilled", Some(teacher.as_ref())),
        progress,
    )?;
    let stale = run.role("quantized");
    if stale.exists() {
        std::fs::remove_dir_all(&stale)
            .with_context(|| format!("removing the stale int8 copy {}", stale.display()))?;
        eprintln!(
            "removed {}: it was made from the previous student (run `quantize` again)",
            stale.display()
        );
    }
    write_model_card(experiment, &run, data, None)?;
    Ok(())
}

/// Roles a run folder can hold, in report order.
pub const ROLES: [&str; 4] = ["teacher", "baseline", "distilled", "quantized"];

/// `evaluate`: compares every saved model on the test split, writes each model's per-row
/// test predictions, the report and the model card.
pub fn evaluate(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    latency_runs: usize,
) -> Result<Report> {
    let run = RunDir(experiment.output_dir.clone());
    let teacher_model = if run.role("teacher").join("model.json").exists() {
        Some(FrozenTeacher::new(load_role(
            &run, "teacher", data, device,
        )?))
    } else {
        None
    };
    let cached;
    let teacher: &dyn dark_knowledge_core::Teacher = match &teacher_model {
        Some(t) => t,
        None => {
            let path = default_cache_path(experiment);
            if !path.exists() {
                bail!(
                    "no teacher model ({}) and no teacher cache ({}) in {}",
                    run.role("teacher").join("model.json").display(),
                    path.display(),
                    run.0.display()
                );
            }
            if !data.test_in_all {
                bail!(
                    "{} covers the training images only; evaluating against the teacher needs its model",
                    path.display()
                );
            }
            cached = CachedTeacher::open(&path, &data.all)?;
            eprintln!(
                "evaluate: no teacher model, fidelity measured against {}",
                dark_knowledge_core::Teacher::describe(&cached)
            );
            &cached
        }
    };
    let teacher_probs = teacher_proba(teacher, &data.test, 1024)?;
    let mut models = std::collections::BTreeMap::new();
    let mut probs_of: std::collections::BTreeMap<&str, Vec<f32>> =
        std::collections::BTreeMap::new();
    for role in ROLES {
        if !run.role(role).join("model.json").exists() {
            continue;
        }
        eprintln!("evaluate: {role} on {} test rows", data.test.len());
        let (info, model) = if let (true, Some(t)) = (role == "teacher", &teacher_model) {
            (read_info(&run, role)?, t.model().clone())
        } else {
            load_role_with_info(&run, role, data, device)?
        };
        let mut metrics = evaluate_model(
            &model,
            &data.test,
            &teacher_probs,
            &data.class_names,
            data.positive_class,
            latency_runs,
        )?;
        let weights = run.role(role).join(info.weights_file());
        metrics.bytes = std::fs::metadata(&weights)
            .with_context(|| format!("reading {}", weights.display()))?
            .len() as usize;
        let probs = predict_proba(&model, &data.test, 1024);
        if let Some(source) = &info.source
            && let Some(source_probs) = probs_of.get(source.as_str())
        {
            metrics.derived_from = Some(derived_from(
                source,
                &probs,
                source_probs,
                data.num_classes(),
            )?);
        }
        write_test_predictions(&run.role(role), data, &probs)?;
        probs_of.insert(role, probs);
        models.insert(role.to_string(), metrics);
    }
    let labels = data.test.labels_host();
    let majority = (0..data.num_classes())
        .map(|c| labels.iter().filter(|&&l| l == c).count())
        .max()
        .unwrap_or(0) as f64
        / labels.len().max(1) as f64;
    let report = Report {
        dataset: DatasetSummary {
            name: data.name.clone(),
            num_classes: data.num_classes(),
            class_names: data.class_names.clone(),
            train_rows: data.train.len(),
            valid_rows: data.valid.len(),
            test_rows: data.test.len(),
            num_features: data.num_features(),
            majority_class_rate: majority,
            positive_class: data.positive_class.map(|i| data.class_names[i].clone()),
        },
        models,
        notes: vec![
            format!("device: {}; seed: {}", experiment.device, experiment.seed),
            "metrics on the test split; agreement and KL are measured against the teacher's predictions".into(),
            "latency: median per sample at batch 1; throughput: median at batch 1024; size: the saved weights file".into(),
        ],
    };
    write_atomic(&run.0.join("report.json"), report.to_json().as_bytes())?;
    write_atomic(&run.0.join("report.md"), report.to_markdown().as_bytes())?;
    write_model_card(experiment, &run, data, Some(&report))?;
    Ok(report)
}

/// Writes `dir/test_predictions.csv`: per test row its id (the data row of a CSV, counted
/// from 0 after the header, or the image index), label, predicted class and `p_<label>`
/// per class, with the same formatting as `predict`.
fn write_test_predictions(dir: &Path, data: &Prepared, probs: &[f32]) -> Result<()> {
    let nc = data.num_classes();
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "label".into(), "predicted".into()];
    header.extend(data.class_names.iter().map(|c| format!("p_{c}")));
    writer.write_record(&header)?;
    for ((row, label), p) in data
        .test
        .row_ids()
        .iter()
        .zip(data.test.labels_host())
        .zip(probs.chunks(nc))
    {
        let best = dark_knowledge_eval::argmax_rows(p, nc)[0];
        let mut record = vec![
            row.to_string(),
            data.class_names[*label].clone(),
            data.class_names[best].clone(),
        ];
        record.extend(p.iter().map(|v| format!("{v:.6}")));
        writer.write_record(&record)?;
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = dir.join("test_predictions.csv");
    write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// `quantize`: saves an int8 copy of the run's `source` model as the `quantized` role.
pub fn quantize(run_dir: &Path, source: &str, device: &Device) -> Result<ModelInfo> {
    if source == "quantized" {
        bail!(
            "--model quantized is already int8: pick a float model (distilled, baseline or teacher)"
        );
    }
    let dir = run_dir.join(source);
    if !dir.join("model.json").exists() {
        bail!(
            "no {source} model in {} (missing {}); train it first",
            run_dir.display(),
            dir.join("model.json").display()
        );
    }
    let (info, model) = load_saved_model(&dir, device).map_err(anyhow::Error::msg)?;
    if info.weights != WeightFormat::Float32 {
        bail!("the {source} model in {} is already int8", dir.display());
    }
    let quantized = quantize_int8(model, device);
    let info = ModelInfo {
        role: "quantized".into(),
        description: format!("{} int8", info.description),
        weights: WeightFormat::Int8,
        source: Some(source.to_string()),
        ..info
    };
    save_saved_model(&run_dir.join("quantized"), &info, &quantized).map_err(anyhow::Error::msg)?;
    Ok(info)
}

fn read_info(run: &RunDir, role: &str) -> Result<ModelInfo> {
    let path = run.role(role).join("model.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))
}

/// The description and training record of a saved model, when present.
fn read_saved(run: &RunDir, role: &str) -> Result<Option<(ModelInfo, Option<TrainingMetrics>)>> {
    let dir = run.role(role);
    let Ok(text) = std::fs::read_to_string(dir.join("model.json")) else {
        return Ok(None);
    };
    let info: ModelInfo = serde_json::from_str(&text)
        .with_context(|| format!("invalid {}", dir.join("model.json").display()))?;
    let training = std::fs::read_to_string(dir.join("metrics.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    Ok(Some((info, training)))
}

/// Writes `MODEL_CARD.md`: from the report for an evaluated run (about the distilled
/// student, or the teacher alone when no student was trained yet), otherwise from the
/// saved models' training records.
fn write_model_card(
    experiment: &Experiment,
    run: &RunDir,
    data: &Prepared,
    report: Option<&Report>,
) -> Result<()> {
    let mut saved = std::collections::BTreeMap::new();
    for role in ROLES {
        if let Some(s) = read_saved(run, role)? {
            saved.insert(role, s);
        }
    }
    let text = match report {
        Some(report) => {
            let card = |role: &str| {
                let metrics = report.models.get(role)?;
                saved.get(role).map(|(info, training)| CardModel {
                    info,
                    metrics,
                    training: training.as_ref(),
                })
            };
            let Some(student) = card("distilled")
                .or_else(|| card("baseline"))
                .or_else(|| card("teacher"))
            else {
                return Ok(());
            };
            let models = CardModels {
                student,
                teacher: card("teacher"),
                baseline: card("baseline"),
                quantized: card("quantized"),
            };
            model_card(experiment, report, &models)
        }
        None => {
            let trained: Vec<TrainedModel<'_>> = saved
                .iter()
                .map(|(role, (info, training))| TrainedModel {
                    info,
                    training: training.as_ref(),
                    bytes: std::fs::metadata(run.role(role).join(info.weights_file()))
                        .map_or(0, |m| m.len()),
                })
                .collect();
            if trained.is_empty() {
                return Ok(());
            }
            training_card(experiment, data, &trained)
        }
    };
    write_atomic(&run.0.join("MODEL_CARD.md"), text.as_bytes())
        .with_context(|| format!("writing MODEL_CARD.md into {}", run.0.display()))
}

/// Prepares the data of `experiment` on its device.
pub fn prepare_experiment(experiment: &Experiment) -> Result<(Device, Prepared)> {
    let device = device_of(experiment)?;
    let data = prepare(&experiment.data, experiment.seed, &device)?;
    eprintln!(
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
