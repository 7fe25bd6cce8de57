//! `replicate`: the whole tabular pipeline over seeds 1..=K — each seed its own split, its own
//! teacher, baseline, peers and distilled student — then mean ± std per model and the
//! distilled student's paired differences against every other model (same seed, same split),
//! the honest way to say whether distillation paid.
//!
//! ```text
//! OUT/seed-<k>/          a complete run folder per seed (report.json, report.md, models)
//! OUT/replication.json   every seed's figures, the summary and the paired differences
//! OUT/replication.md     the same as tables
//! ```
//! A seed whose folder already holds a report made from the same experiment is reused, so a
//! stopped replication started again continues.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Context, Result};
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_eval::Report;
use dark_knowledge_train::Progress;
use serde::{Deserialize, Serialize};

use crate::experiment::Experiment;
use crate::run::TeacherSource;
use crate::workflow::Workflow;

/// The student whose gains are measured.
pub const SUBJECT: &str = "distilled";

/// Settings of a replication.
#[derive(Debug, Clone)]
pub struct ReplicateOptions {
    /// The experiment every seed runs (its `seed`, trainer seeds and `output_dir` are replaced).
    pub experiment: Experiment,
    /// Seeds `1..=seeds`.
    pub seeds: u64,
    /// The output folder.
    pub out: PathBuf,
    /// How training reports progress.
    pub progress: Progress,
}

/// One model's figures on one seed's test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// ROC-AUC (binary targets).
    pub roc_auc: Option<f64>,
    /// Log-loss.
    pub log_loss: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Parameters (nodes for trees).
    pub parameters: usize,
}

/// One seed's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// Wall time of its pipeline, seconds (0 when reused).
    pub seconds: f64,
    /// Figures per model role.
    pub models: BTreeMap<String, Figures>,
}

/// Mean and sample standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Values.
    pub n: usize,
}

impl MeanStd {
    /// Of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Self {
            mean,
            std: var.sqrt(),
            n,
        })
    }
}

/// A model's figures over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// Its role.
    pub role: String,
    /// ROC-AUC.
    pub roc_auc: Option<MeanStd>,
    /// Log-loss.
    pub log_loss: MeanStd,
    /// Accuracy.
    pub accuracy: MeanStd,
    /// Parameters on the first seed.
    pub parameters: usize,
}

/// `distilled − other` per seed, over the seeds where both exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// The other model.
    pub other: String,
    /// ROC-AUC difference (higher is better for the student).
    pub roc_auc: Option<MeanStd>,
    /// Log-loss difference (lower is better for the student).
    pub log_loss: MeanStd,
    /// Accuracy difference.
    pub accuracy: MeanStd,
    /// Seeds where the student's ROC-AUC (accuracy without ROC-AUC) is higher.
    pub wins: usize,
}

/// A finished replication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replication {
    /// The data's name.
    pub data: String,
    /// Every seed.
    pub seeds: Vec<SeedRun>,
    /// Per model, in report order.
    pub models: Vec<ModelSummary>,
    /// The distilled student against every other model.
    pub paired: Vec<Paired>,
}

fn figures(report: &Report) -> BTreeMap<String, Figures> {
    report
        .models
        .iter()
        .map(|(role, m)| {
            let f = Figures {
                roc_auc: m.roc_auc,
                log_loss: m.log_loss,
                accuracy: m.accuracy,
                parameters: m.parameters,
            };
            (role.clone(), f)
        })
        .collect()
}

/// The experiment of seed `seed`: its seed, every trainer's seed, and `OUT/seed-<k>`.
pub fn seed_experiment(base: &Experiment, seed: u64, out: &Path) -> Experiment {
    let mut e = base.clone();
    e.seed = seed;
    e.teacher.train.seed = seed;
    e.student.train.seed = seed;
    e.output_dir = out.join(format!("seed-{seed}"));
    e
}

/// The report of a seed's folder made from exactly `experiment`, if there is one.
fn reusable(experiment: &Experiment) -> Option<Report> {
    let dir = &experiment.output_dir;
    let saved = std::fs::read_to_string(dir.join("experiment.toml")).ok()?;
    if saved != experiment.to_toml().ok()? {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("report.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs (or reuses) every seed, then writes `replication.json` and `replication.md`.
///
/// # Errors
/// `seeds` is 0; any seed's pipeline fails; the files cannot be written.
pub fn replicate(o: &ReplicateOptions) -> Result<Replication> {
    crate::ensure!(
        o.seeds >= 1,
        "--seeds {}: allowed: an integer >= 1",
        o.seeds
    );
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let mut runs = Vec::new();
    let mut data = String::new();
    for seed in 1..=o.seeds {
        let experiment = seed_experiment(&o.experiment, seed, &o.out);
        if let Some(report) = reusable(&experiment) {
            log::info!(
                "replicate: seed {seed}: reusing {}",
                experiment.output_dir.display()
            );
            data.clone_from(&report.dataset.name);
            runs.push(SeedRun {
                seed,
                seconds: 0.0,
                models: figures(&report),
            });
            continue;
        }
        log::info!("replicate: seed {seed}/{}", o.seeds);
        let started = Instant::now();
        let workflow = Workflow::new(experiment)?.with_progress(o.progress);
        workflow.train_teacher()?;
        workflow.distill(&TeacherSource::Model)?;
        let report = workflow.evaluate()?;
        data.clone_from(&report.dataset.name);
        let seconds = started.elapsed().as_secs_f64();
        log::info!("replicate: seed {seed} done in {seconds:.0} s");
        runs.push(SeedRun {
            seed,
            seconds,
            models: figures(&report),
        });
    }
    let replication = summarize(data, runs);
    let json = serde_json::to_string_pretty(&replication)?;
    write_atomic(&o.out.join("replication.json"), json.as_bytes())?;
    write_atomic(
        &o.out.join("replication.md"),
        replication.markdown().as_bytes(),
    )?;
    Ok(replication)
}

/// The summary and the paired differences of `runs`.
pub fn summarize(data: String, runs: Vec<SeedRun>) -> Replication {
    let mut roles: Vec<String> = Vec::new();
    for run in &runs {
        for role in run.models.keys() {
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
    }
    let order = |r: &str| {
        dark_knowledge_eval::PREFERRED_MODEL_ORDER
            .iter()
            .position(|&p| p == r)
    };
    roles.sort_by_key(|r| (order(r).unwrap_or(usize::MAX), r.clone()));
    let collect = |role: &str, get: &dyn Fn(&Figures) -> Option<f64>| -> Vec<f64> {
        runs.iter()
            .filter_map(|r| r.models.get(role).and_then(get))
            .collect()
    };
    let models = roles
        .iter()
        .map(|role| ModelSummary {
            role: role.clone(),
            roc_auc: MeanStd::of(&collect(role, &|f| f.roc_auc)),
            log_loss: MeanStd::of(&collect(role, &|f| Some(f.log_loss))).expect("a seed has it"),
            accuracy: MeanStd::of(&collect(role, &|f| Some(f.accuracy))).expect("a seed has it"),
            parameters: runs
                .iter()
                .find_map(|r| r.models.get(role))
                .map_or(0, |f| f.parameters),
        })
        .collect();
    let paired = roles
        .iter()
        .filter(|r| r.as_str() != SUBJECT)
        .filter_map(|other| paired(&runs, other))
        .collect();
    Replication {
        data,
        seeds: runs,
        models,
        paired,
    }
}

fn paired(runs: &[SeedRun], other: &str) -> Option<Paired> {
    let both: Vec<(&Figures, &Figures)> = runs
        .iter()
        .filter_map(|r| Some((r.models.get(SUBJECT)?, r.models.get(other)?)))
        .collect();
    let diff = |get: &dyn Fn(&Figures) -> Option<f64>| -> Vec<f64> {
        both.iter()
            .filter_map(|(s, o)| Some(get(s)? - get(o)?))
            .collect()
    };
    let roc = diff(&|f| f.roc_auc);
    let acc = diff(&|f| Some(f.accuracy));
    let wins = if roc.is_empty() { &acc } else { &roc };
    Some(Paired {
        other: other.to_string(),
        roc_auc: MeanStd::of(&roc),
        log_loss: MeanStd::of(&diff(&|f| Some(f.log_loss)))?,
        accuracy: MeanStd::of(&acc)?,
        wins: wins.iter().filter(|&&d| d > 0.0).count(),
    })
}

fn pm(m: Option<MeanStd>, digits: usize) -> String {
    m.map_or_else(
        || "–".into(),
        |m| format!("{:.digits$} ± {:.digits$}", m.mean, m.std),
    )
}

/// ROC-AUC, log-loss (4 digits) and accuracy in % (2 digits) as table cells.
fn figure_cells(roc_auc: Option<MeanStd>, log_loss: MeanStd, accuracy: MeanStd) -> String {
    let percent = MeanStd {
        mean: accuracy.mean * 100.0,
        std: accuracy.std * 100.0,
        ..accuracy
    };
    format!(
        "{} | {} | {}",
        pm(roc_auc, 4),
        pm(Some(log_loss), 4),
        pm(Some(percent), 2)
    )
}

impl Replication {
    /// The tables of `replication.md`.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let n = self.seeds.len();
        let _ = writeln!(s, "# Replication: {} over {n} seed(s)\n", self.data);
        let _ = writeln!(
            s,
            "Test split of each seed's own split; mean ± sample std over seeds.\n"
        );
        let _ = writeln!(
            s,
            "| model | ROC-AUC | log-loss | accuracy % | parameters |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for m in &self.models {
            let cells = figure_cells(m.roc_auc, m.log_loss, m.accuracy);
            let _ = writeln!(s, "| {} | {cells} | {} |", m.role, m.parameters);
        }
        let _ = writeln!(
            s,
            "\n## The distilled student against each model, paired by seed\n"
        );
        let _ = writeln!(
            s,
            "`distilled − model`; ROC-AUC and accuracy: higher is better for the student, log-loss: lower.\n"
        );
        let _ = writeln!(
            s,
            "| model | Δ ROC-AUC | Δ log-loss | Δ accuracy (points) | student better |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for p in &self.paired {
            let cells = figure_cells(p.roc_auc, p.log_loss, p.accuracy);
            let _ = writeln!(s, "| {} | {cells} | {}/{} |", p.other, p.wins, p.accuracy.n);
        }
        let total: f64 = self.seeds.iter().map(|r| r.seconds).sum();
        let _ = writeln!(s, "\nWall time of the pipelines run here: {total:.0} s.");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(roc: f64, loss: f64, acc: f64) -> Figures {
        Figures {
            roc_auc: Some(roc),
            log_loss: loss,
            accuracy: acc,
            parameters: 10,
        }
    }

    #[test]
    fn paired_differences_are_per_seed_and_count_wins() {
        let run = |seed, d: f64, b: f64| SeedRun {
            seed,
            seconds: 1.0,
            models: BTreeMap::from([
                ("distilled".to_string(), f(d, 0.2, 0.9)),
                ("baseline".to_string(), f(b, 0.3, 0.8)),
            ]),
        };
        // Seed means would hide that the student wins on 2 of 3 seeds.
        let r = summarize(
            "t".into(),
            vec![run(1, 0.90, 0.80), run(2, 0.70, 0.72), run(3, 0.85, 0.75)],
        );
        assert_eq!(r.models[0].role, "baseline");
        let p = &r.paired[0];
        assert_eq!((p.other.as_str(), p.wins), ("baseline", 2));
        let d = p.roc_auc.unwrap();
        assert!((d.mean - (0.10 - 0.02 + 0.10) / 3.0).abs() < 1e-12);
        let diffs = [0.10, -0.02, 0.10];
        let var = diffs.iter().map(|x| (x - d.mean).powi(2)).sum::<f64>() / 2.0;
        assert!((d.std - var.sqrt()).abs() < 1e-12);
        assert!((p.log_loss.mean + 0.1).abs() < 1e-12);
        let md = r.markdown();
        assert!(md.contains("| baseline |") && md.contains("2/3"), "{md}");
    }

    #[test]
    fn a_model_missing_on_a_seed_is_paired_only_where_both_exist() {
        let mut a = SeedRun {
            seed: 1,
            seconds: 0.0,
            models: BTreeMap::new(),
        };
        a.models.insert("distilled".into(), f(0.9, 0.2, 0.9));
        let mut b = a.clone();
        b.seed = 2;
        b.models.insert("trees".into(), f(0.8, 0.3, 0.8));
        let r = summarize("t".into(), vec![a, b]);
        assert_eq!(r.paired[0].accuracy.n, 1);
        assert_eq!(MeanStd::of(&[]), None);
        assert_eq!(MeanStd::of(&[2.0]).unwrap().std, 0.0);
    }
}
