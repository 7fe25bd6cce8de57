//! Each command refuses what it can know is wrong before the first epoch and before it
//! touches the run folder: an exit code that is neither 0 nor a panic's 101, and a message
//! naming the problem.

mod common;

use dark_knowledge_data::idx::encode_idx_u8 as idx;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{ok, refused, run, scratch};
use dark_knowledge_experiment::run::RunDir;

/// A CSV of `rows` rows: two numeric features and `y` from `label(row)`.
fn write_csv(dir: &Path, name: &str, rows: usize, label: impl Fn(usize) -> &'static str) -> String {
    let mut text = String::from("x1,x2,y\n");
    for i in 0..rows {
        text.push_str(&format!("{},{},{}\n", i * 37 % 101, i * 53 % 97, label(i)));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn binary(i: usize) -> &'static str {
    if i.is_multiple_of(3) { "yes" } else { "no" }
}

/// `demo` with `args` into `out`, one epoch per model.
fn demo(out: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--progress", "none", "demo", "--epochs", "1", "--out"];
    all.push(out.to_str().unwrap());
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn demo_refuses_data_it_could_not_evaluate_before_training() {
    let dir = scratch("validation-demo");
    let three = write_csv(&dir, "three.csv", 300, |i| ["a", "b", "c"][i % 3]);
    let rare = write_csv(&dir, "rare.csv", 500, |i| if i == 7 { "yes" } else { "no" });
    let quote = dir.join("quote.csv");
    std::fs::write(&quote, "x1,x2,y\n1,2,yes\n3,\"4,no\n5,6,yes\n7,8,no\n").unwrap();
    let quote = quote.to_str().unwrap();
    let out = dir.join("run");
    let cases: [(Vec<&str>, &[&str]); 4] = [
        (
            vec!["--csv", &three, "--target", "y", "--positive", "a"],
            &["positive = \"a\"", "3 classes", "binary"],
        ),
        (
            vec!["--csv", &rare, "--target", "y"],
            &["test split has no row of the positive class \"yes\""],
        ),
        (
            vec!["--max-train-rows", "0"],
            &["max_train_rows = 0", "--max-train-rows", ">= 1"],
        ),
        (
            vec!["--csv", quote, "--target", "y"],
            &["line 3", "never closed"],
        ),
    ];
    for (args, words) in cases {
        refused(&demo(&out, &args), words);
        assert!(!out.exists(), "{args:?}: the run folder was made");
    }
    let file = dir.join("afile");
    std::fs::write(&file, "x").unwrap();
    refused(&demo(&file, &[]), &["afile", "is a file, not a folder"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tiny experiment file in `dir` on `csv`, writing into `dir/run`; `data` goes in `[data]`.
fn experiment_file(dir: &Path, csv: &str, data: &str) -> String {
    let text = format!(
        r#"
seed = 5
output_dir = "run"
[data]
source = "csv"
path = {csv:?}
target = "y"
{data}
[teacher]
model = {{ kind = "mlp", hidden_sizes = [8] }}
[teacher.train]
epochs = 1
batch_size = 64
[student]
model = {{ kind = "mlp", hidden_sizes = [4] }}
[student.train]
epochs = 1
batch_size = 64
"#
    );
    let path = dir.join("experiment.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn train_teacher_refuses_a_validation_split_of_nothing() {
    let dir = scratch("validation-fraction");
    let csv = write_csv(&dir, "data.csv", 120, binary);
    let config = experiment_file(&dir, &csv, "valid_fraction = 0.0");
    let out = run(&["--progress", "none", "train-teacher", "--config", &config]);
    refused(&out, &["valid_fraction = 0", "> 0 and < 1"]);
    assert!(!dir.join("run").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_writer_is_refused_naming_the_first() {
    let dir = scratch("validation-lock");
    let csv = write_csv(&dir, "data.csv", 120, binary);
    let out = dir.join("run");
    // This test process holds the run folder, as a running command would.
    let lock = RunDir(out.clone()).lock().unwrap();
    let pid = std::process::id().to_string();
    let args = ["--csv", csv.as_str(), "--target", "y"];
    refused(&demo(&out, &args), &[&pid, ".lock", "another command"]);
    let config = experiment_file(&dir, &csv, "");
    for command in ["train-teacher", "evaluate", "cache-teacher"] {
        let o = run(&["--progress", "none", command, "--config", &config]);
        refused(&o, &[&pid]);
    }
    assert!(!out.join("teacher").exists());
    drop(lock);
    let done = demo(&out, &args);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `.npy` file of `rows x cols` float32 values.
fn npy(rows: usize, cols: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..rows * cols)
        .flat_map(|i| (i as f32 * 0.01).to_le_bytes())
        .collect();
    common::npy("<f4", rows, cols, &data)
}

#[test]
fn failed_teacher_logits_leave_the_run_header_byte_identical() {
    let dir = scratch("validation-logits");
    let csv = write_csv(&dir, "data.csv", 150, binary);
    let config = experiment_file(&dir, &csv, "");
    ok(&["--progress", "none", "train-teacher", "--config", &config]);
    let run_dir = dir.join("run");
    let read = |name: &str| std::fs::read(run_dir.join(name)).unwrap();
    let header = (read("experiment.toml"), read("preprocessing.json"));
    // The data change (another split), and the logits have the wrong row count.
    let config = experiment_file(&dir, &csv, "valid_fraction = 0.2");
    let logits: PathBuf = dir.join("t.npy");
    std::fs::write(&logits, npy(149, 2)).unwrap();
    let distill = |extra: &[&str]| {
        let mut args = vec!["--progress", "none", "distill", "--config", &config];
        args.extend_from_slice(extra);
        run(&args)
    };
    refused(
        &distill(&["--teacher-logits", logits.to_str().unwrap()]),
        &["t.npy", "149"],
    );
    assert_eq!(
        (read("experiment.toml"), read("preprocessing.json")),
        header
    );
    assert!(!run_dir.join("distilled").exists());
    // So the next distill still sees that the data changed since the teacher.
    refused(&distill(&[]), &["changed since the teacher"]);
    assert_eq!(
        (read("experiment.toml"), read("preprocessing.json")),
        header
    );
    // An unknown model lists the run's models.
    let q = run(&[
        "quantize",
        "--run",
        run_dir.to_str().unwrap(),
        "--model",
        "student",
    ]);
    refused(&q, &["no student model", "the run has: teacher"]);
    // quantize writes the run: refused while another writer holds it.
    let lock = RunDir(run_dir.clone()).lock().unwrap();
    let q = run(&[
        "quantize",
        "--run",
        run_dir.to_str().unwrap(),
        "--model",
        "teacher",
    ]);
    refused(&q, &[&std::process::id().to_string()]);
    assert!(!run_dir.join("quantized").exists());
    drop(lock);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A gzip stream of `data` in stored deflate blocks, cut before its end (no final block, no
/// trailer): a reader that inflates it all fails on the cut.
fn gzip_cut(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for chunk in data.chunks(65_535) {
        let len = chunk.len() as u16;
        out.push(0);
        out.extend(len.to_le_bytes());
        out.extend((!len).to_le_bytes());
        out.extend(chunk);
    }
    out
}

#[test]
fn a_gzip_bomb_is_refused_naming_the_file() {
    let dir = scratch("validation-bomb");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    // The labels file declares 4 labels (12 bytes with its header); the stream goes on for
    // 16 MiB.
    let mut bomb = idx(&[4], &[0, 1, 2, 3]);
    bomb.resize(bomb.len() + (16 << 20), 0);
    std::fs::write(
        images.join("train-images-idx3-ubyte"),
        idx(&[4, 2, 2], &[9; 16]),
    )
    .unwrap();
    std::fs::write(images.join("train-labels-idx1-ubyte.gz"), gzip_cut(&bomb)).unwrap();
    std::fs::write(
        images.join("t10k-images-idx3-ubyte"),
        idx(&[2, 2, 2], &[1; 8]),
    )
    .unwrap();
    std::fs::write(images.join("t10k-labels-idx1-ubyte"), idx(&[2], &[0, 1])).unwrap();
    let out = dir.join("run");
    let args = [
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        images.to_str().unwrap(),
    ];
    refused(
        &demo(&out, &args),
        &[
            "train-labels-idx1-ubyte.gz",
            "inflates to more than the 12 bytes",
        ],
    );
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
