//! Bad tables and bad experiment files, each given to `train-teacher` on a copy of a trained
//! run: the command must refuse it before touching the run.

use std::path::Path;

use crate::harness::Step::{Append, DataKeys, Edit, Remove, With, Write};
use crate::harness::{Case, TRAIN_TEACHER};

/// The table's data rows changed by `f(row index, line)`.
fn rows(dir: &Path, f: impl Fn(usize, &str) -> String) {
    let path = dir.join("data.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, line) in lines.enumerate() {
        out.push_str(&f(i, line));
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// A case on `train-teacher`.
const fn train(
    name: &'static str,
    steps: &'static [crate::harness::Step],
    expect: &'static [&'static str],
) -> Case {
    Case {
        name,
        steps,
        command: TRAIN_TEACHER,
        expect,
    }
}

pub const CSV: &[Case] = &[
    train(
        "csv file missing",
        &[Edit("path = \"data.csv\"", "path = \"nope.csv\"")],
        &["nope.csv"],
    ),
    train(
        "csv file empty",
        &[Write("data.csv", "")],
        &["data.csv", "empty"],
    ),
    train(
        "csv header only",
        &[Write("data.csv", "a,b,colour,y\n")],
        &["data.csv", "no"],
    ),
    train(
        "csv one class only",
        &[With(|d| rows(d, |_, l| l.replace("yes", "no")))],
        &["class"],
    ),
    train(
        "csv target column missing",
        &[Edit("target = \"y\"", "target = \"z\"")],
        &["\"z\""],
    ),
    train(
        "csv unterminated quote",
        &[With(|d| {
            rows(d, |i, l| if i == 50 { format!("\"{l}") } else { l.into() })
        })],
        &["quote"],
    ),
    train(
        "csv row with an extra field",
        &[With(|d| {
            rows(d, |i, l| if i == 7 { format!("{l},9") } else { l.into() })
        })],
        &["line 9", "field"],
    ),
    train(
        "csv text in a forced numeric column",
        &[DataKeys("numeric_columns = [\"colour\"]")],
        &["colour", "numer"],
    ),
    train(
        "csv not utf-8",
        &[With(|d| {
            let mut bytes = std::fs::read(d.join("data.csv")).unwrap();
            bytes.splice(40..40, [0xff, 0xfe, 0xc3]);
            std::fs::write(d.join("data.csv"), bytes).unwrap();
        })],
        &["utf-8"],
    ),
    train(
        "csv binary garbage",
        &[With(|d| {
            let bytes: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect();
            std::fs::write(d.join("data.csv"), bytes).unwrap();
        })],
        &["data.csv"],
    ),
    train(
        "csv positive label not in the target",
        &[Edit("positive = \"yes\"", "positive = \"maybe\"")],
        &["maybe"],
    ),
    train(
        "csv positive label on a 3-class target",
        &[With(|d| {
            rows(d, |i, l| {
                if i % 5 == 0 {
                    l.replace(",no", ",maybe")
                } else {
                    l.into()
                }
            })
        })],
        &["positive", "3"],
    ),
    train(
        "csv duplicate column names",
        &[With(|d| {
            let text = std::fs::read_to_string(d.join("data.csv")).unwrap();
            std::fs::write(
                d.join("data.csv"),
                text.replacen("a,b,colour,y", "a,a,colour,y", 1),
            )
            .unwrap();
        })],
        &["\"a\""],
    ),
    train(
        "csv unknown column in drop_columns",
        &[DataKeys("drop_columns = [\"ghost\"]")],
        &["ghost"],
    ),
    train(
        "csv column both numeric and categorical",
        &[DataKeys(
            "numeric_columns = [\"a\"]\ncategorical_columns = [\"a\"]",
        )],
        &["\"a\"", "both"],
    ),
    train(
        "csv target listed in drop_columns",
        &[DataKeys("drop_columns = [\"y\"]")],
        &["target", "drop_columns"],
    ),
    train(
        "csv every target cell empty",
        &[With(|d| {
            rows(d, |_, l| format!("{},", l.rsplit_once(',').unwrap().0))
        })],
        &["target"],
    ),
    train(
        "csv only one row per class",
        &[Write(
            "data.csv",
            "a,b,colour,y\n1,2,red,yes\n2,3,blue,no\n",
        )],
        &["rows"],
    ),
    train(
        "csv a single positive in the table",
        &[With(|d| {
            rows(d, |i, l| {
                if i == 3 {
                    l.replace(",no", ",yes")
                } else {
                    l.replace(",yes", ",no")
                }
            })
        })],
        &["yes"],
    ),
];

pub const EXPERIMENT: &[Case] = &[
    train(
        "toml unknown key",
        &[Edit("seed = 7", "seed = 7\ncolour = 1")],
        &["colour"],
    ),
    train(
        "toml wrong type",
        &[Edit("epochs = 2", "epochs = \"two\"")],
        &["epochs"],
    ),
    train(
        "toml syntax error",
        &[Edit("[teacher]", "[teacher")],
        &["experiment.toml", "line"],
    ),
    train(
        "toml unknown data source",
        &[Edit("source = \"csv\"", "source = \"parquet\"")],
        &["parquet"],
    ),
    train(
        "toml zero epochs",
        &[Edit("epochs = 2", "epochs = 0")],
        &["epochs"],
    ),
    train(
        "toml NaN learning rate",
        &[Edit("learning_rate = 0.01", "learning_rate = nan")],
        &["learning_rate"],
    ),
    train(
        "toml negative learning rate",
        &[Edit("learning_rate = 0.01", "learning_rate = -0.01")],
        &["learning_rate"],
    ),
    train(
        "toml zero batch size",
        &[Edit("batch_size = 32", "batch_size = 0")],
        &["batch_size"],
    ),
    train(
        "toml valid_fraction 0",
        &[DataKeys("valid_fraction = 0.0")],
        &["valid_fraction"],
    ),
    train(
        "toml valid_fraction above 1",
        &[DataKeys("valid_fraction = 1.5")],
        &["valid_fraction"],
    ),
    train(
        "toml fractions leave no training rows",
        &[DataKeys("valid_fraction = 0.5\ntest_fraction = 0.5")],
        &["fraction"],
    ),
    train(
        "toml max_train_rows 0",
        &[DataKeys("max_train_rows = 0")],
        &["max_train_rows"],
    ),
    train(
        "toml labeled_fraction 0",
        &[DataKeys("labeled_fraction = 0.0")],
        &["labeled_fraction"],
    ),
    train(
        "toml unknown loss kind",
        &[Append("[[loss]]\nkind = \"magic\"")],
        &["magic"],
    ),
    train(
        "toml negative dkd temperature",
        &[Append(
            "[[loss]]\nkind = \"ce\"\n[[loss]]\nkind = \"dkd\"\ntemperature = -4.0",
        )],
        &["temperature"],
    ),
    train(
        "toml hint term reading a teacher that does not exist",
        &[Append(
            "[[loss]]\nkind = \"ce\"\n[[loss]]\nkind = \"hint\"\nteacher = 5",
        )],
        &["teacher", "5"],
    ),
    train(
        "toml output_dir is a file",
        &[
            Write("afile", "x"),
            Edit("output_dir = \"run\"", "output_dir = \"afile\""),
        ],
        &["afile", "not a folder"],
    ),
    train(
        "toml unknown device",
        &[Edit("seed = 7", "seed = 7\ndevice = \"tpu\"")],
        &["tpu", "cpu"],
    ),
    train(
        "toml hidden layer of width 0",
        &[Edit("hidden_sizes = [16]", "hidden_sizes = [0]")],
        &["hidden"],
    ),
    train(
        "toml dropout above 1",
        &[Edit(
            "hidden_sizes = [16]",
            "hidden_sizes = [16], dropout = 1.5",
        )],
        &["dropout"],
    ),
    train(
        "toml without a data table",
        &[Write("experiment.toml", "seed = 1\noutput_dir = \"run\"\n")],
        &["data"],
    ),
    train(
        "toml experiment file missing",
        &[Remove("experiment.toml")],
        &["experiment.toml"],
    ),
    train(
        "toml negative seed",
        &[Edit("seed = 7", "seed = -1")],
        &["seed"],
    ),
    Case {
        name: "toml experiment file is a folder",
        steps: &[With(|d| {
            std::fs::create_dir(d.join("folder.toml")).unwrap()
        })],
        command: &["train-teacher", "--config", "folder.toml"],
        expect: &["folder.toml"],
    },
];
