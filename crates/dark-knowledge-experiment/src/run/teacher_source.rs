//! Where `distill` gets the teacher's logits: the saved model, a cache made by
//! `cache-teacher`, or logits imported from `.npy` / safetensors.

use std::path::{Path, PathBuf};

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::FrozenTeacher;
use dark_knowledge_data::cache::CacheDtype;
use dark_knowledge_data::{CacheSettings, CachedTeacher};

use super::{RunDir, check_preprocessing, load_role, load_role_with_info, write_run_header};
use crate::experiment::Experiment;
use crate::prepare::Prepared;

/// Where `distill` gets the teacher's logits.
#[derive(Debug, Clone, Default)]
pub enum TeacherSource {
    /// The run's saved teacher model, run on every batch.
    #[default]
    Model,
    /// A cache made by `cache-teacher` over the experiment's data.
    Cache(PathBuf),
    /// Logits made elsewhere (`.npy` or safetensors, `[rows, classes]` in the data's row
    /// order); imported into the run's cache `teacher/logits.dktc` first.
    Logits {
        /// The file.
        path: PathBuf,
        /// The tensor's name in a safetensors file holding several.
        tensor: Option<String>,
    },
}

/// The run's default teacher cache.
pub fn default_cache_path(experiment: &Experiment) -> PathBuf {
    experiment.output_dir.join("teacher").join("logits.dktc")
}

/// `cache-teacher`: runs the saved teacher once over every row of the data and writes its
/// logits to `out`.
pub fn cache_teacher(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    out: &Path,
    dtype: CacheDtype,
    top_k: Option<usize>,
) -> Result<()> {
    let run = RunDir::of(experiment);
    check_preprocessing(&run, data)?;
    let (info, model) = load_role_with_info(&run, "teacher", data, device)?;
    if let Some(k) = top_k
        && (k == 0 || k > data.num_classes())
    {
        bail!(
            "--top-k {k}: expected 1..={} (the class count)",
            data.num_classes()
        );
    }
    let weights = dark_knowledge_models::model_bytes(&model)?;
    let settings = CacheSettings {
        dtype,
        top_k,
        teacher: format!("{} ({})", info.description, run.role("teacher").display()),
        teacher_fingerprint: dark_knowledge_data::cache::fingerprint(
            &weights.iter().map(|&b| f32::from(b)).collect::<Vec<_>>(),
            &[],
        ),
        batch_size: 1024,
    };
    let teacher = FrozenTeacher::new(model);
    let total = data.all.len();
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    dark_knowledge_data::cache_teacher(&teacher, &data.all, out, &settings, |done| {
        if last.elapsed().as_secs_f64() > 2.0 || done == total {
            log::info!(
                "cache-teacher: {done}/{total} rows ({:.0} rows/s)",
                done as f64 / started.elapsed().as_secs_f64().max(1e-9)
            );
            last = std::time::Instant::now();
        }
    })?;
    Ok(())
}

/// Reads logits made elsewhere and checks them against the experiment's data (rows, class
/// count, finite values), writing nothing.
fn read_checked_logits(
    data: &Prepared,
    path: &Path,
    tensor: Option<&str>,
) -> Result<dark_knowledge_data::logits::LogitMatrix> {
    let matrix = dark_knowledge_data::logits::read_logits(path, tensor)?;
    matrix.check_shape(data.all.len(), data.num_classes())?;
    Ok(matrix)
}

/// Writes checked logits made elsewhere into the run's cache over the experiment's data.
fn import_logits(
    experiment: &Experiment,
    data: &Prepared,
    path: &Path,
    matrix: &dark_knowledge_data::logits::LogitMatrix,
) -> Result<PathBuf> {
    let out = default_cache_path(experiment);
    let header = dark_knowledge_data::cache::CacheHeader {
        version: u32::from(dark_knowledge_data::cache::FORMAT_VERSION),
        num_classes: matrix.cols,
        num_rows: matrix.rows,
        dataset_fingerprint: dark_knowledge_data::dataset_fingerprint(&data.all),
        teacher_fingerprint: dark_knowledge_data::cache::fingerprint(&matrix.values, &[]),
        teacher: format!("imported logits {}", path.display()),
        dtype: CacheDtype::F32,
        top_k: None,
    };
    let mut writer = dark_knowledge_data::cache::CacheWriter::create(&out, header)?;
    writer.push(&matrix.values)?;
    writer.finish()?;
    log::info!(
        "imported {} x {} logits from {} into {}",
        matrix.rows,
        matrix.cols,
        path.display(),
        out.display()
    );
    Ok(out)
}

/// The teacher `distill` uses, checked (and loaded) but with nothing written yet: imported
/// logits are written into the run only by [`CheckedTeacher::open`], once every other check
/// of the command has passed too.
pub(super) enum CheckedTeacher {
    /// A teacher ready to use: the saved model or a cache.
    Ready(Box<dyn dark_knowledge_core::Teacher>),
    /// Logits made elsewhere, checked against the data, to import into the run's cache.
    Import {
        /// The file they came from.
        path: PathBuf,
        /// The logits.
        matrix: dark_knowledge_data::logits::LogitMatrix,
    },
}

impl CheckedTeacher {
    /// The teacher, writing imported logits (and the run header they belong to) into the run
    /// first.
    pub(super) fn open(
        self,
        experiment: &Experiment,
        data: &Prepared,
    ) -> Result<Box<dyn dark_knowledge_core::Teacher>> {
        match self {
            Self::Ready(teacher) => Ok(teacher),
            Self::Import { path, matrix } => {
                write_run_header(experiment, data)?;
                let cache = import_logits(experiment, data, &path, &matrix)?;
                open_cache(data, &cache)
            }
        }
    }
}

/// The teacher cache at `path`, made over the experiment's data.
fn open_cache(data: &Prepared, path: &Path) -> Result<Box<dyn dark_knowledge_core::Teacher>> {
    let cached = CachedTeacher::open(path, &data.all).with_context(|| {
        format!(
            "the cache must be made over this experiment's data ({} rows); run cache-teacher again",
            data.all.len()
        )
    })?;
    log::info!("teacher: {}", cached.describe());
    Ok(Box::new(cached))
}

/// Checks the teacher `distill` uses, from `run`, the run folder of `experiment`, without
/// writing anything: the saved model (of this data) or the cache is loaded; logits made
/// elsewhere are read and checked (and, when the run has a teacher model, the data must be
/// the data it was trained on, since the run header is rewritten for the logits).
pub(super) fn check_teacher(
    run: &RunDir,
    data: &Prepared,
    device: &Device,
    source: &TeacherSource,
) -> Result<CheckedTeacher> {
    if data.synthetic_rows() > 0 && !matches!(source, TeacherSource::Model) {
        bail!(
            "[data] synthetic: its {} rows exist only in this process, so a teacher cache or \
             imported logits (keyed by the data's rows) cannot label them; distill with the \
             saved teacher run online (no --teacher-cache / --teacher-logits), or remove \
             `synthetic`",
            data.synthetic_rows()
        );
    }
    match source {
        TeacherSource::Model => {
            check_preprocessing(run, data)?;
            Ok(CheckedTeacher::Ready(Box::new(FrozenTeacher::new(
                load_role(run, "teacher", data, device)?,
            ))))
        }
        TeacherSource::Cache(path) => Ok(CheckedTeacher::Ready(open_cache(data, path)?)),
        TeacherSource::Logits { path, tensor } => {
            let matrix = read_checked_logits(data, path, tensor.as_deref())?;
            if run.role("teacher").join("model.json").exists() {
                check_preprocessing(run, data)?;
            }
            Ok(CheckedTeacher::Import {
                path: path.clone(),
                matrix,
            })
        }
    }
}
