//! The workflow refuses what it can know is wrong before the first epoch, without touching
//! the run folder: settings out of range, data that cannot be evaluated, an output path
//! that is a file, a run folder another writer holds, bad teacher logits, a gzip bomb, a CSV
//! with an unterminated quote.

use dark_knowledge_data::idx::encode_idx_u8 as idx;
use std::path::{Path, PathBuf};

use dark_knowledge_experiment::run::{LOCK_FILE, RunDir};
use dark_knowledge_experiment::{Experiment, TeacherSource, Workflow, quantize_run};

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-validation-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CSV of `rows` rows: two numeric features and `y` from `label(row)`.
fn write_csv(
    dir: &Path,
    name: &str,
    rows: usize,
    label: impl Fn(usize) -> &'static str,
) -> PathBuf {
    let mut text = String::from("x1,x2,y\n");
    for i in 0..rows {
        let (a, b) = ((i * 37 % 101) as f32 / 101.0, (i * 53 % 97) as f32 / 97.0);
        text.push_str(&format!("{a},{b},{}\n", label(i)));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn binary(i: usize) -> &'static str {
    if i.is_multiple_of(3) { "yes" } else { "no" }
}

/// A tiny experiment on the CSV at `csv`, writing into `out`; `data` is appended to `[data]`.
/// Parsed without validation: [`Workflow::new`] validates.
fn experiment(csv: &Path, out: &Path, data: &str) -> Experiment {
    toml::from_str(&format!(
        r#"
seed = 3
output_dir = {out:?}
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
    ))
    .unwrap()
}

/// The message of the error `Workflow::new` gives for `experiment`.
fn refused(experiment: Experiment) -> String {
    match Workflow::new(experiment) {
        Ok(_) => panic!("the workflow was accepted"),
        Err(e) => e.to_string(),
    }
}

fn assert_says(message: &str, words: &[&str]) {
    for w in words {
        assert!(message.contains(w), "no {w:?} in: {message}");
    }
}

#[test]
fn settings_and_data_that_cannot_be_evaluated_are_refused_before_training() {
    let dir = scratch("refused");
    let csv = write_csv(&dir, "data.csv", 300, binary);
    let three = write_csv(&dir, "three.csv", 300, |i| ["a", "b", "c"][i % 3]);
    let rare = write_csv(&dir, "rare.csv", 500, |i| if i == 7 { "yes" } else { "no" });
    let out = dir.join("run");
    let cases: Vec<(Experiment, &[&str])> = vec![
        (
            experiment(&csv, &out, "max_train_rows = 0"),
            &["max_train_rows = 0", ">= 1"],
        ),
        (
            experiment(&csv, &out, "max_test_rows = 0"),
            &["max_test_rows = 0", ">= 1"],
        ),
        (
            experiment(&csv, &out, "valid_fraction = 0.0"),
            &["valid_fraction = 0", "> 0 and < 1"],
        ),
        (
            experiment(&csv, &out, "valid_fraction = 1.5"),
            &["valid_fraction = 1.5"],
        ),
        (
            experiment(&csv, &out, "test_fraction = 0.0"),
            &["test_fraction = 0", "> 0 and < 1"],
        ),
        (
            experiment(&csv, &out, "valid_fraction = 0.5\ntest_fraction = 0.5"),
            &["valid_fraction + test_fraction", "< 1"],
        ),
        (
            experiment(&csv, &out, "labeled_fraction = 0.0"),
            &["labeled_fraction = 0"],
        ),
        (
            experiment(&csv, &out, "labeled_per_class = 0"),
            &["labeled_per_class = 0"],
        ),
        (
            experiment(&three, &out, "positive = \"a\""),
            &["positive = \"a\"", "3 classes", "binary"],
        ),
        (experiment(&csv, &out, "positive = \"maybe\""), &["maybe"]),
        (
            experiment(&rare, &out, ""),
            &[
                "test split has no row of the positive class \"yes\"",
                "\"yes\": 1",
            ],
        ),
        (
            experiment(&csv, &out, "max_test_rows = 1"),
            &["test split has no row", "max_test_rows"],
        ),
    ];
    for (experiment, words) in cases {
        let message = refused(experiment);
        assert_says(&message, words);
        // Refused before anything was trained or written: not even the folder was made.
        assert!(!out.exists(), "{message}: {} was made", out.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_output_path_that_is_a_file_is_named_as_such() {
    let dir = scratch("file-out");
    let csv = write_csv(&dir, "data.csv", 120, binary);
    let file = dir.join("afile");
    std::fs::write(&file, "x").unwrap();
    let message = refused(experiment(&csv, &file, ""));
    assert_says(&message, &["afile", "is a file, not a folder"]);
    let message = refused(experiment(&csv, &file.join("run"), ""));
    assert_says(&message, &["afile", "which is a file, not a folder"]);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let dir = scratch("lock");
    let csv = write_csv(&dir, "data.csv", 120, binary);
    let out = dir.join("run");
    let lock = RunDir(out.clone()).lock().unwrap();
    let pid = std::process::id().to_string();
    assert_eq!(
        std::fs::read_to_string(out.join(LOCK_FILE)).unwrap().trim(),
        pid
    );
    let message = refused(experiment(&csv, &out, ""));
    assert_says(
        &message,
        &[&pid, LOCK_FILE, "being written by another command"],
    );
    let again = RunDir(out.clone()).lock().unwrap_err().to_string();
    assert_says(&again, &[&pid]);
    // A quantize of the run is a writer too.
    assert!(quantize_run(&out, "distilled", None).is_err());
    drop(lock);
    assert_eq!(std::fs::read_to_string(out.join(LOCK_FILE)).unwrap(), "");
    // Released: the next writer gets it, and holds it for the workflow's life.
    let workflow = Workflow::new(experiment(&csv, &out, "")).unwrap();
    assert_eq!(workflow.lock_file(), out.join(LOCK_FILE));
    assert!(RunDir(out.clone()).lock().is_err());
    drop(workflow);
    assert!(RunDir(out).lock().is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `.npy` file of `rows x cols` float32 values.
fn npy(rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend((0..rows * cols).flat_map(|i| (i as f32 * 0.01).to_le_bytes()));
    out
}

/// Every file below `dir` with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn failed_teacher_logits_leave_the_run_as_it_was() {
    let dir = scratch("logits");
    let csv = write_csv(&dir, "data.csv", 150, binary);
    let out = dir.join("run");
    Workflow::new(experiment(&csv, &out, ""))
        .unwrap()
        .train_teacher()
        .unwrap();
    let header = |name: &str| std::fs::read(out.join(name)).unwrap();
    let (toml, preprocessing) = (header("experiment.toml"), header("preprocessing.json"));
    let before = files(&out);
    let logits = |rows, cols| {
        let path = dir.join(format!("t-{rows}-{cols}.npy"));
        std::fs::write(&path, npy(rows, cols)).unwrap();
        TeacherSource::Logits { path, tensor: None }
    };
    // The same data: the logits' shape is checked before anything is written.
    for (rows, cols, word) in [(149, 2, "149"), (150, 3, "3")] {
        let workflow = Workflow::new(experiment(&csv, &out, "")).unwrap();
        let message = workflow
            .distill(&logits(rows, cols))
            .unwrap_err()
            .to_string();
        assert_says(&message, &[word]);
        drop(workflow);
        assert_eq!(files(&out), before, "{message}: the run changed");
    }
    // Other data (another split): a failed import must not rewrite the run header either,
    // so the next distill still sees that the data changed since the teacher.
    let other = experiment(&csv, &out, "valid_fraction = 0.2");
    let workflow = Workflow::new(other.clone()).unwrap();
    assert!(workflow.distill(&logits(10, 2)).is_err());
    assert_eq!(header("experiment.toml"), toml);
    assert_eq!(header("preprocessing.json"), preprocessing);
    let message = workflow
        .distill(&TeacherSource::Model)
        .unwrap_err()
        .to_string();
    assert_says(&message, &["changed since the teacher"]);
    assert!(!out.join("distilled").exists() && !out.join("baseline").exists());
    drop(workflow);
    assert_eq!(files(&out), before);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_model_lists_the_models_of_the_run() {
    let dir = scratch("roles");
    let csv = write_csv(&dir, "data.csv", 120, binary);
    let out = dir.join("run");
    Workflow::new(experiment(&csv, &out, ""))
        .unwrap()
        .train_teacher()
        .unwrap();
    let before = files(&out);
    let message = quantize_run(&out, "student", None).unwrap_err().to_string();
    assert_says(&message, &["no student model", "the run has: teacher"]);
    assert_eq!(files(&out), before);
    let nowhere = dir.join("nowhere");
    assert!(quantize_run(&nowhere, "distilled", None).is_err());
    assert!(!nowhere.exists());
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
fn a_gzip_bomb_is_refused_without_reading_it_all() {
    let dir = scratch("bomb");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    // The header declares 4 images of 2x2 (32 bytes); the stream goes on for 16 MiB.
    let mut bomb = idx(&[4, 2, 2], &[9; 16]);
    bomb.resize(bomb.len() + (16 << 20), 0);
    std::fs::write(images.join("train-images-idx3-ubyte.gz"), gzip_cut(&bomb)).unwrap();
    std::fs::write(
        images.join("train-labels-idx1-ubyte"),
        idx(&[4], &[0, 1, 2, 3]),
    )
    .unwrap();
    std::fs::write(
        images.join("t10k-images-idx3-ubyte"),
        idx(&[2, 2, 2], &[1; 8]),
    )
    .unwrap();
    std::fs::write(images.join("t10k-labels-idx1-ubyte"), idx(&[2], &[0, 1])).unwrap();
    let out = dir.join("run");
    let e = Experiment::fashion_demo(out.clone(), 1, "cpu".into(), images.clone());
    let message = refused(e);
    assert_says(
        &message,
        &[
            "train-images-idx3-ubyte.gz",
            "inflates to more than the 32 bytes",
        ],
    );
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unterminated_quote_is_reported_where_it_opens() {
    let dir = scratch("quote");
    let csv = dir.join("data.csv");
    let mut text = String::from("x1,x2,y\n");
    for i in 0..60 {
        text.push_str(&format!("{i},{},{}\n", i % 7, binary(i)));
    }
    text.push_str("5,\"6,yes\n7,8,no\n");
    std::fs::write(&csv, text).unwrap();
    let out = dir.join("run");
    let message = refused(experiment(&csv, &out, ""));
    assert_says(&message, &["line 62", "never closed"]);
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
