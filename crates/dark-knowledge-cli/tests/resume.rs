//! `train-teacher` and `distill` killed with SIGKILL at random steps (one of them while a
//! checkpoint is being written), then run again with `--resume`, end with the models of an
//! uninterrupted run: `predict` gives identical probabilities, and no temporary file is left.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fails, ok, scratch};

/// The churn experiment, reduced, with a checkpoint every 7 steps.
fn experiment(dir: &Path) -> PathBuf {
    let text = include_str!("../../../examples/experiments/churn.toml")
        .replace(
            "output_dir = \"../../runs/churn-experiment\"",
            "output_dir = \"run\"",
        )
        .replace("hidden_sizes = [512, 512]", "hidden_sizes = [256, 256]")
        .replace("epochs = 40", "epochs = 4")
        + "\n[checkpoints]\nevery_steps = 7\n";
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("churn.toml");
    std::fs::write(&config, text).unwrap();
    config
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dark-knowledge"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn is_temp(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
}

/// The newest checkpoint step of model `role`.
fn newest_step(run: &Path, role: &str) -> Option<usize> {
    files(&run.join("checkpoints").join(role))
        .iter()
        .filter_map(|p| {
            p.file_name()?
                .to_str()?
                .strip_prefix("checkpoint-")?
                .strip_suffix(".dkc")?
                .parse()
                .ok()
        })
        .max()
}

/// Kills `child` with SIGKILL as soon as `when` holds; returns whether it was still running
/// then (false: it finished first).
fn kill_when(mut child: Child, mut when: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if when() {
            child.kill().unwrap(); // SIGKILL on Unix
            child.wait().unwrap();
            return true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no kill point in 300 s"
        );
    }
}

/// A pseudo-random number in `lo..hi` from the clock (printed on failure).
fn random_in(lo: usize, hi: usize) -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    lo + nanos % (hi - lo).max(1)
}

fn predictions(run: &Path, model: &str, dir: &Path) -> String {
    let input = dir.join("rows.csv");
    let rows: Vec<&str> = dark_knowledge_data::CHURN_CSV.lines().take(300).collect();
    std::fs::write(&input, rows.join("\n") + "\n").unwrap();
    let out = dir.join(format!("{model}-scores.csv"));
    ok(&[
        "predict",
        "--run",
        run.to_str().unwrap(),
        "--model",
        model,
        "--csv",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn killed_training_resumes_to_the_uninterrupted_models() {
    let dir = scratch("resume");
    let err = fails(&["demo", "--resume"]);
    assert!(err.contains("--out"), "{err}");
    // The uninterrupted reference.
    let reference = experiment(&dir.join("reference"));
    let cfg = reference.to_str().unwrap();
    ok(&["--progress", "none", "train-teacher", "--config", cfg]);
    ok(&["--progress", "none", "distill", "--config", cfg]);

    let config = experiment(&dir.join("killed"));
    let cfg = config.to_str().unwrap();
    let err = fails(&["train-teacher", "--config", cfg, "--checkpoint-every", "0"]);
    assert!(err.contains("every_steps") && err.contains(">= 1"), "{err}");
    let run = dir.join("killed/run");
    let args = |command: &'static str, resume: bool| {
        let mut a = vec!["--progress", "none", command, "--config", cfg];
        if resume {
            a.push("--resume");
        }
        a
    };
    // 1. The teacher, killed at a random step after a random checkpoint.
    let at = random_in(7, 120);
    let killed = kill_when(spawn(&args("train-teacher", false)), || {
        newest_step(&run, "teacher").is_some_and(|s| s >= at)
    });
    assert!(killed, "train-teacher ended before step {at}");
    // 2. Resumed, and killed again while a checkpoint is being written (a temporary file in
    // the checkpoint folder); a few tries, since a write takes milliseconds.
    let mut mid_write = false;
    for _ in 0..20 {
        let before = newest_step(&run, "teacher").unwrap_or(0);
        let killed = kill_when(spawn(&args("train-teacher", true)), || {
            newest_step(&run, "teacher").unwrap_or(0) > before
                && files(&run.join("checkpoints/teacher"))
                    .iter()
                    .any(|p| is_temp(p))
        });
        if !killed {
            break;
        }
        if files(&run).iter().any(|p| is_temp(p)) {
            mid_write = true;
            break;
        }
    }
    assert!(mid_write, "no kill landed inside a checkpoint write");
    ok(&args("train-teacher", true));
    // 3. distill (baseline, then distilled), killed at a random step of the distilled
    // student, then resumed.
    let at = random_in(3, 150);
    let killed = kill_when(spawn(&args("distill", false)), || {
        newest_step(&run, "distilled").is_some_and(|s| s >= at)
    });
    assert!(killed, "distill ended before step {at}");
    ok(&args("distill", true));

    let leftovers: Vec<PathBuf> = files(&run).into_iter().filter(|p| is_temp(p)).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    for model in ["teacher", "baseline", "distilled"] {
        let a = predictions(&dir.join("reference/run"), model, &dir);
        let b = predictions(&run, model, &dir);
        assert!(a.lines().count() > 100, "{a}");
        assert_eq!(
            a, b,
            "{model}: the resumed run predicts otherwise (kill points: {at})"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
