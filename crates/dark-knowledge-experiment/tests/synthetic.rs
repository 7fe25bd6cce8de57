//! `[data] synthetic`: the synthetic transfer set reaches a distilled student only, through
//! `train_for(true)`, as rows without label with row ids past the data; teachers, baselines,
//! validation and test never see it; bad settings are refused naming the key.

use std::path::{Path, PathBuf};

use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_experiment::{Experiment, TeacherSource, Workflow};

/// A fresh folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dk-synthetic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 300 rows: a number, an integer, a category with missing values, and `y`.
fn write_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("x,n,c,y\n");
    for i in 0..300 {
        let x = (i * 37 % 101) as f32 / 10.1;
        let n = i * 53 % 17;
        let c = ["red", "green", "blue", ""][i % 4];
        let y = if (x > 6.0) != (i % 9 == 0) {
            "yes"
        } else {
            "no"
        };
        text.push_str(&format!("{x},{n},{c},{y}\n"));
    }
    let path = dir.join("data.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A tiny experiment with `data` lines added to `[data]`.
fn toml(csv: &Path, out: &Path, data: &str) -> String {
    format!(
        r#"
seed = 3
output_dir = {out:?}
[data]
source = "csv"
path = {csv:?}
target = "y"
positive = "yes"
test_fraction = 0.2
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
    )
}

fn workflow(name: &str, data: &str) -> Workflow {
    let dir = scratch(name);
    let csv = write_csv(&dir);
    let experiment = Experiment::from_toml(&toml(&csv, &dir.join("run"), data)).unwrap();
    Workflow::new(experiment).unwrap()
}

fn error(name: &str, data: &str) -> String {
    let dir = scratch(name);
    let csv = write_csv(&dir);
    match Experiment::from_toml(&toml(&csv, &dir.join("run"), data)) {
        Ok(_) => panic!("{data} was accepted"),
        Err(e) => {
            let message = format!("{e:#}");
            eprintln!("{data}\n  -> {message}");
            message
        }
    }
}

#[test]
fn synthetic_rows_reach_the_distilled_student_only() {
    let workflow = workflow(
        "munge",
        r#"synthetic = { generator = "munge", multiple = 2 }"#,
    );
    let data = workflow.data();
    let n = data.all.len();
    let labelled = data.train_for(false);
    assert_eq!(labelled.len(), data.train.len());
    let student = data.train_for(true);
    assert_eq!(student.len(), labelled.len() * 3);
    assert_eq!(data.synthetic_rows(), labelled.len() * 2);
    assert_eq!(student.num_labeled(), labelled.len());
    // The student's rows: the training rows, then the synthetic rows, ids past the data.
    assert_eq!(&student.row_ids()[..labelled.len()], labelled.row_ids());
    let extra = &student.row_ids()[labelled.len()..];
    assert!(extra.iter().copied().eq(n..n + 2 * labelled.len()));
    assert!((labelled.len()..student.len()).all(|p| !student.is_labeled(p)));
    for part in [&data.train, &data.valid, &data.test, labelled] {
        assert!(part.row_ids().iter().all(|&id| id < n));
        assert!(!part.is_partially_labeled());
    }
    // Real rows keep their features; the synthetic ones are one-hot where they must be.
    let features = to_vec_f32(student.features().clone());
    let nf = data.num_features();
    assert_eq!(
        features[..labelled.len() * nf],
        to_vec_f32(labelled.features().clone())
    );
    let names = data.encoder.as_ref().unwrap().feature_names();
    let colour: Vec<usize> = (0..nf).filter(|&i| names[i].starts_with("c=")).collect();
    for row in features.chunks(nf) {
        assert_eq!(colour.iter().map(|&i| row[i]).sum::<f32>(), 1.0);
    }
    // The teacher trains on the labelled rows; the student learns from the teacher online.
    workflow.train_teacher().unwrap();
    workflow.distill(&TeacherSource::Model).unwrap();
    // A cache covers the rows of the data only: refused, not a panic.
    let cache = workflow
        .cache_teacher(None, dark_knowledge_data::cache::CacheDtype::F32, None)
        .unwrap();
    let err = format!(
        "{:#}",
        workflow.distill(&TeacherSource::Cache(cache)).unwrap_err()
    );
    eprintln!("distill with a cache: {err}");
    assert!(
        err.contains("[data] synthetic") && err.contains("run online"),
        "{err}"
    );
}

#[test]
fn synthetic_rows_come_from_the_labelled_rows_and_are_seeded() {
    let lines = "labeled_per_class = 10\nunlabeled_rows = \"drop\"\n\
                 synthetic = { generator = \"gibbs\", multiple = 3, neighbors = 4 }";
    let a = workflow("gibbs-a", lines);
    let data = a.data();
    assert_eq!(data.train_for(false).len(), 20);
    // `drop`: the hidden rows stay out; the synthetic rows are 3 x the 20 labelled rows.
    assert_eq!(data.train_for(true).len(), 80);
    assert_eq!(data.synthetic_rows(), 60);
    let b = workflow("gibbs-b", lines);
    let rows = |w: &Workflow| to_vec_f32(w.data().train_for(true).features().clone());
    assert_eq!(rows(&a), rows(&b));
    let other = workflow(
        "gibbs-c",
        &format!("{lines}\n").replace("neighbors = 4", "neighbors = 4, seed = 9"),
    );
    assert_ne!(rows(&a), rows(&other));
}

#[test]
fn bad_synthetic_settings_are_refused_naming_the_key() {
    let err = error(
        "generator",
        r#"synthetic = { generator = "smote", multiple = 2 }"#,
    );
    assert!(
        err.contains("smote") && err.contains("munge") && err.contains("gibbs"),
        "{err}"
    );
    for multiple in ["0", "-1", "1000", "nan"] {
        let err = error(
            "multiple",
            &format!(r#"synthetic = {{ generator = "munge", multiple = {multiple} }}"#),
        );
        assert!(err.contains("synthetic.multiple"), "{err}");
    }
    let err = error(
        "key",
        r#"synthetic = { generator = "munge", multiple = 2, k = 3 }"#,
    );
    assert!(err.contains("unknown field `k`"), "{err}");
    let err = error(
        "mixed",
        r#"synthetic = { generator = "munge", multiple = 2, neighbors = 3 }"#,
    );
    assert!(err.contains("neighbors") && err.contains("gibbs"), "{err}");
    let err = error(
        "spread",
        r#"synthetic = { generator = "munge", multiple = 2, spread = 0 }"#,
    );
    assert!(err.contains("synthetic.spread"), "{err}");
}

#[test]
fn synthetic_rows_are_refused_for_images() {
    let text = r#"
output_dir = "out"
[data]
source = "fashion-mnist"
synthetic = { generator = "munge", multiple = 2 }
[teacher]
model = { kind = "mlp", hidden_sizes = [8] }
[student]
model = { kind = "mlp", hidden_sizes = [4] }
"#;
    let err = format!("{:#}", Experiment::from_toml(text).unwrap_err());
    assert!(
        err.contains("synthetic") && err.contains("tabular"),
        "{err}"
    );
}

#[test]
fn a_sweep_distills_on_the_synthetic_rows_and_refuses_them_with_label_budgets() {
    let dir = scratch("sweep");
    let csv = write_csv(&dir);
    let out = dir.join("run");
    let text = toml(
        &csv,
        &out,
        r#"synthetic = { generator = "munge", multiple = 2 }"#,
    );
    let path = dir.join("sweep.toml");
    let grid = "\n[sweep]\nseeds = [1]\nsteps = 2\nmethod = [\"hard\", \"kd\"]\n";
    std::fs::write(&path, format!("{text}{grid}")).unwrap();
    let options = dark_knowledge_experiment::ResumeOptions::default();
    let outcome = dark_knowledge_experiment::study::sweep::sweep(&path, &options).unwrap();
    use dark_knowledge_experiment::study::Method;
    let rows = |method: Method| {
        let run = outcome.runs.iter().find(|r| r.spec.method == method);
        run.unwrap_or_else(|| panic!("no {method:?} run"))
            .n_train_rows
    };
    // kd learns from the labelled rows and twice as many synthetic ones; hard from labels.
    assert_eq!(rows(Method::Kd), 3 * rows(Method::Hard));

    let budget = dir.join("budget.toml");
    let grid = "\n[sweep]\nseeds = [1]\nsteps = 2\nmethod = [\"kd\"]\nlabeled_per_class = [10]\n";
    std::fs::write(
        &budget,
        format!("{text}{grid}")
            .replace(&*out.to_string_lossy(), &dir.join("run2").to_string_lossy()),
    )
    .unwrap();
    let err = match dark_knowledge_experiment::study::sweep::sweep(&budget, &options) {
        Ok(_) => panic!("a label budget with [data] synthetic ran"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("[data] synthetic") && err.contains("label budgets"),
        "{err}"
    );
}
