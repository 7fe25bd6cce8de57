//! `evaluate` and `quantize`: the comparison report, per-row test predictions, the int8
//! copy and the model card.

use std::collections::BTreeMap;
use std::path::Path;

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::FrozenTeacher;
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_data::CachedTeacher;
use dark_knowledge_eval::{
    ModelMetrics, Report, derived_from, evaluate_model, predict_proba, teacher_proba,
};
use dark_knowledge_models::{
    AnyModel, ModelInfo, WeightFormat, load_saved_model, quantize_int8, save_saved_model,
};

pub(super) use super::card::{check_saved_records, write_model_card};
use super::card::{model_card_text, write_card};
use super::insights::{Insights, RoleOutputs, logits_of, write_files};
use super::slice_levels::slice_columns;
use super::{RunDir, default_cache_path, load_role, load_role_with_info};
use crate::experiment::Experiment;
use crate::prepare::Prepared;

/// The saved models of a run folder, in report order: `teacher`, further teachers
/// (`teacher-<name>`), `assistant`, born-again `generation-<k>`, `baseline`, `distilled`,
/// mutual-learning peers (`mutual-<k>`), `quantized`.
pub fn run_roles(run: &RunDir) -> Vec<String> {
    let rank = |name: &str| -> (u8, usize, String) {
        let number = |prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        };
        let r = match name {
            "teacher" => 0,
            _ if name.starts_with("teacher-") || name.starts_with("candidate-") => 1,
            "trees" => 5,
            "assistant" => 2,
            _ if name.starts_with("generation-") => 3,
            "baseline" => 4,
            "logistic" => 5,
            "distilled" => 6,
            _ if name.starts_with("mutual-") => 7,
            "quantized" => 8,
            _ => 9,
        };
        let n = number("generation-").max(number("mutual-"));
        (r, n, name.to_string())
    };
    let mut roles: Vec<String> = std::fs::read_dir(&run.0)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("model.json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| rank(n).0 < 9)
                .collect()
        })
        .unwrap_or_default();
    roles.sort_by_key(|n| rank(n));
    roles
}

/// `evaluate`: compares every saved model on the test split, writes each model's per-row
/// test predictions, the report and the model card.
///
/// The report also gets each model's temperature scaling (fitted on the validation split,
/// stored in `<role>/calibration.json` with the threshold chosen for `[evaluation]
/// threshold_goal`), and for a binary target the campaign ranking and the slices of
/// `[evaluation] slice_by`; the reliability diagrams and the gains chart go to `plots/`.
///
/// # Errors
/// A `slice_by` column the data do not have (before anything is measured or written); a
/// missing or broken model; files that cannot be written.
pub fn evaluate(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    latency_runs: usize,
) -> Result<Report> {
    let run = RunDir::of(experiment);
    check_students_complete(experiment, &run)?;
    // Unknown slice columns are refused before any model is measured.
    let slice_columns = slice_columns(experiment, data)?;
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
            cached = open_cached_teacher(experiment, &run, data)?;
            &cached
        }
    };
    let teacher_probs = teacher_proba(teacher, &data.test, 1024)?;
    let evaluation = Evaluation {
        run: &run,
        data,
        device,
        teacher_model: teacher_model.as_ref(),
        teacher_probs: &teacher_probs,
        latency_runs,
    };
    // Everything is measured, and every file the report reads is checked, before any file
    // of the run is written.
    let (models, predictions, outputs) = evaluation.evaluate_roles()?;
    let insights = Insights::compute(experiment, data, &outputs, &teacher_probs, &slice_columns)?;
    let mut report = Report::new(data.summary());
    report.models = models;
    report
        .add_note(format!("device: {}; seed: {}", experiment.device, experiment.seed))
        .add_note("metrics on the test split; agreement and KL are measured against the teacher's predictions")
        .add_note("latency: median per sample at batch 1; throughput: median at batch 1024; size: the saved weights file");
    super::fitted::describe_fitted(&run, &mut report);
    let files = insights.add_to(&mut report);
    let card = model_card_text(experiment, &run, data, Some(&report))?;
    for (role, bytes) in &predictions {
        let path = run.role(role).join("test_predictions.csv");
        write_atomic(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    write_files(&run, &files)?;
    write_atomic(&run.0.join("report.json"), report.to_json().as_bytes())?;
    write_atomic(&run.0.join("report.md"), report.to_markdown().as_bytes())?;
    write_card(&run, card)?;
    Ok(report)
}

/// A run with any student has the ones `distill` trains: the distilled student, and the
/// baseline when the experiment asks for one (a report silently without one of them would
/// hide that it is gone).
fn check_students_complete(experiment: &Experiment, run: &RunDir) -> Result<()> {
    let roles = run_roles(run);
    let is_teacher = |r: &str| r == "teacher" || r.starts_with("teacher-");
    if roles.iter().all(|r| is_teacher(r)) {
        return Ok(());
    }
    let mut needed = vec!["distilled"];
    if experiment.student.baseline {
        needed.push("baseline");
    }
    for role in needed {
        if !roles.iter().any(|r| r == role) {
            return Err(run.missing_role(
                role,
                " (the run has students, so distill ran: run distill again)",
            ));
        }
    }
    Ok(())
}

/// The run's teacher cache, when the run has no teacher model: fidelity is measured
/// against its logits.
fn open_cached_teacher(
    experiment: &Experiment,
    run: &RunDir,
    data: &Prepared,
) -> Result<CachedTeacher> {
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
    let cached = CachedTeacher::open(&path, &data.all)?;
    log::info!(
        "evaluate: no teacher model, fidelity measured against {}",
        cached.describe()
    );
    Ok(cached)
}

/// Each role's `test_predictions.csv`, to write.
type Predictions = Vec<(String, Vec<u8>)>;

/// What [`Evaluation::evaluate_roles`] measures: metrics and outputs by role, and the
/// prediction files.
type Measured = (
    BTreeMap<String, ModelMetrics>,
    Predictions,
    BTreeMap<String, RoleOutputs>,
);

/// What measuring each saved model of a run needs: the run, the data, and the teacher's
/// test predictions the fidelity metrics compare against.
struct Evaluation<'a> {
    run: &'a RunDir,
    data: &'a Prepared,
    device: &'a Device,
    /// The saved teacher, already loaded, when there is one.
    teacher_model: Option<&'a FrozenTeacher<AnyModel>>,
    teacher_probs: &'a [f32],
    latency_runs: usize,
}

impl Evaluation<'_> {
    /// Every saved model's test metrics, by role, and each one's test predictions
    /// (`test_predictions.csv`, not written yet). Every model is loaded and checked before
    /// any is measured.
    fn evaluate_roles(&self) -> Result<Measured> {
        let Self { run, data, .. } = *self;
        let mut models = BTreeMap::new();
        let mut outputs = BTreeMap::new();
        let mut predictions = Vec::new();
        let mut probs_of: BTreeMap<String, Vec<f32>> = BTreeMap::new();
        let loaded = run_roles(run)
            .into_iter()
            .map(|role| {
                let (info, model) = self.load(&role)?;
                let weights = run.role(&role).join(info.weights_file());
                let bytes = std::fs::metadata(&weights)
                    .with_context(|| format!("reading {}", weights.display()))?
                    .len() as usize;
                Ok((role, info, model, bytes))
            })
            .collect::<Result<Vec<_>>>()?;
        // A derived model (the int8 copy) is compared with its source: it must be there.
        for (role, info, ..) in &loaded {
            if let Some(source) = &info.source
                && !loaded.iter().any(|(r, ..)| r == source)
            {
                return Err(run.missing_role(
                    source,
                    &format!(" ({role} was made from it: train it again, or remove {role})"),
                ));
            }
        }
        for (role, info, model, bytes) in loaded {
            let role = role.as_str();
            log::info!("evaluate: {role} on {} test rows", data.test.len());
            let mut metrics = evaluate_model(
                &model,
                &data.test,
                self.teacher_probs,
                &data.class_names,
                data.positive_class,
                self.latency_runs,
            )?;
            metrics.bytes = bytes;
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
            predictions.push((role.to_string(), test_predictions(data, &probs)?));
            let output = RoleOutputs {
                test_probs: probs.clone(),
                test_logits: logits_of(&model, &data.test),
                valid_logits: logits_of(&model, &data.valid),
            };
            outputs.insert(role.to_string(), output);
            probs_of.insert(role.to_string(), probs);
            models.insert(role.to_string(), metrics);
        }
        Ok((models, predictions, outputs))
    }

    /// The saved model of `role` with its description (the teacher: the one loaded).
    fn load(&self, role: &str) -> Result<(ModelInfo, AnyModel)> {
        if let (true, Some(t)) = (role == "teacher", self.teacher_model) {
            Ok((read_info(self.run, role)?, t.model().clone()))
        } else {
            load_role_with_info(self.run, role, self.data, self.device)
        }
    }
}

/// The text of `test_predictions.csv`: per test row its id (the data row of a CSV, counted
/// from 0 after the header, or the image index), label, predicted class and `p_<label>`
/// per class, with the same formatting as `predict`.
fn test_predictions(data: &Prepared, probs: &[f32]) -> Result<Vec<u8>> {
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
        let best = crate::predict::argmax(p);
        let mut record = vec![
            row.to_string(),
            data.class_names[*label].clone(),
            data.class_names[best].clone(),
        ];
        record.extend(p.iter().map(|v| format!("{v:.6}")));
        writer.write_record(&record)?;
    }
    writer.into_inner().map_err(crate::Error::msg)
}

/// Checks that `run_dir` has a float model `source` to quantize (its description is there).
///
/// # Errors
/// `quantized` itself; no such model, listing the run's models.
pub fn check_quantize_source(run_dir: &Path, source: &str) -> Result<()> {
    if source == "quantized" {
        bail!(
            "--model quantized is already int8: pick a float model (distilled, baseline or teacher)"
        );
    }
    if !run_dir.join(source).join("model.json").exists() {
        return Err(RunDir(run_dir.to_path_buf())
            .missing_role(source, " (pick one with --model, or train it first)"));
    }
    Ok(())
}

/// `quantize`: saves an int8 copy of the run's `source` model as the `quantized` role.
pub fn quantize(run_dir: &Path, source: &str, device: &Device) -> Result<ModelInfo> {
    check_quantize_source(run_dir, source)?;
    let dir = run_dir.join(source);
    let (info, model) = load_saved_model(&dir, device)?;
    if info.weights != WeightFormat::Float32 {
        bail!("the {source} model in {} is already int8", dir.display());
    }
    if info.spec.is_trees() {
        bail!(
            "the {source} model in {} is boosted trees ({}): they have no weights to quantize; \
             pick a network (distilled, baseline)",
            dir.display(),
            info.description
        );
    }
    let quantized = quantize_int8(model, device);
    let info = ModelInfo {
        role: "quantized".into(),
        description: format!("{} int8", info.description),
        weights: WeightFormat::Int8,
        source: Some(source.to_string()),
        ..info
    };
    super::forget_calibration(&run_dir.join("quantized"))?;
    save_saved_model(&run_dir.join("quantized"), &info, &quantized)?;
    Ok(info)
}

fn read_info(run: &RunDir, role: &str) -> Result<ModelInfo> {
    let path = run.role(role).join("model.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))
}
