//! The teacher-logit cache (`TeacherCache::open`, `dense_row`, `topk_row`, `rows`).

use std::path::{Path, PathBuf};

use dark_knowledge_data::cache::{
    CacheDtype, CacheHeader, CacheWriter, FORMAT_VERSION, TeacherCache, TopKRow, fingerprint,
};

use crate::checksum::put_crc;
use crate::{Harness, Outcome, check, check_finite};

/// Rows read back from a cache that opened.
const ROWS: usize = 32;

/// Widest dense row the harness itself allocates (the cache's own allocations are not capped).
const MAX_DENSE: usize = 1 << 16;

pub(crate) struct Cache {
    path: PathBuf,
}

fn header(
    num_classes: usize,
    num_rows: usize,
    dtype: CacheDtype,
    top_k: Option<usize>,
) -> CacheHeader {
    CacheHeader {
        version: u32::from(FORMAT_VERSION),
        num_classes,
        num_rows,
        dataset_fingerprint: fingerprint(&[0.5, 1.5], &[0, 1]),
        teacher_fingerprint: fingerprint(&[2.0], &[]),
        teacher: "fuzz seed".into(),
        dtype,
        top_k,
    }
}

/// The cache file `header` and `logits` make, written by [`CacheWriter`].
fn write(path: &Path, header: CacheHeader, logits: &[f32]) -> Vec<u8> {
    let mut w = CacheWriter::create(path, header).expect("a valid seed header");
    w.push(logits).expect("seed rows");
    w.finish().expect("seed cache written");
    std::fs::read(path).expect("seed cache read back")
}

fn check_topk(row: &TopKRow, c: usize, k: usize) -> Result<(), Outcome> {
    check(row.indices.len() == k && row.logits.len() == k, || {
        format!(
            "{} indices and {} logits for k = {k}",
            row.indices.len(),
            row.logits.len()
        )
    })?;
    let mut seen = std::collections::HashSet::new();
    check(
        row.indices
            .iter()
            .all(|&i| (i as usize) < c && seen.insert(i)),
        || format!("indices {:?} not distinct classes below {c}", row.indices),
    )?;
    check_finite(&row.logits, "top-k logits")?;
    check(row.logits.windows(2).all(|w| w[0] >= w[1]), || {
        "top-k logits not in descending order".into()
    })?;
    let rest_ok = if k < c {
        row.rest_lse.is_finite()
    } else {
        row.rest_lse == f32::NEG_INFINITY
    };
    check(rest_ok, || {
        format!("rest log-sum-exp {} with k = {k} of {c}", row.rest_lse)
    })
}

fn check_rows(cache: &TeacherCache) -> Result<(), Outcome> {
    let (c, n) = (cache.num_classes(), cache.num_rows());
    let k = cache.header().top_k.unwrap_or(c);
    for row in 0..n.min(ROWS) {
        if c <= MAX_DENSE {
            let mut out = vec![0.0; c];
            if cache.dense_row(row, &mut out).is_ok() {
                check_finite(&out, "dense row")?;
            }
        }
        if let Ok(top) = cache.topk_row(row) {
            check_topk(&top, c, k)?;
        }
    }
    if c <= MAX_DENSE {
        let rows: Vec<usize> = (0..n.min(ROWS)).collect();
        let mut out = Vec::new();
        if cache.rows(&rows, &mut out).is_ok() {
            check(out.len() == rows.len() * c, || {
                "rows() returned the wrong length".into()
            })?;
            check_finite(&out, "rows()")?;
        }
    }
    Ok(())
}

impl Harness for Cache {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let logits = [
            2.0, -1.0, 0.5, 0.1, 0.2, 3.0, -4.0, 1.0, 7.5, 0.0, 0.0, -0.25,
        ];
        vec![
            write(&self.path, header(4, 3, CacheDtype::F32, None), &logits),
            write(&self.path, header(3, 4, CacheDtype::F16, None), &logits),
            write(&self.path, header(4, 3, CacheDtype::F32, Some(2)), &logits),
            write(&self.path, header(6, 2, CacheDtype::F16, Some(6)), &logits),
            write(&self.path, header(2, 0, CacheDtype::F32, None), &[]),
        ]
    }

    /// The trailing CRC-32 over every byte before it.
    fn fixup(&self, input: &mut Vec<u8>) {
        let n = input.len();
        if n >= 4 {
            put_crc(input, 0..n - 4, n - 4);
        }
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        if let Err(e) = std::fs::write(&self.path, input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        let cache = match TeacherCache::open(&self.path) {
            Ok(c) => c,
            Err(e) => return Outcome::rejected(e),
        };
        if let Err(o) = check_rows(&cache) {
            return o;
        }
        let h = cache.header();
        Outcome::Parsed(format!("{:?} top_k {}", h.dtype, h.top_k.is_some()))
    }
}

/// Builds the `cache` harness.
pub(crate) fn cache(scratch: &Path) -> Box<dyn Harness> {
    Box::new(Cache {
        path: scratch.join("teacher.dktc"),
    })
}
