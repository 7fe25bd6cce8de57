//! `MODEL_CARD.md`: what the shipped student is and how far to trust it, written from the
//! run's own files (report, model descriptions, training settings).

use std::fmt::Write as _;

use dark_knowledge_eval::{DatasetSummary, ModelMetrics, Report};
use dark_knowledge_models::ModelInfo;

use crate::experiment::Experiment;
use crate::metrics::TrainingMetrics;
use crate::prepare::Prepared;

mod insights;

/// One model of the run, as the card describes it.
pub struct CardModel<'a> {
    /// Its description (`model.json`).
    pub info: &'a ModelInfo,
    /// Its test metrics (`report.json`).
    pub metrics: &'a ModelMetrics,
    /// Its training settings and history (`metrics.json`).
    pub training: Option<&'a TrainingMetrics>,
}

/// Recall below this marks a class as a known weakness.
const LOW_RECALL: f64 = 0.5;
/// ECE above this is called out as a calibration limit.
const HIGH_ECE: f64 = 0.05;

fn pct(v: f64) -> String {
    format!("{:.2} %", 100.0 * v)
}

/// The models of an evaluated run, as the card compares them.
pub struct CardModels<'a> {
    /// The model the card is about (the distilled student, or the teacher alone).
    pub student: CardModel<'a>,
    /// The teacher (absent when the run distilled from imported logits).
    pub teacher: Option<CardModel<'a>>,
    /// The student's architecture trained from labels, when trained.
    pub baseline: Option<CardModel<'a>>,
    /// The int8 copy, when made.
    pub quantized: Option<CardModel<'a>>,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `# Model card: ROLE (DESCRIPTION)SUFFIX`.
fn card_title(s: &mut String, info: &ModelInfo, suffix: &str) {
    let _ = writeln!(
        s,
        "# Model card: {} ({}){suffix}\n",
        info.role, info.description
    );
}

/// The card of an evaluated run, from its report.
pub fn model_card(experiment: &Experiment, report: &Report, models: &CardModels<'_>) -> String {
    let student = &models.student;
    let mut s = String::new();
    card_title(&mut s, student.info, "");
    let _ = writeln!(
        s,
        "A student distilled from a teacher with dark-knowledge {VERSION}. Figures are measured on the test split and equal those of `report.json`.\n"
    );
    data_section(&mut s, experiment.seed, &report.dataset, true);
    models_section(&mut s, models);
    training_section(&mut s, student);
    quality_section(&mut s, models);
    insights::decision_sections(&mut s, report, &student.info.role);
    fidelity_section(&mut s, models);
    efficiency_section(&mut s, &experiment.device, models);
    int8_section(&mut s, models);
    limits_section(&mut s, student.metrics, report.dataset.test_rows);
    versions_section(&mut s);
    s
}

/// `## Data`: source, split, features and classes (with the positive class and the
/// majority-class rate when `full`).
fn data_section(s: &mut String, seed: u64, d: &DatasetSummary, full: bool) {
    let _ = writeln!(s, "## Data\n");
    let _ = writeln!(s, "- source: {}", d.name);
    let _ = writeln!(
        s,
        "- split (stratified, seed {seed}): {} train / {} validation / {} test rows",
        d.train_rows, d.valid_rows, d.test_rows
    );
    let _ = writeln!(
        s,
        "- {} input features, {} classes: {}",
        d.num_features,
        d.num_classes,
        d.class_names.join(", ")
    );
    if !full {
        let _ = writeln!(s);
        return;
    }
    if let Some(p) = &d.positive_class {
        let _ = writeln!(s, "- positive class: {p}");
    }
    if !d.dropped_columns.is_empty() {
        let _ = writeln!(s, "- columns left out by the preprocessing:");
        for c in &d.dropped_columns {
            let _ = writeln!(s, "  - `{}`: {}", c.column, c.reason);
        }
    }
    let _ = writeln!(
        s,
        "- majority-class rate on the test split: {}\n",
        pct(d.majority_class_rate)
    );
}

/// `## Models`: architecture, parameters and bytes of each model.
fn models_section(s: &mut String, models: &CardModels<'_>) {
    let CardModels {
        student,
        teacher,
        baseline,
        quantized,
    } = models;
    let _ = writeln!(s, "## Models\n");
    let _ = writeln!(s, "| model | architecture | parameters | bytes |");
    let _ = writeln!(s, "|---|---|---:|---:|");
    for c in teacher
        .iter()
        .chain(baseline.as_ref())
        .chain(std::iter::once(student))
        .chain(quantized.as_ref())
    {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            c.info.role, c.info.description, c.metrics.parameters, c.metrics.bytes
        );
    }
    if let Some(t) = teacher.as_ref().and_then(|c| c.training) {
        let _ = writeln!(s, "\nThe teacher learnt from {}.", t.taught_by);
    }
    let _ = writeln!(s);
}

/// `## Training`: the student's loss, optimizer and schedule.
fn training_section(s: &mut String, student: &CardModel<'_>) {
    if let Some(t) = student.training {
        let c = &t.trainer;
        let _ = writeln!(s, "## Training\n");
        let _ = writeln!(
            s,
            "- loss: {}",
            dark_knowledge_train::terms::describe_terms(&c.loss_terms())
        );
        let _ = writeln!(
            s,
            "- optimizer: {:?}, learning rate {}, weight decay {}, schedule {:?}",
            c.optimizer, c.learning_rate, c.weight_decay, c.schedule
        );
        let _ = writeln!(
            s,
            "- {} epochs of batch {}, seed {}; weights kept from epoch {} (best validation accuracy)\n",
            c.epochs, c.batch_size, c.seed, t.best_epoch
        );
    }
}

/// `## Quality and calibration`: the student's test metrics beside the teacher's.
fn quality_section(s: &mut String, models: &CardModels<'_>) {
    let (m, t) = (
        models.student.metrics,
        models.teacher.as_ref().map(|c| c.metrics),
    );
    let student = &models.student;
    let _ = writeln!(s, "## Quality and calibration (test split)\n");
    let _ = writeln!(s, "| metric | {} | teacher |", student.info.role);
    let _ = writeln!(s, "|---|---:|---:|");
    let tv = |f: &dyn Fn(&ModelMetrics) -> Option<String>| {
        t.and_then(f).unwrap_or_else(|| "–".to_string())
    };
    let f4 = |v: f64| format!("{v:.4}");
    let mut row = |name: &str, a: String, b: String| {
        let _ = writeln!(s, "| {name} | {a} | {b} |");
    };
    row("accuracy", pct(m.accuracy), tv(&|t| Some(pct(t.accuracy))));
    row("macro-F1", f4(m.macro_f1), tv(&|t| Some(f4(t.macro_f1))));
    if let Some(a) = m.f1 {
        row("F1 (positive class)", f4(a), tv(&|t| t.f1.map(f4)));
    }
    if let Some(a) = m.roc_auc {
        row("ROC-AUC", f4(a), tv(&|t| t.roc_auc.map(f4)));
    }
    if let Some(a) = m.pr_auc {
        row("PR-AUC", f4(a), tv(&|t| t.pr_auc.map(f4)));
    }
    row("log-loss", f4(m.log_loss), tv(&|t| Some(f4(t.log_loss))));
    row("ECE (15 bins)", f4(m.ece), tv(&|t| Some(f4(t.ece))));
    row("Brier", f4(m.brier), tv(&|t| Some(f4(t.brier))));
    let _ = writeln!(s);
}

/// `## Fidelity to the teacher`: agreement and KL, and the baseline's for comparison.
fn fidelity_section(s: &mut String, models: &CardModels<'_>) {
    let m = models.student.metrics;
    let _ = writeln!(s, "## Fidelity to the teacher\n");
    let _ = writeln!(
        s,
        "- agreement with the teacher's predictions: {}",
        pct(m.agreement_with_teacher)
    );
    let _ = writeln!(s, "- mean KL(teacher ‖ student): {:.4}", m.kl_to_teacher);
    if let Some(b) = &models.baseline {
        let _ = writeln!(
            s,
            "- the same architecture trained from labels only: accuracy {}, agreement {}, KL {:.4}",
            pct(b.metrics.accuracy),
            pct(b.metrics.agreement_with_teacher),
            b.metrics.kl_to_teacher
        );
    }
    let _ = writeln!(s);
}

/// `## Efficiency`: size, latency and throughput against the teacher's.
fn efficiency_section(s: &mut String, device: &str, models: &CardModels<'_>) {
    let (m, t) = (
        models.student.metrics,
        models.teacher.as_ref().map(|c| c.metrics),
    );
    let _ = writeln!(s, "## Efficiency (device: {})\n", device);
    match t {
        Some(t) => {
            let _ = writeln!(
                s,
                "- {} parameters ({:.1}× fewer than the teacher), {} bytes",
                m.parameters,
                t.parameters as f64 / m.parameters.max(1) as f64,
                m.bytes
            );
            let _ = writeln!(
                s,
                "- latency at batch 1: {:.1} µs per row (teacher {:.1} µs); throughput at batch 1024: {:.0} rows/s (teacher {:.0})\n",
                m.latency_us_batch1,
                t.latency_us_batch1,
                m.throughput_per_s_batch1024,
                t.throughput_per_s_batch1024
            );
        }
        None => {
            let _ = writeln!(s, "- {} parameters, {} bytes", m.parameters, m.bytes);
            let _ = writeln!(
                s,
                "- latency at batch 1: {:.1} µs per row; throughput at batch 1024: {:.0} rows/s; the teacher's logits were imported, so it has no figures here\n",
                m.latency_us_batch1, m.throughput_per_s_batch1024
            );
        }
    }
}

/// `## int8 copy`: the quantized model against the float one.
fn int8_section(s: &mut String, models: &CardModels<'_>) {
    let m = models.student.metrics;
    if let Some(q) = &models.quantized {
        let qm = q.metrics;
        let _ = writeln!(s, "## int8 copy ({})\n", q.info.description);
        let _ = writeln!(
            s,
            "- accuracy {} (float {}), agreement with the teacher {}",
            pct(qm.accuracy),
            pct(m.accuracy),
            pct(qm.agreement_with_teacher)
        );
        if let Some(d) = &qm.derived_from {
            let _ = writeln!(
                s,
                "- agrees with the float `{}` on {} of test rows; largest probability difference {:.4}",
                d.model,
                pct(d.agreement),
                d.max_abs_prob_diff
            );
        }
        let _ = writeln!(
            s,
            "- {} bytes ({:.1}× smaller than the float file); latency at batch 1: {:.1} µs\n",
            qm.bytes,
            m.bytes as f64 / qm.bytes.max(1) as f64,
            qm.latency_us_batch1
        );
    }
}

/// `## Known limits`: classes with low recall, poor calibration, one split.
fn limits_section(s: &mut String, m: &ModelMetrics, test_rows: usize) {
    let _ = writeln!(s, "## Known limits\n");
    let mut limits = 0;
    for c in &m.per_class {
        if c.support > 0 && c.recall < LOW_RECALL {
            limits += 1;
            let _ = writeln!(
                s,
                "- low recall on class `{}`: {} of {} test rows found ({}); precision {}",
                c.label,
                (c.recall * c.support as f64).round(),
                c.support,
                pct(c.recall),
                pct(c.precision)
            );
        }
    }
    if m.ece > HIGH_ECE {
        limits += 1;
        let _ = writeln!(
            s,
            "- calibration: ECE {:.4} > {HIGH_ECE}; recalibrate before using the probabilities as such",
            m.ece
        );
    }
    if limits == 0 {
        let _ = writeln!(
            s,
            "- no class with recall below {} and ECE {:.4} ≤ {HIGH_ECE}",
            pct(LOW_RECALL),
            m.ece
        );
    }
    let _ = writeln!(
        s,
        "- measured on one split of {} test rows with one seed; other data may differ",
        test_rows
    );
}

/// `## Versions`.
fn versions_section(s: &mut String) {
    let _ = writeln!(s, "\n## Versions\n");
    let _ = writeln!(
        s,
        "- dark-knowledge {} on burn 0.22; settings in `experiment.toml`",
        env!("CARGO_PKG_VERSION")
    );
}

/// A model of a run that is trained but not evaluated yet.
pub struct TrainedModel<'a> {
    /// Its description (`model.json`).
    pub info: &'a ModelInfo,
    /// Its training settings and history (`metrics.json`).
    pub training: Option<&'a TrainingMetrics>,
    /// Size of its weights file.
    pub bytes: u64,
}

/// The card of a run whose models are trained but not evaluated yet (after `train-teacher`
/// or `distill`): data, architectures and validation figures from training. `evaluate`
/// replaces it with the full card.
pub fn training_card(
    experiment: &Experiment,
    data: &Prepared,
    models: &[TrainedModel<'_>],
) -> String {
    let mut s = String::new();
    let main = models
        .iter()
        .find(|m| m.info.role == "distilled")
        .or_else(|| models.first());
    if let Some(m) = main {
        card_title(&mut s, m.info, ", not evaluated yet");
    }
    let _ = writeln!(
        s,
        "Written after training by dark-knowledge {VERSION}. Figures are from the validation split during training and equal those of each model's `metrics.json`. Test-split quality, calibration, fidelity and efficiency are added by `dark-knowledge evaluate`, which rewrites this card.\n"
    );
    data_section(&mut s, experiment.seed, &data.summary(), false);
    let _ = writeln!(s, "## Models (validation split, best epoch)\n");
    let _ = writeln!(
        s,
        "| model | architecture | bytes | trained from | best epoch | accuracy | agreement with teacher |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---:|---:|---:|");
    for m in models {
        let best = m.training.and_then(|t| {
            t.history
                .iter()
                .find(|r| r.epoch == t.best_epoch)
                .map(|r| (t, r))
        });
        let (from, epoch, acc, agree) = match best {
            Some((t, r)) => (
                if r.valid.teacher_agreement.is_some() {
                    dark_knowledge_train::terms::describe_terms(&t.trainer.loss_terms())
                } else {
                    "labels".to_string()
                },
                t.best_epoch.to_string(),
                pct(r.valid.accuracy),
                r.valid.teacher_agreement.map_or_else(|| "–".into(), pct),
            ),
            None => ("–".into(), "–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {from} | {epoch} | {acc} | {agree} |",
            m.info.role, m.info.description, m.bytes
        );
    }
    let _ = writeln!(s, "\n## Known limits\n");
    let _ = writeln!(
        s,
        "- not evaluated on the test split: no calibration, per-class or efficiency figures yet"
    );
    versions_section(&mut s);
    s
}
