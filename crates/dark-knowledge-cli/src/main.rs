//! `dark-knowledge`: knowledge distillation from the command line.
//!
//! - `dark-knowledge demo` — teacher, baseline and distilled student on the embedded churn
//!   data (or `--csv`, or `--dataset fashion-mnist`), with a comparison report;
//! - `dark-knowledge train-teacher | distill | evaluate --config EXPERIMENT.toml`;
//! - `dark-knowledge cache-teacher --config EXPERIMENT.toml` — the teacher's logits, once;
//!   `distill --teacher-cache FILE` or `--teacher-logits FILE.npy` distill from them;
//! - `dark-knowledge quantize --run RUN` — an int8 copy of the student, added to the report;
//! - `dark-knowledge predict --run RUN --csv NEW.csv | --data-dir IDX_DIR --out scores.csv`;
//! - `dark-knowledge sweep --config SWEEP.toml`, `dark-knowledge reproduce STUDY --out DIR` —
//!   many runs over seeds and settings, summarised as mean ± std.

mod log_lines;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use dark_knowledge_experiment::{
    Context, Experiment, Result, ResumeOptions, bail, bench, predict, run, study,
};
use dark_knowledge_train::Progress;

#[derive(Parser)]
#[command(
    name = "dark-knowledge",
    version,
    about = "Knowledge distillation on burn: teacher → compact student, with an honest comparison report"
)]
struct Cli {
    /// Progress display: a bar on a terminal, plain lines otherwise (auto), or none.
    #[arg(long, global = true, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProgressArg {
    Auto,
    Bar,
    Lines,
    None,
}

impl From<ProgressArg> for Progress {
    fn from(p: ProgressArg) -> Self {
        match p {
            ProgressArg::Auto => Progress::Auto,
            ProgressArg::Bar => Progress::Bar,
            ProgressArg::Lines => Progress::Lines,
            ProgressArg::None => Progress::Silent,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DtypeArg {
    /// 4 bytes per logit, exact.
    F32,
    /// 2 bytes per logit, about 1e-3 relative error.
    F16,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DatasetArg {
    /// The telecom churn data compiled into the binary.
    Churn,
    /// Fashion-MNIST from `--data-dir`.
    FashionMnist,
}

#[derive(Subcommand)]
enum Command {
    /// Train a teacher, a baseline student and a distilled student, and compare them.
    Demo {
        /// A CSV file with a header instead of the embedded churn data.
        #[arg(long, conflicts_with = "dataset")]
        csv: Option<PathBuf>,
        /// The label column of `--csv`.
        #[arg(long, requires = "csv")]
        target: Option<String>,
        /// The positive class of a binary `--target`.
        #[arg(long, requires = "csv")]
        positive: Option<String>,
        /// A built-in dataset.
        #[arg(long, value_enum)]
        dataset: Option<DatasetArg>,
        /// Folder with Fashion-MNIST's four IDX files (.gz or raw).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// `cpu` or `wgpu`.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Seed of the split, initialisations, shuffles and dropout.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Run folder (default: a new folder under `runs/`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the number of epochs of every model (quick runs).
        #[arg(long)]
        epochs: Option<usize>,
        /// Use at most this many training rows (quick runs).
        #[arg(long)]
        max_train_rows: Option<usize>,
        #[command(flatten)]
        checkpoints: ResumeOptions,
    },
    /// Train the teacher of an experiment file from labels.
    TrainTeacher {
        /// The experiment file (TOML); see `examples/*.toml`.
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        checkpoints: ResumeOptions,
    },
    /// Distill the student (and train the baseline) from the experiment's saved teacher, a
    /// teacher cache, or logits made elsewhere.
    Distill {
        /// The experiment file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Read the teacher's logits from this cache (`cache-teacher`) instead of running it.
        #[arg(long, conflicts_with = "teacher_logits")]
        teacher_cache: Option<PathBuf>,
        /// Offline distillation: logits made elsewhere, `.npy` (float32/float64) or
        /// safetensors, shape [rows, classes] in the data's row order (CSV: the file's rows;
        /// images: the training file's images).
        #[arg(long)]
        teacher_logits: Option<PathBuf>,
        /// The tensor to read from a safetensors file holding several.
        #[arg(long, requires = "teacher_logits")]
        tensor: Option<String>,
        #[command(flatten)]
        checkpoints: ResumeOptions,
    },
    /// Run the experiment's saved teacher once over every row of its data and write the
    /// logits to a cache file (default: RUN/teacher/logits.dktc), for `distill --teacher-cache`.
    CacheTeacher {
        /// The experiment file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// The cache file to write.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Value type of the stored logits.
        #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
        dtype: DtypeArg,
        /// Keep only the K largest logits per row and the log-sum-exp of the rest (pair with
        /// `top_k = K` in the student's loss).
        #[arg(long)]
        top_k: Option<usize>,
    },
    /// Compare the experiment's saved models on the test split and write the report.
    Evaluate {
        /// The experiment file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a grid of student runs from an experiment file with a `[sweep]` table (seeds,
    /// methods, temperatures, weights, student sizes, labels kept), resuming a previous
    /// run; writes `results.json`, `results.md` and SVG plots into the output folder.
    Sweep {
        /// The sweep file.
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        checkpoints: ResumeOptions,
    },
    /// Run a built-in study (`fashion-mnist-low-data`, `fashion-mnist-full`) over seeds and
    /// write `OUT/results.json` (mean ± std per setting), `results.md` and plots.
    Reproduce(study::reproduce::ReproduceOptions),
    /// Time the reference workloads (teacher training, distillation with the teacher online
    /// and cached, student latency, teacher inference) and write JSON.
    Bench {
        /// `cpu` or `wgpu`.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Fashion-MNIST folder (synthetic data of the same shape when absent).
        #[arg(long, default_value = dark_knowledge_data::idx::DEFAULT_FASHION_MNIST_DIR)]
        data_dir: PathBuf,
        /// Where to write the JSON (it is also printed).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Training rows per teacher epoch.
        #[arg(long, default_value_t = 6000)]
        teacher_rows: usize,
        /// Training rows per distillation epoch.
        #[arg(long, default_value_t = 30000)]
        student_rows: usize,
        /// Timed epochs per training workload.
        #[arg(long, default_value_t = 3)]
        repeats: usize,
    },
    /// Save an int8 copy of a run's student (post-training weight quantization) as the
    /// run's `quantized` model, then re-evaluate the run so the report and model card gain
    /// its row.
    Quantize {
        /// The run folder (from `demo`, or an experiment's `output_dir`).
        #[arg(long)]
        run: PathBuf,
        /// The float model to quantize.
        #[arg(long, default_value = "distilled")]
        model: String,
        /// `cpu` or `wgpu` (default: the run's device).
        #[arg(long)]
        device: Option<String>,
    },
    /// Score new rows with a run's model: a CSV (streaming: the input's columns, then
    /// `predicted` and `p_<label>` per class) or a folder of IDX images (`index`, `label`
    /// when the labels file is there, `predicted`, `p_<label>`).
    Predict {
        /// The run folder (from `demo`, or an experiment's `output_dir`).
        #[arg(long)]
        run: PathBuf,
        /// Which model of the run (`distilled`, `baseline`, `teacher`, `quantized`).
        #[arg(long, default_value = "distilled")]
        model: String,
        /// The rows to score, with the training CSV's column names (the target may be absent).
        #[arg(
            long,
            required_unless_present = "data_dir",
            conflicts_with = "data_dir"
        )]
        csv: Option<PathBuf>,
        /// A folder of IDX files in the Fashion-MNIST layout (`.gz` or raw).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Which images of `--data-dir`: `test` (t10k-*) or `train` (train-*).
        #[arg(long, value_enum, default_value_t = predict::ImageSplit::Test, requires = "data_dir")]
        split: predict::ImageSplit,
        /// Where to write the scores.
        #[arg(long)]
        out: PathBuf,
        /// What to do with a row that cannot be read.
        #[arg(long, value_enum, default_value_t = predict::OnBadRow::Skip)]
        on_bad_row: predict::OnBadRow,
        /// `cpu` or `wgpu`.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

fn fresh_run_dir(prefix: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = PathBuf::from("runs");
    let mut dir = base.join(format!("{prefix}-{secs}"));
    let mut i = 1;
    while dir.exists() {
        dir = base.join(format!("{prefix}-{secs}-{i}"));
        i += 1;
    }
    dir
}

fn main() {
    // burn restores an optimizer's state (`--resume`) on `Device::default()`, which is wgpu
    // whenever wgpu is compiled in, even on a machine without a GPU; the state moves to the
    // model's device at the next step either way. Every device of ours is chosen by name, so
    // the default only matters there: make it the CPU unless the user chose one.
    let cpu = if cfg!(feature = "flex") {
        Some("flex")
    } else if cfg!(feature = "ndarray") {
        Some("ndarray")
    } else {
        None
    };
    if let (None, Some(cpu)) = (std::env::var_os("BURN_DEVICE"), cpu) {
        // SAFETY: at the start of `main`, before any thread is spawned; nothing reads the
        // environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("BURN_DEVICE", cpu);
        }
    }
    let cli = Cli::parse();
    log_lines::install();
    if let Err(e) = run_cli(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run_cli(cli: Cli) -> Result<()> {
    let progress: Progress = cli.progress.into();
    match cli.command {
        Command::Demo {
            csv,
            target,
            positive,
            dataset,
            data_dir,
            device,
            seed,
            out,
            epochs,
            max_train_rows,
            checkpoints,
        } => {
            if checkpoints.resume && out.is_none() {
                bail!("--resume needs --out DIR: the run folder of the demo to resume");
            }
            let mut experiment = match (csv, dataset) {
                (Some(path), _) => {
                    let Some(target) = target else {
                        bail!("--csv needs --target COLUMN, the label column")
                    };
                    let out = out.unwrap_or_else(|| fresh_run_dir("demo-csv"));
                    Experiment::csv_demo(out, seed, device, path, target, positive)
                }
                (None, Some(DatasetArg::FashionMnist)) => {
                    let dir = data_dir.unwrap_or_else(|| {
                        dark_knowledge_data::idx::DEFAULT_FASHION_MNIST_DIR.into()
                    });
                    let out = out.unwrap_or_else(|| fresh_run_dir("demo-fashion-mnist"));
                    Experiment::fashion_demo(out, seed, device, dir)
                }
                (None, _) => Experiment::churn_demo(
                    out.unwrap_or_else(|| fresh_run_dir("demo-churn")),
                    seed,
                    device,
                ),
            };
            if let Some(e) = epochs {
                experiment.teacher.train.epochs = e;
                experiment.student.train.epochs = e;
            }
            if max_train_rows.is_some() {
                experiment.data.max_train_rows = max_train_rows;
            }
            checkpoints.apply(&mut experiment);
            experiment.validate()?;
            demo(&experiment, progress)
        }
        Command::TrainTeacher {
            config,
            checkpoints,
        } => {
            let (mut experiment, device, data) = run::load_experiment(&config)?;
            checkpoints.apply(&mut experiment);
            run::clean_stale(&experiment);
            run::train_teacher(&experiment, &data, &device, progress)?;
            eprintln!(
                "teacher saved in {}",
                experiment.output_dir.join("teacher").display()
            );
            Ok(())
        }
        Command::Distill {
            config,
            teacher_cache,
            teacher_logits,
            tensor,
            checkpoints,
        } => {
            let (mut experiment, device, data) = run::load_experiment(&config)?;
            checkpoints.apply(&mut experiment);
            run::clean_stale(&experiment);
            let source = match (teacher_cache, teacher_logits) {
                (Some(path), _) => run::TeacherSource::Cache(path),
                (None, Some(path)) => run::TeacherSource::Logits { path, tensor },
                (None, None) => run::TeacherSource::Model,
            };
            run::distill(&experiment, &data, &device, progress, &source)?;
            eprintln!("students saved in {}", experiment.output_dir.display());
            Ok(())
        }
        Command::CacheTeacher {
            config,
            out,
            dtype,
            top_k,
        } => {
            let (experiment, device, data) = run::load_experiment(&config)?;
            let out = out.unwrap_or_else(|| run::default_cache_path(&experiment));
            let dtype = match dtype {
                DtypeArg::F32 => dark_knowledge_data::cache::CacheDtype::F32,
                DtypeArg::F16 => dark_knowledge_data::cache::CacheDtype::F16,
            };
            run::cache_teacher(&experiment, &data, &device, &out, dtype, top_k)?;
            eprintln!(
                "teacher logits cached in {} ({} bytes)",
                out.display(),
                std::fs::metadata(&out).map_or(0, |m| m.len())
            );
            Ok(())
        }
        Command::Sweep {
            config,
            checkpoints,
        } => {
            let outcome = study::sweep::sweep(&config, &checkpoints)?;
            println!("{}", outcome.markdown());
            Ok(())
        }
        Command::Reproduce(options) => {
            let outcome = study::reproduce::reproduce(&options)?;
            println!("{}", outcome.markdown());
            Ok(())
        }
        Command::Bench {
            device,
            data_dir,
            out,
            teacher_rows,
            student_rows,
            repeats,
        } => {
            let result = bench::bench(&bench::BenchSettings {
                device,
                data_dir,
                teacher_rows,
                student_rows,
                repeats,
            })?;
            let text = serde_json::to_string_pretty(&result)?;
            println!("{text}");
            if let Some(out) = out {
                dark_knowledge_core::io::write_atomic(&out, text.as_bytes())
                    .with_context(|| format!("writing {}", out.display()))?;
                eprintln!("bench: written to {}", out.display());
            }
            Ok(())
        }
        Command::Quantize { run, model, device } => {
            quantize(&run, &model, device.as_deref())?;
            Ok(())
        }
        Command::Predict {
            run,
            model,
            csv,
            data_dir,
            split,
            out,
            on_bad_row,
            device,
        } => {
            let device = dark_knowledge_core::device_from_name(&device)?;
            let summary = match (csv, data_dir) {
                (Some(csv), _) => predict::predict(&run, &model, &csv, &out, on_bad_row, &device)?,
                (None, Some(dir)) => {
                    predict::predict_images(&run, &model, &dir, split, &out, &device)?
                }
                (None, None) => bail!("pass --csv FILE or --data-dir DIR"),
            };
            eprintln!(
                "scored {} rows into {} ({} skipped)",
                summary.scored,
                out.display(),
                summary.skipped
            );
            Ok(())
        }
        Command::Evaluate { config } => {
            let (experiment, device, data) = run::load_experiment(&config)?;
            let report = run::evaluate(&experiment, &data, &device, 200)?;
            println!("{}", report.comparison_table());
            eprintln!(
                "report written to {}",
                experiment.output_dir.join("report.md").display()
            );
            Ok(())
        }
    }
}

/// `quantize`: the int8 copy, then the run re-evaluated when its experiment is there.
fn quantize(run_dir: &std::path::Path, model: &str, device: Option<&str>) -> Result<()> {
    let settings = run_dir.join("experiment.toml");
    let experiment = if settings.exists() {
        let mut e = Experiment::load(&settings)?;
        e.output_dir = run_dir.to_path_buf();
        Some(e)
    } else {
        None
    };
    let device_name = device
        .map(str::to_string)
        .or_else(|| experiment.as_ref().map(|e| e.device.clone()))
        .unwrap_or_else(|| "cpu".into());
    let device = dark_knowledge_core::device_from_name(&device_name)?;
    let info = run::quantize(run_dir, model, &device)?;
    eprintln!(
        "quantized: {} saved in {}",
        info.description,
        run_dir.join("quantized").display()
    );
    match experiment {
        Some(mut experiment) => {
            experiment.device = device_name;
            let (device, data) = run::prepare_experiment(&experiment)?;
            let report = run::evaluate(&experiment, &data, &device, 200)?;
            println!("{}", report.comparison_table());
            eprintln!(
                "report written to {}",
                experiment.output_dir.join("report.md").display()
            );
        }
        None => eprintln!(
            "{} not found: run `evaluate` to compare the int8 copy",
            settings.display()
        ),
    }
    Ok(())
}

fn demo(experiment: &Experiment, progress: Progress) -> Result<()> {
    let started = std::time::Instant::now();
    run::clean_stale(experiment);
    let (device, data) = run::prepare_experiment(experiment)?;
    run::train_teacher(experiment, &data, &device, progress)?;
    run::distill(
        experiment,
        &data,
        &device,
        progress,
        &run::TeacherSource::Model,
    )?;
    let info = run::quantize(&experiment.output_dir, "distilled", &device)?;
    eprintln!("quantized: {}", info.description);
    let report = run::evaluate(experiment, &data, &device, 200)?;
    println!("\n{}", report.comparison_table());
    println!(
        "majority-class rate on the test split: {:.2} %",
        100.0 * report.dataset.majority_class_rate
    );
    println!(
        "report: {} and {} ({:.0} s)",
        experiment.output_dir.join("report.json").display(),
        experiment.output_dir.join("report.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
