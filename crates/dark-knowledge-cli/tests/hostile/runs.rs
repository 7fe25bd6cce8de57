//! Bad teacher logits, caches, model files, run folders and scoring inputs, each given to
//! the command that reads them on a copy of a trained run.

use std::path::Path;

use crate::common::npy;
use crate::harness::Step::{Remove, Replace, With, Write};
use crate::harness::{Case, DISTILL, EVALUATE, PREDICT, Step};

/// Rows and classes of the base table.
const ROWS: usize = 240;
const CLASSES: usize = 2;

/// `n` float32 logits, little-endian, all `value`.
fn f32s(n: usize, value: f32) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (value + (i % 3) as f32).to_le_bytes())
        .collect()
}

/// A safetensors file with one header `header` (JSON) and `data`.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// `distill` from the logits file `t.npy` or `t.safetensors`, or from the run's cache.
const LOGITS_NPY: &[&str] = &["distill", "--config", TOML, "--teacher-logits", "t.npy"];
const LOGITS_ST: &[&str] = &[
    "distill",
    "--config",
    TOML,
    "--teacher-logits",
    "t.safetensors",
];
const FROM_CACHE: &[&str] = &["distill", "--config", TOML, "--teacher-cache", CACHE];
/// `predict` on `new.csv`.
const PREDICT_NEW: &[&str] = &[
    "predict", "--run", "run", "--csv", "new.csv", "--out", "s.csv",
];
const TOML: &str = "experiment.toml";
const CACHE: &str = "run/teacher/logits.dktc";
const WEIGHTS: &str = "run/distilled/model.bpk";

/// Changes the bytes of the file `name` (relative to the folder) with `f`.
fn change(dir: &Path, name: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let path = dir.join(name);
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
}

/// Writes the table with the header line `header` as `new.csv`.
fn with_header(dir: &Path, header: &str) {
    let text = std::fs::read_to_string(dir.join("data.csv")).unwrap();
    let body = text.split_once('\n').unwrap().1;
    std::fs::write(dir.join("new.csv"), format!("{header}\n{body}")).unwrap();
}

/// Writes `t.npy`: `rows x cols` values of type `descr`.
fn write_npy(dir: &Path, descr: &str, rows: usize, cols: usize, data: &[u8]) {
    std::fs::write(dir.join("t.npy"), npy(descr, rows, cols, data)).unwrap();
}

const fn case(
    name: &'static str,
    steps: &'static [Step],
    command: &'static [&'static str],
    expect: &'static [&'static str],
) -> Case {
    Case {
        name,
        steps,
        command,
        expect,
    }
}

pub const LOGITS: &[Case] = &[
    case(
        "npy with too few rows",
        &[With(|d| {
            write_npy(d, "<f4", 10, CLASSES, &f32s(10 * CLASSES, 0.5))
        })],
        LOGITS_NPY,
        &["t.npy", "240"],
    ),
    case(
        "npy with the wrong class count",
        &[With(|d| write_npy(d, "<f4", ROWS, 3, &f32s(ROWS * 3, 0.5)))],
        LOGITS_NPY,
        &["t.npy", "class"],
    ),
    case(
        "npy with NaN logits",
        &[With(|d| {
            let mut data = f32s(ROWS * CLASSES, 0.5);
            data[40..44].copy_from_slice(&f32::NAN.to_le_bytes());
            write_npy(d, "<f4", ROWS, CLASSES, &data);
        })],
        LOGITS_NPY,
        &["t.npy", "finite"],
    ),
    case(
        "npy truncated",
        &[With(|d| {
            write_npy(d, "<f4", ROWS, CLASSES, &f32s(ROWS * CLASSES, 0.5));
            change(d, "t.npy", |b| b.truncate(b.len() - 7));
        })],
        LOGITS_NPY,
        &["t.npy", "truncated"],
    ),
    case(
        "npy of integers",
        &[With(|d| {
            write_npy(d, "<i4", ROWS, CLASSES, &f32s(ROWS * CLASSES, 1.0))
        })],
        LOGITS_NPY,
        &["t.npy", "i4"],
    ),
    case(
        "npy that is text",
        &[Write("t.npy", "these are not logits\n")],
        LOGITS_NPY,
        &["t.npy"],
    ),
    case(
        "safetensors header longer than the file",
        &[With(|d| {
            let mut bytes = safetensors("{}", &[]);
            bytes[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
            std::fs::write(d.join("t.safetensors"), bytes).unwrap();
        })],
        LOGITS_ST,
        &["t.safetensors"],
    ),
    case(
        "safetensors with two tensors and no --tensor",
        &[With(|d| {
            let n = ROWS * CLASSES * 4;
            let tensor = |name: &str, from: usize| {
                format!(
                    r#""{name}":{{"dtype":"F32","shape":[{ROWS},{CLASSES}],"data_offsets":[{from},{}]}}"#,
                    from + n
                )
            };
            let header = format!("{{{},{}}}", tensor("a", 0), tensor("b", n));
            let bytes = safetensors(&header, &f32s(2 * ROWS * CLASSES, 0.1));
            std::fs::write(d.join("t.safetensors"), bytes).unwrap();
        })],
        LOGITS_ST,
        &["t.safetensors", "tensor"],
    ),
    case(
        "teacher cache truncated",
        &[With(|d| change(d, CACHE, |b| b.truncate(b.len() / 2)))],
        FROM_CACHE,
        &["logits.dktc", "truncated"],
    ),
    case(
        "teacher cache with one byte flipped",
        &[With(|d| {
            change(d, CACHE, |b| {
                let at = b.len() - 9;
                b[at] ^= 0x40;
            })
        })],
        FROM_CACHE,
        &["logits.dktc"],
    ),
    case(
        "teacher cache that is text",
        &[Write(CACHE, "not a cache")],
        FROM_CACHE,
        &["logits.dktc"],
    ),
];

pub const MODELS: &[Case] = &[
    case(
        "weights with one byte flipped",
        &[With(|d| {
            change(d, WEIGHTS, |b| {
                let at = b.len() / 2;
                b[at] ^= 0x01;
            })
        })],
        PREDICT,
        &["model.bpk"],
    ),
    case(
        "weights with garbage appended",
        &[With(|d| {
            change(d, WEIGHTS, |b| b.extend_from_slice(b"garbage"))
        })],
        PREDICT,
        &["model.bpk"],
    ),
    case(
        "weights file empty",
        &[Write(WEIGHTS, "")],
        PREDICT,
        &["model.bpk"],
    ),
    case(
        "model.json not JSON",
        &[With(|d| {
            change(d, "run/distilled/model.json", |b| b.truncate(b.len() / 2))
        })],
        PREDICT,
        &["model.json"],
    ),
    case(
        "model.json with another architecture",
        &[Replace(
            "run/distilled/model.json",
            "      4\n",
            "      5\n",
        )],
        PREDICT,
        &["model.json"],
    ),
    case(
        "preprocessing.json deleted",
        &[Remove("run/preprocessing.json")],
        PREDICT,
        &["preprocessing.json"],
    ),
    case(
        "preprocessing.json with a renamed column",
        &[Replace("run/preprocessing.json", "\"colour\"", "\"color\"")],
        PREDICT,
        &["preprocessing.json"],
    ),
    case(
        "predict with an unknown role",
        &[],
        &[
            "predict", "--run", "run", "--model", "student", "--csv", "data.csv", "--out", "s.csv",
        ],
        &["student", "distilled", "baseline"],
    ),
    case(
        "predict with a role whose folder is gone",
        &[Remove("run/baseline")],
        &[
            "predict", "--run", "run", "--model", "baseline", "--csv", "data.csv", "--out", "s.csv",
        ],
        &["baseline"],
    ),
    case(
        "predict on a run folder that does not exist",
        &[],
        &[
            "predict", "--run", "nowhere", "--csv", "data.csv", "--out", "s.csv",
        ],
        &["nowhere"],
    ),
    case(
        "predict on headers matching no training column",
        &[With(|d| with_header(d, "p,q,r,s"))],
        PREDICT_NEW,
        &["colour"],
    ),
    case(
        "predict on headers differing only in case",
        &[With(|d| with_header(d, "A,B,Colour,y"))],
        PREDICT_NEW,
        &["colour"],
    ),
    case(
        "predict on a table missing one column",
        &[With(|d| {
            let text = std::fs::read_to_string(d.join("data.csv")).unwrap();
            let dropped: String = text
                .lines()
                .map(|l| {
                    let mut cells: Vec<&str> = l.split(',').collect();
                    cells.remove(1);
                    cells.join(",") + "\n"
                })
                .collect();
            std::fs::write(d.join("new.csv"), dropped).unwrap();
        })],
        PREDICT_NEW,
        &["\"b\""],
    ),
    case(
        "predict writing over its input",
        &[],
        &[
            "predict", "--run", "run", "--csv", "data.csv", "--out", "data.csv",
        ],
        &["data.csv"],
    ),
    case(
        "predict writing over its input through a symlink",
        &[With(|d| {
            std::os::unix::fs::symlink(d.join("data.csv"), d.join("link.csv")).unwrap()
        })],
        &[
            "predict", "--run", "run", "--csv", "data.csv", "--out", "link.csv",
        ],
        &["data.csv"],
    ),
    case(
        "predict into a folder",
        &[With(|d| std::fs::create_dir(d.join("outdir")).unwrap())],
        &[
            "predict", "--run", "run", "--csv", "data.csv", "--out", "outdir",
        ],
        &["outdir"],
    ),
    case(
        "predict images with a tabular run",
        &[With(|d| std::fs::create_dir(d.join("images")).unwrap())],
        &[
            "predict",
            "--run",
            "run",
            "--data-dir",
            "images",
            "--out",
            "s.csv",
        ],
        &["csv"],
    ),
];

pub const RUN_FOLDERS: &[Case] = &[
    case(
        "evaluate with the distilled student gone",
        &[Remove("run/distilled")],
        EVALUATE,
        &["distilled"],
    ),
    case(
        "distill with the teacher's weights gone",
        &[Remove("run/teacher/model.bpk")],
        DISTILL,
        &["teacher"],
    ),
    case(
        "quantize a model that is not there",
        &[],
        &["quantize", "--run", "run", "--model", "assistant"],
        &["assistant"],
    ),
    case(
        "distill after the data changed since the teacher",
        &[Replace("data.csv", "red", "blue")],
        DISTILL,
        &["data"],
    ),
    case(
        "cache-teacher with top_k 0",
        &[],
        &[
            "cache-teacher",
            "--config",
            "experiment.toml",
            "--top-k",
            "0",
            "--out",
            "c.dktc",
        ],
        &["top"],
    ),
    case(
        "evaluate on a run with a damaged metrics file",
        &[Write("run/distilled/metrics.json", "{ not json")],
        EVALUATE,
        &["metrics.json"],
    ),
];
