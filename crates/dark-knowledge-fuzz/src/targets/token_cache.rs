//! The top-k token-logit cache of language-model distillation (`TokenLogitCache::open`,
//! `get`, `TokenTopK::to_full_logits`).

use std::path::{Path, PathBuf};

use burn::tensor::{Bool, Device, Tensor, TensorData};
use dark_knowledge_text::cache::{TokenCacheMeta, TokenCacheWriter, TokenLogitCache, TokenTopK};

use crate::{Harness, Outcome, check, check_finite};

/// Widest full-logit tensor the harness rebuilds (`windows · seq · vocab` floats).
const MAX_FULL: usize = 1 << 16;

pub(crate) struct TokenCache {
    path: PathBuf,
    device: Device,
}

impl TokenCache {
    /// A cache of `windows` windows of `seq` tokens over `vocab` ids, top `k`, written by the
    /// library's writer from made-up logits; its bytes.
    fn seed(&self, windows: usize, seq: usize, vocab: usize, k: usize, short: bool) -> Vec<u8> {
        let logits: Vec<f32> = (0..windows * seq * vocab)
            .map(|i| ((i * 7919) % 23) as f32 * 0.37 - 4.0)
            .collect();
        let logits =
            Tensor::<3>::from_data(TensorData::new(logits, [windows, seq, vocab]), &self.device);
        let keep: Vec<bool> = (0..windows * seq)
            .map(|i| !(short && i + 1 == windows * seq))
            .collect();
        let mask =
            Tensor::<2, Bool>::from_data(TensorData::new(keep, [windows, seq]), &self.device);
        let meta = TokenCacheMeta {
            vocab_size: vocab,
            k,
            seq_len: seq,
            windows,
            teacher: Some("fuzz seed".into()),
            data_checksum: None,
        };
        let top = TokenTopK::from_logits(logits, k).expect("seed top-k");
        let mut w = TokenCacheWriter::create(&self.path, meta).expect("a valid seed meta");
        w.push(&top, &mask).expect("seed windows");
        w.finish().expect("seed cache written");
        std::fs::read(&self.path).expect("seed cache read back")
    }

    fn check(&self, cache: &TokenLogitCache) -> Result<(), Outcome> {
        let m = cache.meta();
        if m.windows == 0 {
            return Ok(());
        }
        let rows: Vec<usize> = (0..m.windows.min(8)).chain([m.windows - 1]).collect();
        let Ok((top, mask)) = cache.get(&rows, &self.device) else {
            return Ok(());
        };
        check(top.indices.dims() == [rows.len(), m.seq_len, m.k], || {
            format!(
                "indices of shape {:?} for {} windows",
                top.indices.dims(),
                rows.len()
            )
        })?;
        let kept: Vec<bool> = mask.into_data().iter::<bool>().collect();
        let ids: Vec<i64> = top.indices.clone().into_data().iter::<i64>().collect();
        let values: Vec<f32> = top.values.clone().into_data().iter::<f32>().collect();
        for (token, keep) in kept.iter().enumerate() {
            if !keep {
                continue;
            }
            let span = token * m.k..(token + 1) * m.k;
            let mut seen = std::collections::HashSet::new();
            check(
                ids[span.clone()]
                    .iter()
                    .all(|&i| i >= 0 && (i as usize) < m.vocab_size && seen.insert(i)),
                || {
                    format!(
                        "token {token}: ids {:?} not distinct ids below {}",
                        &ids[span.clone()],
                        m.vocab_size
                    )
                },
            )?;
            check_finite(&values[span], "top-k values")?;
        }
        if rows.len() * m.seq_len * m.vocab_size <= MAX_FULL {
            let full = top.to_full_logits(m.vocab_size);
            check(full.dims() == [rows.len(), m.seq_len, m.vocab_size], || {
                "full logits of the wrong shape".into()
            })?;
        }
        Ok(())
    }
}

impl Harness for TokenCache {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.seed(3, 4, 6, 2, false),
            self.seed(2, 5, 4, 4, true),
            self.seed(1, 1, 3, 1, false),
        ]
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        if let Err(e) = std::fs::write(&self.path, input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        let cache = match TokenLogitCache::open(&self.path) {
            Ok(c) => c,
            Err(e) => return Outcome::rejected(e),
        };
        if let Err(o) = self.check(&cache) {
            return o;
        }
        let m = cache.meta();
        Outcome::Parsed(format!(
            "k {} of {} ids, {} windows",
            m.k,
            m.vocab_size,
            m.windows.min(4)
        ))
    }
}

/// Builds the `token-cache` harness.
pub(crate) fn token_cache(scratch: &Path) -> Box<dyn Harness> {
    Box::new(TokenCache {
        path: scratch.join("teacher-topk.safetensors"),
        device: Device::flex(),
    })
}
