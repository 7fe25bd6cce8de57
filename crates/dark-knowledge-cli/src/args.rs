//! The command's arguments (clap); `main.rs` turns them into workflow calls.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dark_knowledge_experiment::{ResumeOptions, predict, study};
use dark_knowledge_train::Progress;

#[derive(Parser)]
#[command(
    name = "dark-knowledge",
    version,
    about = "Knowledge distillation on burn: teacher → compact student, with an honest comparison report"
)]
pub struct Cli {
    /// Progress display: a bar on a terminal, plain lines otherwise (auto), or none.
    #[arg(long, global = true, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ProgressArg {
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
pub enum DtypeArg {
    /// 4 bytes per logit, exact.
    F32,
    /// 2 bytes per logit, about 1e-3 relative error.
    F16,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetArg {
    /// The telecom churn data compiled into the binary.
    Churn,
    /// Fashion-MNIST from `--data-dir`.
    FashionMnist,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Slice the test rows by these CSV columns (`COL[,COL]`, overrides `[evaluation]
        /// slice_by`; `""` for none): metrics per level in the report.
        #[arg(long, value_delimiter = ',', value_name = "COL[,COL]")]
        slice_by: Option<Vec<String>>,
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
        /// Slice the test rows by these CSV columns (`COL[,COL]`, overrides `[evaluation]
        /// slice_by`; `""` for none): metrics per level in the report.
        #[arg(long, value_delimiter = ',', value_name = "COL[,COL]")]
        slice_by: Option<Vec<String>>,
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
    /// Run the whole tabular pipeline over seeds 1..=K (each seed its own split, teacher,
    /// baseline, peers and distilled student) and write `OUT/replication.json` and
    /// `replication.md`: mean ± std per model and the distilled student's paired differences.
    /// The demo's recipe on the embedded churn data, on `--csv`, or an experiment file's.
    Replicate {
        /// Seeds 1..=K.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
        /// Output folder (one run folder per seed in it; a seed already run is reused).
        #[arg(long)]
        out: PathBuf,
        /// An experiment file instead of the demo's recipe.
        #[arg(long, conflicts_with = "csv")]
        config: Option<PathBuf>,
        /// A CSV file with a header, with the demo's recipe.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// The label column of `--csv`.
        #[arg(long, requires = "csv")]
        target: Option<String>,
        /// The positive class of a binary `--target`.
        #[arg(long, requires = "csv")]
        positive: Option<String>,
        /// `cpu` or `wgpu` (the demo's recipe).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Distil a character-level language model on a text corpus: per seed a teacher, then
    /// students from scratch and distilled (forward KL, reverse KL, GKD on-policy, a top-8
    /// teacher cache, sequence-level KD), each with the same step budget, scored in held-out
    /// bits per character; writes `OUT/study.json` and `study.md` (an interrupted study
    /// resumes).
    LmStudy(LmStudyArgs),
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
    /// when the labels file is there, `predicted`, `p_<label>`). The CSV's header must hold
    /// the training columns (see `--allow-missing-columns`); `--out` must not be the input.
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
        /// Score training columns absent from `--csv` as missing values (with a warning
        /// naming them) instead of refusing the file.
        #[arg(long, requires = "csv")]
        allow_missing_columns: bool,
        /// Do not write the drift report (`OUT.drift.json`, `OUT.drift.md`) beside the
        /// scores of a CSV.
        #[arg(long)]
        no_drift: bool,
        /// Write the model's plain probabilities even when it has a `calibration.json`.
        #[arg(long)]
        uncalibrated: bool,
        /// `cpu` or `wgpu`.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// Compare a CSV of new rows with the run's training rows (PSI, KS, χ² per input
    /// column; with `--model`, the model's score too) and print the Markdown table, most
    /// drifted first. See docs/drift.md.
    Drift {
        /// The run folder (it must have a `drift_reference.json`).
        #[arg(long)]
        run: PathBuf,
        /// The new rows, with the training CSV's column names.
        #[arg(long)]
        csv: PathBuf,
        /// Also compare this model's scores (`distilled`, `baseline`, `teacher`): the rows
        /// are scored in memory, exactly as `predict` does.
        #[arg(long)]
        model: Option<String>,
        /// Write the report as JSON here too.
        #[arg(long)]
        out: Option<PathBuf>,
        /// `cpu` or `wgpu` (with `--model`).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

/// The arguments of `lm-study`.
#[derive(Debug, Args)]
pub struct LmStudyArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// A folder of fortune files (Debian's `fortunes` package).
    #[arg(
        long,
        default_value = "/usr/share/games/fortunes",
        conflicts_with = "text"
    )]
    pub fortunes: PathBuf,
    /// UTF-8 text files to use instead of the fortunes.
    #[arg(long, num_args = 1..)]
    pub text: Vec<PathBuf>,
    /// The reduced setting (CI): 300,000 characters, small models and budgets.
    #[arg(long)]
    pub reduced: bool,
    /// Seeds 1..=K (default: 3; 1 with --reduced).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// A study file (TOML, the fields of `LmStudyConfig`) instead of the presets.
    #[arg(long, conflicts_with = "reduced")]
    pub config: Option<PathBuf>,
    /// `cpu` or `wgpu`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}
