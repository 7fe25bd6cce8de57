//! `predict` checks the input against the run before it writes anything: the CSV's header
//! against the training columns, the kind of run (CSV or images) and its preprocessing, and
//! that `--out` is not the input. Every refusal is an error (exit 1) naming the problem,
//! leaves no output and no temporary file, and leaves the input as it was.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::{copy_dir, ok, run, scratch};

/// A tiny CSV run: `train-teacher` (one epoch) on 60 rows of `id` (dropped), `age`,
/// `plan`, `spend` and the target `label`; trained once per test binary.
fn tiny_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("predict-schema-run");
        let plans = ["basic", "gold", "silver"];
        let mut csv = String::from("id,age,plan,spend,label\n");
        for i in 0..60 {
            let spend = (i * 7 % 50) as f64 + 0.5;
            let label = if spend > 25.0 { "yes" } else { "no" };
            csv.push_str(&format!(
                "c{i},{},{},{spend},{label}\n",
                20 + i % 40,
                plans[i % 3]
            ));
        }
        std::fs::write(dir.join("train.csv"), csv).unwrap();
        let config = r#"
output_dir = "run"
[data]
source = "csv"
path = "train.csv"
target = "label"
drop_columns = ["id"]
[teacher]
model = { kind = "mlp", hidden_sizes = [4] }
[teacher.train]
epochs = 1
batch_size = 32
learning_rate = 0.01
[student]
model = { kind = "mlp", hidden_sizes = [4] }
[student.train]
epochs = 1
batch_size = 32
learning_rate = 0.01
"#;
        let cfg = dir.join("experiment.toml");
        std::fs::write(&cfg, config).unwrap();
        ok(&[
            "--progress",
            "none",
            "train-teacher",
            "--config",
            cfg.to_str().unwrap(),
        ]);
        dir.join("run")
    })
}

/// A copy of the tiny run in `dir` (to break it without touching the shared one).
fn copy_of_run(dir: &Path) -> PathBuf {
    let to = dir.join("run");
    copy_dir(tiny_run(), &to);
    to
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `predict --model teacher` of `run_dir` on `input` into `out`, plus `extra` arguments.
fn predict(run_dir: &Path, input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "predict",
        "--run",
        s(run_dir),
        "--model",
        "teacher",
        "--csv",
        s(input),
        "--out",
        s(out),
    ];
    args.extend(extra);
    run(&args)
}

/// Checks that the command failed with an error (exit 1, not a panic's 101) whose message
/// holds every one of `needles`, and that it left no temporary file in `dir`; returns
/// stderr.
fn refused(output: &Output, dir: &Path, needles: &[&str]) -> String {
    let stderr = common::refused(output, needles);
    assert_no_temp_files(dir);
    stderr
}

fn succeeded(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

fn assert_no_temp_files(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(
        left.is_empty(),
        "temporary files left in {}: {left:?}",
        dir.display()
    );
}

/// Rows of new data under `header` (comma-separated, any of the training columns).
fn write_csv(dir: &Path, name: &str, header: &str, rows: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

const ROWS: [&str; 3] = ["n1,33,gold,40.5", "n2,58,basic,3", "n3,41,silver,"];

#[test]
fn a_header_without_any_training_column_is_refused() {
    let dir = scratch("predict-schema-none");
    let input = write_csv(&dir, "new.csv", "a,b,c,d", &ROWS);
    let out = dir.join("scores.csv");
    refused(
        &predict(tiny_run(), &input, &out, &[]),
        &dir,
        &[
            "none of the input's columns",
            "\"age\"",
            "\"spend\"",
            "new.csv",
        ],
    );
    // Even when missing columns are allowed: every row would be all missing.
    let lenient = predict(tiny_run(), &input, &out, &["--allow-missing-columns"]);
    refused(&lenient, &dir, &["none of the input's columns"]);
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_header_differing_only_in_case_gets_did_you_mean() {
    let dir = scratch("predict-schema-case");
    let input = write_csv(&dir, "new.csv", "id,Age,plan,SPEND", &ROWS);
    let out = dir.join("scores.csv");
    refused(
        &predict(tiny_run(), &input, &out, &[]),
        &dir,
        &[
            r#""age" (did you mean "Age"?)"#,
            r#""spend" (did you mean "SPEND"?)"#,
            "--allow-missing-columns",
        ],
    );
    assert!(!out.exists());
    // Surrounding spaces are trimmed, as when the training CSV was read: the same scores.
    let spaced = write_csv(&dir, "spaced.csv", "id, age ,plan,spend ", &ROWS);
    let plain = write_csv(&dir, "plain.csv", "id,age,plan,spend", &ROWS);
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    succeeded(&predict(tiny_run(), &spaced, &a, &[]));
    succeeded(&predict(tiny_run(), &plain, &b, &[]));
    let body = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        text.split_once('\n').unwrap().1.to_string()
    };
    assert_eq!(body(&a), body(&b));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_column_is_refused_unless_allowed_then_warned_about() {
    let dir = scratch("predict-schema-missing");
    let rows = ["n1,33,gold", "n2,58,basic"];
    let input = write_csv(&dir, "new.csv", "id,age,plan", &rows);
    let out = dir.join("scores.csv");
    refused(
        &predict(tiny_run(), &input, &out, &[]),
        &dir,
        &["lacks 1 of the model's training columns: \"spend\""],
    );
    assert!(!out.exists());
    let stderr = succeeded(&predict(
        tiny_run(),
        &input,
        &out,
        &["--allow-missing-columns"],
    ));
    assert!(
        stderr.contains("warn:") && stderr.contains("\"spend\": scored as missing"),
        "{stderr}"
    );
    assert!(stderr.contains("scored 2 rows"), "{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.starts_with("id,age,plan,predicted,p_no,p_yes\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_extra_column_is_listed_and_copied() {
    let dir = scratch("predict-schema-extra");
    let rows = ["n1,33,gold,40.5,call back,no", "n2,58,basic,3,,yes"];
    let input = write_csv(&dir, "new.csv", "id,age,plan,spend,notes,label", &rows);
    let out = dir.join("scores.csv");
    let stderr = succeeded(&predict(tiny_run(), &input, &out, &[]));
    assert!(
        stderr.contains("warn:")
            && stderr.contains("does not know")
            && stderr.contains("\"notes\""),
        "{stderr}"
    );
    // The target and the dropped `id` are training columns, not unknown ones.
    let warning = stderr.lines().find(|l| l.contains("\"notes\"")).unwrap();
    assert!(
        !warning.contains("\"label\"") && !warning.contains("\"id\""),
        "{warning}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("id,age,plan,spend,notes,label,predicted,"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("n1,33,gold,40.5,call back,no,"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_column_renamed_in_the_preprocessing_is_named() {
    let dir = scratch("predict-schema-renamed");
    let run_dir = copy_of_run(&dir);
    let prep = run_dir.join("preprocessing.json");
    let text = std::fs::read_to_string(&prep).unwrap();
    let renamed = text.replacen("\"name\": \"age\"", "\"name\": \"customer_age\"", 1);
    assert_ne!(renamed, text, "age is a column of the preprocessing");
    std::fs::write(&prep, renamed).unwrap();
    // As a run of a release before checksum manifests (a hand edit of a run with one is
    // refused as damaged, see files.rs).
    let _ = std::fs::remove_file(run_dir.join("CHECKSUMS"));
    let input = write_csv(&dir, "new.csv", "id,age,plan,spend", &ROWS);
    let out = dir.join("scores.csv");
    refused(
        &predict(&run_dir, &input, &out, &[]),
        &dir,
        &[
            "\"customer_age\"",
            "lacks 1 of the model's training columns",
        ],
    );
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_csv_run_without_its_preprocessing_refuses_to_score() {
    let dir = scratch("predict-schema-noprep");
    let idx = tiny_idx(&dir);
    let out = dir.join("scores.csv");
    // The intact CSV run refuses images.
    let images = |run_dir: &Path| {
        let args = ["predict", "--run", s(run_dir), "--model", "teacher"];
        run(&[&args[..], &["--data-dir", s(&idx), "--out", s(&out)]].concat())
    };
    refused(&images(tiny_run()), &dir, &["trained on CSV data", "--csv"]);
    let run_dir = copy_of_run(&dir);
    std::fs::remove_file(run_dir.join("preprocessing.json")).unwrap();
    let input = write_csv(&dir, "new.csv", "id,age,plan,spend", &ROWS);
    refused(
        &predict(&run_dir, &input, &out, &[]),
        &dir,
        &["preprocessing.json is missing", "trained on CSV data"],
    );
    // Without its preprocessing, it is still no image run.
    refused(&images(&run_dir), &dir, &["trained on CSV data"]);
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An IDX folder of three 28x28 test images (no labels file).
fn tiny_idx(dir: &Path) -> PathBuf {
    let idx = dir.join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    let pixels: Vec<u8> = (0..3 * 784).map(|i| (i % 251) as u8).collect();
    let bytes = dark_knowledge_data::idx::encode_idx_u8(&[3, 28, 28], &pixels);
    std::fs::write(idx.join("t10k-images-idx3-ubyte"), bytes).unwrap();
    idx
}

/// A run folder as an image run has it: `experiment.toml` of a Fashion-MNIST experiment
/// and a `distilled` model reading 784 pixels, no `preprocessing.json`.
fn image_run(dir: &Path) -> PathBuf {
    use dark_knowledge_models::{ModelInfo, ModelSpec, WeightFormat, save_saved_model};
    let run_dir = dir.join("image-run");
    let experiment =
        dark_knowledge::Experiment::fashion_demo(run_dir.clone(), 1, "cpu".into(), dir.join("idx"));
    std::fs::create_dir_all(&run_dir).unwrap();
    std::fs::write(
        run_dir.join("experiment.toml"),
        experiment.to_toml().unwrap(),
    )
    .unwrap();
    let device = burn::tensor::Device::flex();
    let spec = ModelSpec::mlp(vec![4], 0.0);
    let model = spec.build(784, 10, &device).unwrap();
    let info = ModelInfo {
        role: "distilled".into(),
        description: spec.describe(784, 10),
        spec,
        num_features: 784,
        class_names: (0..10).map(|c| format!("class{c}")).collect(),
        weights: WeightFormat::Float32,
        source: None,
    };
    save_saved_model(&run_dir.join("distilled"), &info, &model).unwrap();
    run_dir
}

#[test]
fn an_image_run_refuses_a_csv_and_scores_images() {
    let dir = scratch("predict-schema-image");
    let idx = tiny_idx(&dir);
    let run_dir = image_run(&dir);
    let input = write_csv(&dir, "new.csv", "id,age,plan,spend", &ROWS);
    let out = dir.join("scores.csv");
    let csv_args = [
        "predict",
        "--run",
        s(&run_dir),
        "--csv",
        s(&input),
        "--out",
        s(&out),
    ];
    refused(&run(&csv_args), &dir, &["trained on images", "--data-dir"]);
    assert!(!out.exists());
    let stderr = succeeded(&run(&[
        "predict",
        "--run",
        s(&run_dir),
        "--data-dir",
        s(&idx),
        "--out",
        s(&out),
    ]));
    assert!(stderr.contains("scored 3 rows"), "{stderr}");
    // The images file cannot be the output either.
    let images = idx.join("t10k-images-idx3-ubyte");
    let before = std::fs::read(&images).unwrap();
    let args = ["predict", "--run", s(&run_dir), "--data-dir", s(&idx)];
    let output = run(&[&args[..], &["--out", s(&images)]].concat());
    refused(&output, &idx, &["is the input file"]);
    assert_eq!(std::fs::read(&images).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_equal_to_the_input_is_refused_and_the_input_kept() {
    let dir = scratch("predict-schema-same");
    // A bad row that `skip` would drop: replacing the input would lose it.
    let rows = ["n1,33,gold,40.5", "n2,old,basic,3"];
    let input = write_csv(&dir, "new.csv", "id,age,plan,spend", &rows);
    let before = std::fs::read(&input).unwrap();
    let dotted = dir.join(".").join("new.csv");
    let mut outs = vec![input.clone(), dotted];
    #[cfg(unix)]
    {
        let link = dir.join("link.csv");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = dir.join("hard.csv");
        std::fs::hard_link(&input, &hard).unwrap();
        outs.extend([link, hard]);
    }
    for out in &outs {
        let output = predict(tiny_run(), &input, out, &[]);
        refused(&output, &dir, &["is the input file", "new.csv"]);
        assert_eq!(
            std::fs::read(&input).unwrap(),
            before,
            "--out {}",
            out.display()
        );
    }
    // The input given through a link, the real file as output.
    #[cfg(unix)]
    {
        let output = predict(tiny_run(), &dir.join("link.csv"), &input, &[]);
        refused(&output, &dir, &["is the input file"]);
        assert_eq!(std::fs::read(&input).unwrap(), before);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_after_the_output_was_started_leave_nothing() {
    let dir = scratch("predict-schema-late");
    let rows = ["n1,33,gold,40.5", "n2,58,basic,3", "n3,old,silver,1"];
    let input = write_csv(&dir, "new.csv", "id,age,plan,spend", &rows);
    // A bad last row with `--on-bad-row fail`: the header and two rows were written.
    let out = dir.join("scores.csv");
    std::fs::write(&out, "previous scores\n").unwrap();
    let output = predict(tiny_run(), &input, &out, &["--on-bad-row", "fail"]);
    refused(&output, &dir, &["line 4", "old"]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous scores\n");
    // An output that is a folder: refused before anything is written.
    let folder = dir.join("folder");
    std::fs::create_dir_all(folder.join("inside")).unwrap();
    refused(
        &predict(tiny_run(), &input, &folder, &[]),
        &dir,
        &["is a folder"],
    );
    assert!(folder.join("inside").is_dir());
    std::fs::remove_dir_all(&dir).unwrap();
}
