//! Models that are not one network trained by gradients: boosted trees (fitted on the host),
//! deep ensembles (members trained from different seeds) and `auto` (every candidate fitted,
//! the lowest validation log-loss kept, the others saved as `candidate-<kind>` peers).

use std::time::Instant;

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_models::{
    AnyModel, GbdtConfig, LabeledRows, ModelEnsemble, ModelSpec, TreeModel,
};
use dark_knowledge_train::{Progress, Trainer};
use serde::{Deserialize, Serialize};

use super::{Job, RunDir, TrainingMetrics, save_trained, write_json};
use crate::experiment::Experiment;
use crate::prepare::Prepared;

/// `OUT/teacher_selection.json`: what `model = "auto"` fitted and what it kept.
pub const SELECTION_FILE: &str = "teacher_selection.json";

/// One candidate of an `auto` teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its kind (`gbdt`, `mlp`, `ensemble`, …).
    pub kind: String,
    /// What was fitted, e.g. `GBDT 71-2 (120 trees, 1,822 nodes)`.
    pub description: String,
    /// Its spec.
    pub spec: ModelSpec,
    /// Mean validation log-loss.
    pub valid_log_loss: f64,
    /// Seconds to fit it.
    pub fit_seconds: f64,
    /// The role it is saved as: `teacher` for the chosen one, `candidate-<kind>` otherwise.
    pub role: String,
}

/// What `auto` chose among its candidates, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeacherSelection {
    /// Every candidate, in the order fitted.
    pub candidates: Vec<Candidate>,
    /// The index of the kept one.
    pub chosen: usize,
    /// How it was chosen.
    pub rule: String,
}

impl TeacherSelection {
    /// One line for logs, the report and the card.
    pub fn summary(&self) -> String {
        let c = &self.candidates[self.chosen];
        let others: Vec<String> = self
            .candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.chosen)
            .map(|(_, o)| format!("{} {:.4}", o.kind, o.valid_log_loss))
            .collect();
        format!(
            "teacher = \"auto\" kept {} ({}), validation log-loss {:.4}; the others: {}",
            c.kind,
            c.description,
            c.valid_log_loss,
            others.join(", ")
        )
    }

    /// Reads the run's selection file, when it has one.
    pub fn read(run: &RunDir) -> Option<Self> {
        let text = std::fs::read_to_string(run.0.join(SELECTION_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// A model fitted or trained, with what its `metrics.json` records, not saved yet.
pub(super) struct Fitted {
    pub model: AnyModel,
    pub spec: ModelSpec,
    pub metrics: TrainingMetrics,
}

/// The mean validation log-loss of `model`.
pub(super) fn valid_log_loss(model: &AnyModel, data: &Prepared) -> Result<f64> {
    let probs = dark_knowledge_eval::predict_proba(model, &data.valid, 1024);
    Ok(dark_knowledge_eval::log_loss(
        &probs,
        data.num_classes(),
        data.valid.labels_host(),
    )?)
}

/// Fits boosted trees on the labelled training rows, stopped early on the validation rows.
pub(super) fn fit_trees(data: &Prepared, config: &GbdtConfig, job: &Job<'_>) -> Result<Fitted> {
    let train = data.train_for(false);
    let (x, y) = (to_vec_f32(train.features().clone()), train.labels_host());
    let xv = to_vec_f32(data.valid.features().clone());
    let started = Instant::now();
    let ensemble = config
        .fit(
            LabeledRows {
                features: &x,
                labels: y,
            },
            LabeledRows {
                features: &xv,
                labels: data.valid.labels_host(),
            },
            data.num_features(),
            data.num_classes(),
            job.init_seed,
        )
        .map_err(crate::Error::msg)
        .with_context(|| format!("fitting the {} trees", job.role))?;
    log::info!(
        "{}: {} fitted in {:.1} s on {} labelled rows",
        job.role,
        ensemble.describe(),
        started.elapsed().as_secs_f64(),
        y.len()
    );
    let trees = ensemble.num_trees();
    let model = AnyModel::Trees(TreeModel::new(ensemble).map_err(crate::Error::msg)?);
    let metrics = TrainingMetrics {
        best_epoch: trees,
        trainer: job.config.clone(),
        history: Vec::new(),
        stopped: None,
        taught_by: format!(
            "labels only (gradient-boosted trees, {trees} trees kept by early stopping on \
             validation log-loss; `best_epoch` counts trees)"
        ),
    };
    Ok(Fitted {
        model,
        spec: ModelSpec::Gbdt(config.clone()),
        metrics,
    })
}

/// Trains `members` networks of `member` from labels, seeds `init_seed + 7919·k`, and
/// averages their probabilities.
pub(super) fn train_ensemble(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    (members, member): (usize, &ModelSpec),
    job: &Job<'_>,
    progress: Progress,
) -> Result<Fitted> {
    let mut models = Vec::with_capacity(members);
    let mut first = None;
    for k in 0..members {
        device.seed(job.init_seed.wrapping_add(7919 * k as u64));
        let model = member.build(data.num_features(), data.num_classes(), device)?;
        let mut config = job.config.clone();
        config.seed = config.seed.wrapping_add(k as u64);
        let label = format!("{}[{}/{members}]", job.role, k + 1);
        let trainer = Trainer::new(config)?
            .with_progress(progress)
            .with_label(&label);
        let trainer = experiment.checkpointed(trainer, &format!("{}-member-{k}", job.role));
        let out = trainer.fit_with(model, data.train_for(false), &data.valid, &job.teachers)?;
        log::info!("{label}: best epoch {}", out.best_epoch);
        models.push(out.best);
        first.get_or_insert((out.best_epoch, out.history, out.stopped));
    }
    let (best_epoch, history, stopped) = first.expect("an ensemble has members");
    let spec = ModelSpec::Ensemble {
        members,
        model: Box::new(member.clone()),
    };
    Ok(Fitted {
        model: AnyModel::Ensemble(ModelEnsemble::new(models)),
        spec,
        metrics: TrainingMetrics {
            best_epoch,
            trainer: job.config.clone(),
            history,
            stopped,
            taught_by: format!(
                "labels only (deep ensemble of {members}: probabilities averaged; the history \
                 is the first member's)"
            ),
        },
    })
}

/// Fits every candidate of `auto`, saves the one with the lowest validation log-loss as the
/// job's role and each other as `candidate-<kind>`, and writes [`SELECTION_FILE`].
pub(super) fn fit_auto(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    candidates: &[ModelSpec],
    job: &Job<'_>,
    progress: Progress,
) -> Result<AnyModel> {
    let run = RunDir::of(experiment);
    let mut fitted = Vec::with_capacity(candidates.len());
    let mut rows = Vec::with_capacity(candidates.len());
    for spec in candidates {
        let started = Instant::now();
        let one = super::fit_model(experiment, data, device, spec, job, progress)?;
        let loss = valid_log_loss(&one.model, data)?;
        log::info!(
            "{}: candidate {}: validation log-loss {loss:.4}",
            job.role,
            spec.kind()
        );
        rows.push(Candidate {
            kind: spec.kind().to_string(),
            description: super::describe_model(&one.model, &one.spec, data),
            spec: one.spec.clone(),
            valid_log_loss: loss,
            fit_seconds: started.elapsed().as_secs_f64(),
            role: String::new(),
        });
        fitted.push(one);
    }
    // Strictly lower only: ties keep the earlier candidate.
    let chosen = (0..rows.len())
        .reduce(|a, b| {
            if rows[b].valid_log_loss < rows[a].valid_log_loss {
                b
            } else {
                a
            }
        })
        .context("auto has no candidate")?;
    if !rows[chosen].valid_log_loss.is_finite() {
        bail!("no auto candidate reached a finite validation log-loss");
    }
    let summary = TeacherSelection {
        candidates: rows.clone(),
        chosen,
        rule: String::new(),
    }
    .summary();
    let mut kept = None;
    for (i, mut one) in fitted.into_iter().enumerate() {
        if i == chosen {
            one.metrics.taught_by = format!("{}; {summary}", one.metrics.taught_by);
        }
        let same_kind_before = rows[..i].iter().filter(|r| r.kind == rows[i].kind).count();
        let role = match (i == chosen, same_kind_before) {
            (true, _) => job.role.to_string(),
            (false, 0) => format!("candidate-{}", rows[i].kind),
            (false, n) => format!("candidate-{}-{}", rows[i].kind, n + 1),
        };
        save_trained(&run, &role, &one.spec, data, &one.model, &one.metrics)?;
        rows[i].role = role;
        if i == chosen {
            kept = Some(one.model);
        }
    }
    let selection = TeacherSelection {
        candidates: rows,
        chosen,
        rule: "lowest mean log-loss on the validation split".into(),
    };
    log::info!("{}", selection.summary());
    write_json(&run.0.join(SELECTION_FILE), &selection)?;
    Ok(kept.expect("the chosen candidate was saved"))
}

/// Adds what the report needs about fitted models: the `auto` selection (a note), and for
/// boosted trees their node count as `parameters` and `trees.json` as `bytes` (a note says
/// so).
pub(super) fn describe_fitted(run: &RunDir, report: &mut dark_knowledge_eval::Report) {
    if let Some(selection) = TeacherSelection::read(run) {
        report.add_note(selection.summary());
    }
    let mut any_trees = false;
    for (role, metrics) in &mut report.models {
        let path = run.role(role).join(dark_knowledge_models::TREES_FILE);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Ok(trees) = serde_json::from_slice::<dark_knowledge_models::TreeEnsemble>(&bytes) {
            metrics.parameters = trees.num_nodes();
            metrics.bytes = bytes.len();
            any_trees = true;
        }
    }
    if any_trees {
        report.add_note(
            "boosted trees: `Parameters` counts their nodes, `Size` is trees.json; they are scored \
             on the host",
        );
    }
}

/// Fits the `trees` peer (boosted trees from labels, default settings) when `[student] trees`
/// is on, the data are tabular and the teacher is not trees already (its row is the tree
/// row then); saved like every model, so the report and card compare it.
pub(super) fn fit_tree_peer(
    experiment: &Experiment,
    data: &Prepared,
    config: &dark_knowledge_train::TrainerConfig,
) -> Result<()> {
    let teacher_is_trees = experiment.teacher.model.is_trees()
        || TeacherSelection::read(&RunDir::of(experiment))
            .is_some_and(|s| s.candidates.iter().any(|c| c.spec.is_trees()));
    if !experiment.student.trees
        || experiment.data.source == crate::experiment::DataSource::FashionMnist
        || teacher_is_trees
    {
        return Ok(());
    }
    let job = Job {
        role: "trees",
        spec: &ModelSpec::Gbdt(GbdtConfig::default()),
        config,
        teachers: dark_knowledge_train::TeacherSet::none(),
        init_seed: experiment.seed.wrapping_add(3),
    };
    let one = fit_trees(data, &GbdtConfig::default(), &job)?;
    save_trained(
        &RunDir::of(experiment),
        "trees",
        &one.spec,
        data,
        &one.model,
        &one.metrics,
    )
}

/// Removes what an earlier `auto` teacher left (the selection file and the `candidate-*`
/// models) before a teacher is trained again: they describe the previous teacher.
pub(super) fn forget_selection(run: &RunDir) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(&run.0) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with("candidate-") && path.join("model.json").exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("removing the earlier candidate {}", path.display()))?;
        } else if name == SELECTION_FILE {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}
