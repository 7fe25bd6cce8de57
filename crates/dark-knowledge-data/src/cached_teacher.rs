//! A [`Teacher`] served from a cache file (see [`crate::cache`]): the teacher's logits are
//! read, not computed.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{Tensor, TensorData};
use dark_knowledge_core::rows::batch_ranges;
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_core::{
    Error as CoreError, ModelInput, Result as CoreResult, Teacher, TeacherBatch,
};

use crate::Dataset;
use crate::cache::{CacheError, TeacherCache, fingerprint, fingerprint_like};

/// The [`fingerprint`] of a dataset: its inputs and row ids, in order. A cache made over
/// this dataset stores it; [`CachedTeacher::open`] compares it.
pub fn dataset_fingerprint(data: &Dataset) -> String {
    fingerprint(&to_vec_f32(data.features().clone()), data.row_ids())
}

/// Teacher logits read from a cache made over a dataset by running the teacher once.
///
/// The cache's row `i` holds the logits of the `i`-th row of the dataset it was made over;
/// batches are served by row id (a training split cut from that dataset keeps its row ids),
/// so the same cache serves the training and the validation split. The cache is memory
/// mapped: only the rows read are paged in, and a cache larger than memory works.
#[derive(Debug)]
pub struct CachedTeacher {
    cache: TeacherCache,
    /// Row id → cache row, when the dataset's row ids are not `0..n` in order.
    positions: Option<HashMap<usize, usize>>,
}

impl CachedTeacher {
    /// Opens the cache at `path` (checking magic, version, length and checksum) and checks
    /// that it was made over `data` — the same inputs in the same row order.
    ///
    /// # Errors
    /// Any [`CacheError`]; [`CacheError::FingerprintMismatch`] when `data` is not the dataset
    /// the cache was made over; [`CacheError::LengthMismatch`] when the row counts differ.
    pub fn open(path: &Path, data: &Dataset) -> Result<Self, CacheError> {
        let cache = TeacherCache::open(path)?;
        if cache.num_rows() != data.len() {
            return Err(CacheError::LengthMismatch {
                path: path.to_path_buf(),
                what: "rows (cache vs dataset)",
                expected: data.len(),
                found: cache.num_rows(),
            });
        }
        // A cache of an earlier version holds an FNV-1a fingerprint: compare like with like.
        let current = fingerprint_like(
            &cache.header().dataset_fingerprint,
            &to_vec_f32(data.features().clone()),
            data.row_ids(),
        );
        cache.check_dataset(&current)?;
        let ids = data.row_ids();
        let identity = ids.iter().enumerate().all(|(i, &id)| i == id);
        let positions =
            (!identity).then(|| ids.iter().enumerate().map(|(i, &id)| (id, i)).collect());
        Ok(Self { cache, positions })
    }

    /// The underlying cache file.
    pub fn cache(&self) -> &TeacherCache {
        &self.cache
    }
}

impl CachedTeacher {
    /// The number of classes of the cached logits.
    pub fn num_classes(&self) -> usize {
        self.cache.num_classes()
    }

    /// A short description for logs and reports.
    pub fn describe(&self) -> String {
        let h = self.cache.header();
        let k = h.top_k.map_or_else(String::new, |k| format!(", top-{k}"));
        format!(
            "cached logits of {} ({} rows, {:?}{k}) from {}",
            h.teacher,
            h.num_rows,
            h.dtype,
            self.cache.path().display()
        )
    }
}

impl<I: ModelInput> Teacher<I> for CachedTeacher {
    fn num_classes(&self) -> usize {
        self.cache.num_classes()
    }

    fn logits(&self, batch: TeacherBatch<'_, I>) -> CoreResult<Tensor<2>> {
        let rows: Vec<usize> = match &self.positions {
            None => batch.rows.to_vec(),
            Some(map) => batch
                .rows
                .iter()
                .map(|id| {
                    map.get(id).copied().ok_or_else(|| {
                        CoreError::Teacher(format!(
                            "row id {id} is not in the teacher cache {}",
                            self.cache.path().display()
                        ))
                    })
                })
                .collect::<CoreResult<_>>()?,
        };
        let classes = self.cache.num_classes();
        let mut values = Vec::with_capacity(rows.len() * classes);
        self.cache
            .rows(&rows, &mut values)
            .map_err(|e| CoreError::Teacher(e.to_string()))?;
        let data = TensorData::new(values, [rows.len(), classes]);
        Ok(Tensor::from_data(data, &batch.inputs.device()))
    }

    fn describe(&self) -> String {
        CachedTeacher::describe(self)
    }
}

/// What [`cache_teacher`] stores, besides the logits.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Value type of the stored logits.
    pub dtype: crate::cache::CacheDtype,
    /// Keep only the `k` largest logits per row (and the log-sum-exp of the rest).
    pub top_k: Option<usize>,
    /// A description of the teacher, kept in the header.
    pub teacher: String,
    /// A fingerprint of the teacher (e.g. [`fingerprint`] of its weights), kept in the header.
    pub teacher_fingerprint: String,
    /// Rows per teacher forward pass.
    pub batch_size: usize,
}

/// Runs `teacher` once over every row of `data`, in order, and writes its raw logits to
/// `path` (atomically: temporary file, then rename). `progress` is called with the number of
/// rows done after each batch.
///
/// # Errors
/// A teacher that cannot serve a batch, non-finite logits (naming the row), or an I/O error.
pub fn cache_teacher(
    teacher: &dyn Teacher,
    data: &Dataset,
    path: &Path,
    settings: &CacheSettings,
    mut progress: impl FnMut(usize),
) -> Result<(), CacheError> {
    use crate::cache::{CacheHeader, CacheWriter, FORMAT_VERSION};
    let header = CacheHeader {
        version: u32::from(FORMAT_VERSION),
        num_classes: teacher.num_classes(),
        num_rows: data.len(),
        dataset_fingerprint: dataset_fingerprint(data),
        teacher_fingerprint: settings.teacher_fingerprint.clone(),
        teacher: settings.teacher.clone(),
        dtype: settings.dtype,
        top_k: settings.top_k,
    };
    let mut writer = CacheWriter::create(path, header)?;
    for range in batch_ranges(data.len(), settings.batch_size) {
        let (start, end) = (range.start, range.end);
        let batch = data.range(start, end);
        let logits = teacher
            .logits(TeacherBatch {
                inputs: &batch.inputs,
                rows: &batch.rows,
            })
            .map_err(|e| CacheError::TeacherFailed {
                path: path.to_path_buf(),
                start,
                end,
                reason: e.to_string(),
            })?;
        writer.push(&to_vec_f32(logits))?;
        progress(end);
    }
    writer.finish()
}
