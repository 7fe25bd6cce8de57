//! Running one hostile case: a copy of a small trained run folder, changed by the case, one
//! command, and the checks every case shares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::copy_dir;

/// One change to the copy of the base folder.
pub enum Step {
    /// Replaces the first `.0` in `experiment.toml` by `.1`.
    Edit(&'static str, &'static str),
    /// Adds lines to the `[data]` table of `experiment.toml`.
    DataKeys(&'static str),
    /// Appends lines to `experiment.toml`.
    Append(&'static str),
    /// Replaces the first `.1` in the text file `.0` (relative to the folder) by `.2`.
    Replace(&'static str, &'static str, &'static str),
    /// Writes a file (relative to the folder).
    Write(&'static str, &'static str),
    /// Removes a file or a folder.
    Remove(&'static str),
    /// Any other change.
    With(fn(&Path)),
}

impl Step {
    fn apply(&self, dir: &Path) {
        match self {
            Step::Edit(from, to) => replace_in(dir, "experiment.toml", from, to),
            Step::Replace(file, from, to) => replace_in(dir, file, from, to),
            Step::DataKeys(lines) => {
                let anchor = "positive = \"yes\"\n";
                replace_in(
                    dir,
                    "experiment.toml",
                    anchor,
                    &format!("{anchor}{lines}\n"),
                );
            }
            Step::Append(lines) => {
                let toml = dir.join("experiment.toml");
                let text = std::fs::read_to_string(&toml).unwrap();
                std::fs::write(&toml, format!("{text}{lines}\n")).unwrap();
            }
            Step::Write(name, text) => std::fs::write(dir.join(name), text).unwrap(),
            Step::Remove(name) => {
                let path = dir.join(name);
                if path.is_dir() {
                    std::fs::remove_dir_all(path).unwrap();
                } else {
                    std::fs::remove_file(path).unwrap();
                }
            }
            Step::With(f) => f(dir),
        }
    }
}

/// Replaces the first `from` in the text file `name` of `dir` (which must contain it) by `to`.
fn replace_in(dir: &Path, name: &str, from: &str, to: &str) {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{name} has no {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// One bad input or fault: changes, then one command that must fail.
pub struct Case {
    /// What the case does, as the failure message says it.
    pub name: &'static str,
    /// The changes to the copy of the base folder, in order.
    pub steps: &'static [Step],
    /// The command's arguments (run in the folder).
    pub command: &'static [&'static str],
    /// Words the error message must contain, each case-insensitively.
    pub expect: &'static [&'static str],
}

/// `train-teacher` on the folder's experiment file.
pub const TRAIN_TEACHER: &[&str] = &[
    "--progress",
    "none",
    "train-teacher",
    "--config",
    "experiment.toml",
];
/// `distill` on the folder's experiment file.
pub const DISTILL: &[&str] = &[
    "--progress",
    "none",
    "distill",
    "--config",
    "experiment.toml",
];
/// `evaluate` on the folder's experiment file.
pub const EVALUATE: &[&str] = &[
    "--progress",
    "none",
    "evaluate",
    "--config",
    "experiment.toml",
];
/// `predict` with the distilled student on the table.
pub const PREDICT: &[&str] = &[
    "predict", "--run", "run", "--csv", "data.csv", "--out", "s.csv",
];

/// The binary under test.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dark-knowledge"));
    command.env("BURN_DEVICE", "cpu");
    command
}

/// Runs the binary in `dir` with `args`.
pub fn run_in(dir: &Path, args: &[String]) -> Output {
    binary()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// `args` as owned strings.
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The rows of the table every case starts from: two numeric columns, a categorical one and
/// a binary target, 240 rows, deterministic.
pub fn table_csv() -> String {
    let mut s = String::from("a,b,colour,y\n");
    for i in 0..240usize {
        let a = (i % 17) as f64 * 0.3;
        let b = ((i * 7) % 13) as f64;
        let colour = ["red", "green", "blue"][i % 3];
        let score = a + if colour == "red" { 2.0 } else { 0.0 } + b * 0.1;
        let y = if score > 3.2 { "yes" } else { "no" };
        s.push_str(&format!("{a},{b},{colour},{y}\n"));
    }
    s
}

/// The experiment every run-folder case starts from (paths relative to its folder).
pub const EXPERIMENT: &str = r#"
seed = 7
output_dir = "run"
[data]
source = "csv"
path = "data.csv"
target = "y"
positive = "yes"
[teacher]
model = { kind = "mlp", hidden_sizes = [16] }
[teacher.train]
epochs = 2
batch_size = 32
learning_rate = 0.01
[student]
model = { kind = "mlp", hidden_sizes = [4] }
[student.train]
epochs = 2
batch_size = 32
learning_rate = 0.01
"#;

/// A folder with `data.csv`, `experiment.toml` and the trained, evaluated run `run/`
/// (teacher, baseline, distilled), made once per test process.
pub fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dk-hostile-base-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data.csv"), table_csv()).unwrap();
        std::fs::write(dir.join("experiment.toml"), EXPERIMENT).unwrap();
        for command in ["train-teacher", "cache-teacher", "distill", "evaluate"] {
            let out = run_in(
                &dir,
                &args(&["--progress", "none", command, "--config", "experiment.toml"]),
            );
            assert!(
                out.status.success(),
                "base run: {command} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir
    })
}

/// A fresh copy of the base folder for the case `name`.
pub fn fresh(name: &str) -> PathBuf {
    let slug: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(60)
        .collect();
    let dir = std::env::temp_dir().join(format!("dk-hostile-{}-{slug}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(base(), &dir);
    dir
}

/// Every regular file below `dir` with its blake3 hash.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                files.insert(path, blake3::hash(&bytes).to_hex().to_string());
            }
        }
    }
    files
}

/// Temporary files (`.NAME.tmp-…`) below `dir`.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
        })
        .collect()
}

/// What went wrong with one case, or `None` when it held.
pub fn check(case: &Case) -> Option<String> {
    let dir = fresh(case.name);
    for step in case.steps {
        step.apply(&dir);
    }
    let arguments = args(case.command);
    let before = snapshot(&dir);
    let out = run_in(&dir, &arguments);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lower = stderr.to_lowercase();
    let after = snapshot(&dir);
    println!(
        "{}: exit {:?}: {}",
        case.name,
        out.status.code(),
        stderr.trim().lines().last().unwrap_or("")
    );
    let mut problems = Vec::new();
    match out.status.code() {
        Some(0) => problems.push("exit code 0".to_string()),
        Some(101) => problems.push("exit code 101 (a panic)".to_string()),
        None => problems.push("killed by a signal".to_string()),
        Some(_) => {}
    }
    if lower.contains("panicked") {
        problems.push("a panic message".into());
    }
    for word in case.expect {
        if !lower.contains(&word.to_lowercase()) {
            problems.push(format!("the message does not say {word:?}"));
        }
    }
    for (path, hash) in &before {
        match after.get(path) {
            None => problems.push(format!("{} was removed", path.display())),
            Some(h) if h != hash => problems.push(format!("{} was changed", path.display())),
            Some(_) => {}
        }
    }
    let temps = temp_files(&dir);
    if !temps.is_empty() {
        problems.push(format!("temporary files left: {temps:?}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
    (!problems.is_empty()).then(|| {
        format!(
            "{}: {}\n  args: {arguments:?}\n  stderr: {}",
            case.name,
            problems.join("; "),
            stderr.trim()
        )
    })
}

/// Runs every case and fails listing all that did not hold.
pub fn check_all(cases: &[Case]) {
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    println!("{} cases, {} failed", cases.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
