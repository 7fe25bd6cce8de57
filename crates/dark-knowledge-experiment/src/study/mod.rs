//! Many student runs over seeds and settings, resumable, summarised as mean ± std:
//! `sweep` (a grid from a file) and `reproduce` (built-in studies).
//!
//! Every run writes `OUT/runs/<id>.json` atomically when it finishes; a run whose file is
//! there (with the same settings) is not run again, so a killed study continues where it
//! stopped. The teacher is trained once, saved in `OUT/teacher/`, and its logits over every
//! training row are computed once and shared by all runs.

mod aggregate;
mod keys;
mod labels;
mod measure;
pub mod replicate;
pub mod reproduce;
pub mod sizes;
mod spec;
pub mod sweep;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::{Device, Tensor};
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_core::loss::SoftTargetLossConfig;
use dark_knowledge_core::rows::batch_ranges;
use dark_knowledge_core::{FrozenTeacher, PrecomputedTeacher, Teacher, TeacherBatch};
use dark_knowledge_eval::plot::reliability_bins;
use dark_knowledge_eval::{accuracy, expected_calibration_error, predict_proba};
use dark_knowledge_models::{AnyModel, ModelSpec};
use dark_knowledge_train::terms::term_names;
use dark_knowledge_train::{LossTerm, Progress, TeacherSet, Trainer, TrainerConfig};

pub use aggregate::{Row, markdown, write_results};
pub use labels::{Labels, check_budgets, split_labels};
pub use spec::{Method, RunResult, RunSpec, describe_weights};

use keys::{HASHES, TEACHER_KEY_FILE, context_key, teacher_key};

use crate::experiment::Experiment;
use crate::prepare::Prepared;
use crate::run::{self, RunDir};

/// A finished sweep or study: every run, and the summary written to `results.json`.
#[derive(Debug, Clone)]
pub struct StudyOutcome {
    /// The study's name (a sweep: its file's stem).
    pub name: String,
    /// One result per run, in the order of the grid.
    pub runs: Vec<RunResult>,
    /// Mean ± std per setting, as in `results.json`.
    pub rows: Vec<Row>,
}

impl StudyOutcome {
    /// The summary table in Markdown, as in `results.md`.
    pub fn markdown(&self) -> String {
        markdown(&self.name, &self.rows)
    }
}

/// Bins of the reliability diagrams and of the ECE.
const BINS: usize = 15;

/// What every run of a study shares: the data, the teacher's logits, the base settings.
pub struct StudyContext {
    /// The data, every training label present.
    pub data: Prepared,
    /// The base experiment: student architecture, trainer settings, loss.
    pub experiment: Experiment,
    /// The teacher's logits over every row of `data.all`.
    teacher: PrecomputedTeacher,
    /// The teacher's predicted class on each test row.
    teacher_test: Vec<usize>,
    /// See [`RunResult::context`].
    context: String,
    /// The context as an earlier version wrote it, when the folder's teacher key is of that
    /// version: its runs are this study's too.
    legacy_context: Option<String>,
}

impl StudyContext {
    /// Whether a saved run was made in this study's context.
    fn made_here(&self, result: &RunResult) -> bool {
        result.context == self.context || self.legacy_context.as_ref() == Some(&result.context)
    }
}

impl StudyContext {
    /// Trains the teacher of `experiment` into `experiment.output_dir/teacher` (or reuses
    /// the one there) and computes its logits over every training row.
    ///
    /// # Errors
    /// A teacher in that folder trained from other settings or data (its key file differs
    /// or is missing); a teacher that fails to train or load.
    pub fn new(experiment: Experiment, data: Prepared, device: &Device) -> Result<Self> {
        let run = RunDir::of(&experiment);
        let key = teacher_key(HASHES[0], &experiment, &data)?;
        let key_path = run.0.join("teacher").join(TEACHER_KEY_FILE);
        // The key an earlier version (FNV-1a fingerprints) wrote, when this folder has one.
        let mut legacy_key = None;
        let teacher = if run.0.join("teacher/model.json").exists() {
            let saved = std::fs::read_to_string(&key_path).unwrap_or_default();
            if saved.trim() != key {
                let old = teacher_key(HASHES[1], &experiment, &data)?;
                if saved.trim() == old {
                    legacy_key = Some(old);
                }
            }
            if saved.trim() != key && legacy_key.is_none() {
                bail!(
                    "the teacher in {} was trained from other settings or data than this study's \
                     ({} {}); remove that folder to train the teacher again, or choose another output folder",
                    run.0.join("teacher").display(),
                    key_path.display(),
                    if saved.is_empty() {
                        "is missing"
                    } else {
                        "differs"
                    }
                );
            }
            log::info!("teacher: reusing {}", run.0.join("teacher").display());
            run::load_role(&run, "teacher", &data, device)?
        } else {
            // The key first: a teacher killed while training leaves no model.json, so it is
            // trained again and the key still fits.
            write_atomic(&key_path, key.as_bytes())?;
            run::train_teacher(&experiment, &data, device, Progress::Auto)?
        };
        let context = context_key(HASHES[0], &experiment, &teacher, &data)?;
        // What the runs of an earlier version recorded, only in a folder of that version.
        let legacy_context = match legacy_key {
            Some(k) => Some(format!(
                "{k}-{}",
                context_key(HASHES[1], &experiment, &teacher, &data)?
            )),
            None => None,
        };
        let frozen = FrozenTeacher::new(teacher);
        let mut logits = teacher_logits(&frozen, &data.all)?;
        if let Some(synthetic) = synthetic_part(&data)? {
            // Synthetic rows have the ids after `data.all`'s: their logits follow.
            let extra = teacher_logits(&frozen, &synthetic)?;
            logits = Tensor::cat(vec![logits, extra], 0);
        }
        let test = teacher_logits(&frozen, &data.test)?;
        let [n, _] = test.dims();
        let teacher_test =
            dark_knowledge_core::tensor_util::to_vec_i64(test.argmax(1).reshape([n]))
                .into_iter()
                .map(|c| c as usize)
                .collect();
        Ok(Self {
            data,
            experiment,
            teacher: PrecomputedTeacher::new(logits)?,
            teacher_test,
            context: format!("{key}-{context}"),
            legacy_context,
        })
    }

    /// Trains and evaluates the student of one run.
    pub fn run(&self, spec: &RunSpec, device: &Device) -> Result<RunResult> {
        let started = Instant::now();
        let (labeled, transfer) = split_labels(&self.data.train, spec.labels, spec.seed)?;
        let synthetic = match (&self.data.synthetic_train, spec.method) {
            (Some(rows), Method::Kd | Method::KdTransfer) if spec.labels == Labels::All => {
                Some(rows)
            }
            (Some(_), Method::Kd | Method::KdTransfer) => bail!(
                "[data] synthetic: its rows are made from every labelled training row, so a \
                 study run with fewer labels ({:?}) would learn from the hidden ones; remove \
                 `synthetic` or the label budgets",
                spec.labels
            ),
            _ => None,
        };
        let rows = match (spec.method, &transfer) {
            // Every label plus the synthetic transfer set, labelled by the teacher only.
            (Method::Kd, _) if synthetic.is_some() => synthetic.expect("matched"),
            (Method::KdTransfer, Some(t)) => t,
            (Method::KdTransfer, None) => bail!(
                "kd+transfer needs rows without labels: labeled_per_class or labeled_fraction, \
                 or CSV rows with an empty target (missing_target_is_unlabeled = true)"
            ),
            _ => &labeled,
        };
        let config = self.trainer_config(spec, rows.len())?;
        let epochs = config.epochs;
        let model_spec = match &spec.student_hidden {
            None => self.experiment.student.model.clone(),
            Some(hidden) => ModelSpec::mlp(hidden.clone(), 0.0),
        };
        let autodiff = device.clone().autodiff();
        autodiff.seed(spec.seed.wrapping_add(1));
        let model: AnyModel =
            model_spec.build(self.data.num_features(), self.data.num_classes(), &autodiff)?;
        let student_params = burn::module::Module::num_params(&model);
        let trainer = self.trainer(spec, config)?;
        let teachers = match spec.method {
            Method::Hard => TeacherSet::none(),
            Method::Kd | Method::KdTransfer => TeacherSet::single(&self.teacher),
        };
        let out = trainer.fit_with(model, rows, &self.data.valid, &teachers)?;
        let probs = predict_proba(&out.last, &self.data.test, 1024);
        let c = self.data.num_classes();
        let labels = self.data.test.labels_host();
        let agreement_with_teacher = self.agreement_with_teacher(&probs);
        // Timed after training, with nothing else running.
        let latency_us = measure::host_latency_us(&out.last, &self.data.test);
        Ok(RunResult {
            spec: spec.clone(),
            n_labeled: labeled.len(),
            n_train_rows: rows.len(),
            epochs,
            student_params,
            accuracy: accuracy(&probs, c, labels)?,
            ece: expected_calibration_error(&probs, c, labels, BINS)?,
            agreement_with_teacher,
            student: measure::student_name(&model_spec, self.data.num_features(), c),
            roc_auc: measure::test_roc_auc(&self.data, &probs),
            log_loss: Some(measure::test_log_loss(&self.data, &probs)?),
            latency_us,
            seconds: started.elapsed().as_secs_f64(),
            reliability: reliability_bins(&probs, c, labels, BINS)?,
            context: self.context.clone(),
        })
    }

    /// The student's settings for one run: the base experiment's, with the run's seed, the
    /// epochs that make its steps over `rows` training rows, its temperature and weights.
    fn trainer_config(&self, spec: &RunSpec, rows: usize) -> Result<TrainerConfig> {
        let base = self.experiment.student_trainer();
        let steps_per_epoch = rows.div_ceil(base.batch_size.max(1));
        let epochs = ((spec.steps as f64 / steps_per_epoch as f64).round() as usize).max(1);
        let mut config = TrainerConfig {
            epochs,
            seed: spec.seed,
            ..base
        };
        let weight = |name: &str| {
            spec.term_weights
                .as_ref()
                .and_then(|w| w.get(name).copied())
        };
        if config.terms.is_empty() {
            config.loss = SoftTargetLossConfig::new(
                spec.temperature,
                weight("ce").unwrap_or(1.0 - spec.kd_weight),
                weight("kd").unwrap_or(spec.kd_weight),
            );
        } else {
            if !spec.keep_term_temperatures {
                config.terms = with_temperature(&config.terms, spec.temperature);
            }
            let names = term_names(&config.terms)?;
            for (term, name) in config.terms.iter_mut().zip(&names) {
                if let Some(w) = weight(name) {
                    term.weight = w;
                }
            }
        }
        Ok(config)
    }

    /// The trainer of one run: silent, checkpointing in the run's own folder (removed once
    /// its result is saved), tagged with the study's context, and resuming inside the run
    /// with `--resume`.
    fn trainer(&self, spec: &RunSpec, config: TrainerConfig) -> Result<Trainer> {
        let role = format!("study/{}", spec.id());
        let mut checkpoints = self.experiment.checkpoint_config(&role);
        checkpoints.tag.clone_from(&self.context);
        let mut trainer = Trainer::new(config)?
            .with_progress(Progress::Silent)
            .with_checkpoints(checkpoints);
        if self.experiment.resume {
            trainer = trainer.resuming();
        }
        Ok(trainer)
    }

    /// The fraction of test rows on which the student (its test probabilities `probs`)
    /// predicts the teacher's class.
    fn agreement_with_teacher(&self, probs: &[f32]) -> f64 {
        let c = self.data.num_classes();
        let predicted: Vec<usize> = probs
            .chunks(c)
            .map(|p| {
                (0..c)
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                    .expect("at least two classes")
            })
            .collect();
        let agree = predicted
            .iter()
            .zip(&self.teacher_test)
            .filter(|(a, b)| a == b)
            .count();
        agree as f64 / self.data.test.len().max(1) as f64
    }
}

/// The terms with every temperature set to `t`.
fn with_temperature(terms: &[LossTerm], t: f64) -> Vec<LossTerm> {
    use dark_knowledge_train::TermKind;
    terms
        .iter()
        .cloned()
        .map(|mut term| {
            match &mut term.kind {
                TermKind::Kd { temperature, .. }
                | TermKind::Dkd { temperature, .. }
                | TermKind::Lskd { temperature, .. } => *temperature = t,
                TermKind::Dist { tau, .. } => *tau = t,
                _ => {}
            }
            term
        })
        .collect()
}

/// The synthetic rows of `data` (`[data] synthetic`) alone, in id order; their ids must
/// follow `data.all`'s, as the precomputed logits are looked up by id.
fn synthetic_part(data: &Prepared) -> Result<Option<dark_knowledge_data::Dataset>> {
    let Some(extended) = &data.synthetic_train else {
        return Ok(None);
    };
    let n = data.all.len();
    let positions: Vec<usize> = (0..extended.len())
        .filter(|&p| extended.row_ids()[p] >= n)
        .collect();
    let part = extended.subset(&positions)?;
    if part
        .row_ids()
        .iter()
        .enumerate()
        .any(|(i, &id)| id != n + i)
    {
        bail!("internal: synthetic row ids do not follow the data's rows");
    }
    Ok(Some(part))
}

/// The teacher's logits over every row of `data`, in order.
fn teacher_logits(teacher: &dyn Teacher, data: &dark_knowledge_data::Dataset) -> Result<Tensor<2>> {
    let mut parts = Vec::new();
    for rows in batch_ranges(data.len(), 2048) {
        let batch = data.range(rows.start, rows.end);
        parts.push(teacher.logits(TeacherBatch {
            inputs: &batch.inputs,
            rows: &batch.rows,
        })?);
    }
    Ok(Tensor::cat(parts, 0))
}

fn run_path(out: &Path, spec: &RunSpec) -> PathBuf {
    out.join("runs").join(format!("{}.json", spec.id()))
}

/// Runs every spec not finished yet (its result file missing, unreadable or made with other
/// settings) and returns every result, in the order of `specs`.
///
/// # Errors
/// Two specs with the same id; a run that fails.
pub fn run_all(
    ctx: &StudyContext,
    specs: &[RunSpec],
    out: &Path,
    device: &Device,
) -> Result<Vec<RunResult>> {
    let mut ids = std::collections::BTreeSet::new();
    for spec in specs {
        crate::ensure!(
            ids.insert(spec.id()),
            "two runs of the study have the same id {}",
            spec.id()
        );
    }
    // Each run file is read once: a finished run of this context, a stale one, or none.
    let saved: Vec<Option<RunResult>> = specs
        .iter()
        .map(|spec| {
            let text = std::fs::read_to_string(run_path(out, spec)).ok()?;
            let result: RunResult = serde_json::from_str(&text).ok()?;
            (result.spec == *spec).then_some(result)
        })
        .collect();
    let stale = saved.iter().flatten().filter(|r| !ctx.made_here(r)).count();
    let mut done: Vec<Option<RunResult>> = saved
        .into_iter()
        .map(|r| r.filter(|r| ctx.made_here(r)))
        .collect();
    let todo = done.iter().filter(|r| r.is_none()).count();
    log::info!(
        "study: {} runs, {} finished before, {todo} to run; results in {}",
        specs.len(),
        specs.len() - todo,
        out.join("runs").display()
    );
    if stale > 0 {
        log::info!(
            "study: {stale} run files there were made with another base experiment, data or \
             teacher; they are run again and replaced"
        );
    }
    let mut results = Vec::with_capacity(specs.len());
    let mut k = 0;
    for (spec, finished) in specs.iter().zip(&mut done) {
        if let Some(result) = finished.take() {
            results.push(result);
            continue;
        }
        k += 1;
        let result = ctx
            .run(spec, device)
            .with_context(|| format!("run {}", spec.id()))?;
        let text = serde_json::to_string_pretty(&result)?;
        write_atomic(&run_path(out, spec), text.as_bytes())?;
        // Best effort: the result is saved, its checkpoints are only disk space now.
        let _ = std::fs::remove_dir_all(out.join("checkpoints/study").join(spec.id()));
        log::info!(
            "[{k}/{todo}] {} {} seed {}: accuracy {:.4} ({} epochs on {} rows, {:.1} s)",
            spec.setting,
            spec.method.name(),
            spec.seed,
            result.accuracy,
            result.epochs,
            result.n_train_rows,
            result.seconds
        );
        results.push(result);
    }
    Ok(results)
}
