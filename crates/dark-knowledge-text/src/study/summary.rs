//! The study's results: one row per (seed, arm), and the table over seeds, paired by seed
//! against the student from scratch.

use serde::{Deserialize, Serialize};

/// One trained model of the study, scored on the held-out test text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmRunResult {
    /// The seed (teacher and students of a seed share it).
    pub seed: u64,
    /// `teacher`, or the arm's name.
    pub arm: String,
    /// Test bits per character.
    pub test_bits: f64,
    /// Validation bits per character after the last step.
    pub valid_bits: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// Steps taken.
    pub steps: usize,
    /// Batches that were the student's own samples (on-policy arms).
    pub on_policy_batches: usize,
    /// Wall time, seconds (training, plus writing the arm's transfer set or cache).
    pub seconds: f64,
    /// The settings the result was computed with, to resume only what matches.
    pub setup: serde_json::Value,
}

/// One arm over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// `teacher`, or the arm's name.
    pub arm: String,
    /// Seeds with a result.
    pub runs: usize,
    /// Mean test bits per character.
    pub mean: f64,
    /// Sample standard deviation over seeds (0 for one seed).
    pub std: f64,
    /// Mean over seeds of (this arm − scratch), bits per character; negative is better.
    pub delta_vs_scratch: Option<f64>,
    /// Standard deviation of that difference.
    pub delta_std: Option<f64>,
    /// Seeds where this arm's bits are below scratch's.
    pub wins_vs_scratch: Option<usize>,
    /// Mean wall time per run, seconds.
    pub seconds: f64,
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The table over seeds, in the order arms first appear (the teacher first).
pub fn summarize(runs: &[LmRunResult]) -> Vec<ArmSummary> {
    let mut arms: Vec<&str> = Vec::new();
    for r in runs {
        if !arms.contains(&r.arm.as_str()) {
            arms.push(&r.arm);
        }
    }
    let scratch: Vec<&LmRunResult> = runs.iter().filter(|r| r.arm == "scratch").collect();
    arms.iter()
        .map(|arm| {
            let mine: Vec<&LmRunResult> = runs.iter().filter(|r| r.arm == *arm).collect();
            let bits: Vec<f64> = mine.iter().map(|r| r.test_bits).collect();
            let (mean, std) = mean_std(&bits);
            let deltas: Vec<f64> = mine
                .iter()
                .filter_map(|r| {
                    scratch
                        .iter()
                        .find(|s| s.seed == r.seed)
                        .map(|s| r.test_bits - s.test_bits)
                })
                .collect();
            let paired = (*arm != "scratch" && !deltas.is_empty()).then(|| mean_std(&deltas));
            ArmSummary {
                arm: arm.to_string(),
                runs: mine.len(),
                mean,
                std,
                delta_vs_scratch: paired.map(|p| p.0),
                delta_std: paired.map(|p| p.1),
                wins_vs_scratch: paired.map(|_| deltas.iter().filter(|d| **d < 0.0).count()),
                seconds: mine.iter().map(|r| r.seconds).sum::<f64>() / mine.len().max(1) as f64,
            }
        })
        .collect()
}

/// The table as Markdown.
pub fn markdown(summaries: &[ArmSummary], runs: &[LmRunResult]) -> String {
    let mut out = String::from(
        "| model | parameters | test bits/char (mean ± std) | Δ vs scratch (paired) | seeds better | s per run |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for s in summaries {
        let params = runs
            .iter()
            .find(|r| r.arm == s.arm)
            .map_or(0, |r| r.parameters);
        let delta = match (s.delta_vs_scratch, s.delta_std, s.wins_vs_scratch) {
            (Some(d), Some(sd), Some(w)) => {
                (format!("{d:+.4} ± {sd:.4}"), format!("{w}/{}", s.runs))
            }
            _ => ("—".into(), "—".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {:.4} ± {:.4} | {} | {} | {:.0} |\n",
            s.arm, params, s.mean, s.std, delta.0, delta.1, s.seconds
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, arm: &str, bits: f64) -> LmRunResult {
        LmRunResult {
            seed,
            arm: arm.into(),
            test_bits: bits,
            valid_bits: bits,
            parameters: 10,
            steps: 1,
            on_policy_batches: 0,
            seconds: 1.0,
            setup: serde_json::Value::Null,
        }
    }

    #[test]
    fn differences_are_paired_by_seed() {
        // Seed 2's scratch is much worse: unpaired means would hide that kd loses on seed 1.
        let runs = vec![
            run(1, "scratch", 2.0),
            run(2, "scratch", 3.0),
            run(1, "kd", 2.1),
            run(2, "kd", 2.5),
        ];
        let s = summarize(&runs);
        assert_eq!(s[0].arm, "scratch");
        assert_eq!(s[0].delta_vs_scratch, None);
        let kd = &s[1];
        assert!((kd.mean - 2.3).abs() < 1e-12);
        assert!((kd.delta_vs_scratch.unwrap() - (-0.2)).abs() < 1e-12);
        assert_eq!(kd.wins_vs_scratch, Some(1));
        let (_, sd) = mean_std(&[0.1, -0.5]);
        assert!((kd.delta_std.unwrap() - sd).abs() < 1e-12);
        let md = markdown(&s, &runs);
        assert!(
            md.contains("| kd | 10 | 2.3000 ± 0.2828 | -0.2000 ± 0.4243 | 1/2 |"),
            "{md}"
        );
    }
}
