//! Running the `dark-knowledge` binary and checking what it writes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub mod student;

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies `from` into a new folder `to`, recursively (regular files and folders).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dark-knowledge"))
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked"),
        "a panic instead of an error:\n{stderr}"
    );
    stderr
}

/// A `.npy` file (version 1) of `rows x cols` values of type `descr` (`<f4`, `<f8`, `<i4`, …)
/// whose little-endian bytes are `data`.
pub fn npy(descr: &str, rows: usize, cols: usize, data: &[u8]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Asserts that `out` failed cleanly (an exit code neither 0 nor a panic's 101, no panic
/// message) with every word of `words` in its message; returns the message.
pub fn refused(out: &Output, words: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| c != 0 && c != 101),
        "exit {code:?}:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "a panic:\n{stderr}");
    for w in words {
        assert!(stderr.contains(w), "no {w:?} in:\n{stderr}");
    }
    stderr
}

pub fn report(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json written");
    serde_json::from_str(&text).unwrap()
}

const KEYS: [&str; 12] = [
    "accuracy",
    "macro_f1",
    "log_loss",
    "ece",
    "brier",
    "agreement_with_teacher",
    "kl_to_teacher",
    "parameters",
    "bytes",
    "latency_us_batch1",
    "throughput_per_s_batch1024",
    "per_class",
];

pub fn check_sane(model: &Value, binary: bool) {
    for key in KEYS {
        assert!(model.get(key).is_some(), "missing {key} in {model}");
    }
    for key in ["f1", "roc_auc", "pr_auc"] {
        assert_eq!(
            model.get(key).is_some(),
            binary,
            "{key} presence for binary = {binary}"
        );
    }
    for key in ["accuracy", "macro_f1", "ece", "agreement_with_teacher"] {
        let v = model[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(model["log_loss"].as_f64().unwrap() >= 0.0);
    assert!(model["kl_to_teacher"].as_f64().unwrap() >= 0.0);
    assert!(model["latency_us_batch1"].as_f64().unwrap() > 0.0);
    assert!(model["throughput_per_s_batch1024"].as_f64().unwrap() > 0.0);
    assert!(model["bytes"].as_u64().unwrap() >= 4 * model["parameters"].as_u64().unwrap());
}

/// The Fashion-MNIST folder (`$DARK_KNOWLEDGE_FASHION_MNIST`, else the Debian package's),
/// or `None` with a SKIPPED line when its files are not there.
pub fn fashion_dir() -> Option<String> {
    let dir = std::env::var("DARK_KNOWLEDGE_FASHION_MNIST")
        .unwrap_or_else(|_| "/usr/share/datasets/fashion-mnist".into());
    let there = ["train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"]
        .iter()
        .any(|f| Path::new(&dir).join(f).exists());
    if there {
        Some(dir)
    } else {
        println!(
            "SKIPPED on Fashion-MNIST: not found in {dir} (apt-get install dataset-fashion-mnist)"
        );
        None
    }
}

/// A small sweep: `data` is the `[data]` table, `student_extra` is appended to
/// `[student.train]`, `grid` to `[sweep]`.
pub fn small_sweep(data: &str, student_extra: &str, teacher_epochs: usize, grid: &str) -> String {
    format!(
        r#"
seed = 7
output_dir = "out"
[data]
{data}
[teacher]
model = {{ kind = "mlp", hidden_sizes = [32] }}
[teacher.train]
epochs = {teacher_epochs}
batch_size = 64
learning_rate = 0.003
[student]
model = {{ kind = "mlp", hidden_sizes = [8] }}
[student.train]
batch_size = 64
learning_rate = 0.003
{student_extra}
[sweep]
steps = 60
{grid}
"#
    )
}
