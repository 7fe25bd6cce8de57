//! Windows of consecutive token ids, as a burn [`Dataset`].

use std::sync::Arc;

use burn::data::dataset::{Dataset, DatasetError};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};

/// Windows of up to `seq_len + 1` consecutive ids of one token stream: a model reads the
/// first `seq_len` and predicts each next one (the targets are the same ids shifted by
/// one). A burn [`Dataset`] of [`TokenWindow`]s, to batch with
/// [`TokenBatcher`](super::TokenBatcher).
///
/// The ids are shared ([`Arc`]), so windows cost two words each.
#[derive(Debug, Clone)]
pub struct TokenWindows {
    ids: Arc<Vec<u32>>,
    seq_len: usize,
    starts: Vec<usize>,
}

/// One window of a [`TokenWindows`] dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenWindow {
    /// The window's position in its dataset.
    pub index: usize,
    /// Between 2 and `seq_len + 1` consecutive ids.
    pub ids: Vec<u32>,
}

impl TokenWindows {
    /// Non-overlapping windows starting every `seq_len` tokens, for evaluation: window `k`
    /// holds ids `k·seq_len ..= (k+1)·seq_len`, so every id but the first is a target
    /// exactly once. The last window may be shorter (it is kept if it holds at least 2 ids,
    /// i.e. one target).
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when `seq_len` is 0 or there are fewer than 2 ids.
    pub fn sequential(ids: Arc<Vec<u32>>, seq_len: usize) -> Result<Self> {
        check(&ids, seq_len, 2)?;
        let starts = (0..ids.len() - 1).step_by(seq_len).collect();
        Ok(Self {
            ids,
            seq_len,
            starts,
        })
    }

    /// `count` full windows (`seq_len + 1` ids) at random starts drawn from `seed` (the same
    /// seed gives the same windows), for training; starts are uniform over every position
    /// where a full window fits.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when `seq_len` or `count` is 0, or there are fewer than
    /// `seq_len + 1` ids.
    pub fn random(ids: Arc<Vec<u32>>, seq_len: usize, count: usize, seed: u64) -> Result<Self> {
        check(&ids, seq_len, seq_len.saturating_add(1))?;
        if count == 0 {
            return Err(Error::invalid("window count", 0, "at least 1"));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let last_start = ids.len() - seq_len - 1;
        let starts = (0..count)
            .map(|_| rng.random_range(0..=last_start))
            .collect();
        Ok(Self {
            ids,
            seq_len,
            starts,
        })
    }

    /// The number of windows (as [`Dataset::len`]).
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether there is no window (never true of a dataset built here).
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The number of ids a model reads per window (a window holds one more).
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The token stream the windows are cut from.
    pub fn ids(&self) -> &Arc<Vec<u32>> {
        &self.ids
    }

    /// The position in [`ids`](Self::ids) of each window's first id.
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// The ids of window `index`, or `None` past the end.
    pub fn window(&self, index: usize) -> Option<&[u32]> {
        let &start = self.starts.get(index)?;
        let end = (start + self.seq_len + 1).min(self.ids.len());
        Some(&self.ids[start..end])
    }

    /// The number of targets over all windows (each window's length minus one).
    pub fn num_targets(&self) -> usize {
        (0..self.starts.len())
            .map(|i| self.window(i).map_or(0, |w| w.len() - 1))
            .sum()
    }
}

fn check(ids: &[u32], seq_len: usize, min_ids: usize) -> Result<()> {
    if seq_len == 0 {
        return Err(Error::invalid("seq_len", 0, "at least 1"));
    }
    if ids.len() < min_ids {
        return Err(Error::invalid(
            "token count",
            ids.len(),
            format!("at least {min_ids} ids for windows of {seq_len} inputs"),
        ));
    }
    Ok(())
}

impl Dataset<TokenWindow> for TokenWindows {
    /// Window `index` as an owned [`TokenWindow`].
    ///
    /// # Panics
    /// When `index >= len()`, as burn's datasets do.
    fn get(&self, index: usize) -> std::result::Result<TokenWindow, DatasetError> {
        let ids = self.window(index).unwrap_or_else(|| {
            panic!(
                "window {index} out of range: the dataset has {}",
                self.starts.len()
            )
        });
        Ok(TokenWindow {
            index,
            ids: ids.to_vec(),
        })
    }

    fn len(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n: u32) -> Arc<Vec<u32>> {
        Arc::new((0..n).collect())
    }

    #[test]
    fn sequential_windows_predict_every_token_once() {
        for (n, seq) in [
            (10, 3),
            (11, 3),
            (12, 3),
            (2, 5),
            (7, 1),
            (65, 64),
            (64, 64),
        ] {
            let w = TokenWindows::sequential(stream(n), seq).unwrap();
            let mut targets = Vec::new();
            for i in 0..w.len() {
                let item = w.get(i).unwrap();
                assert_eq!(item.index, i);
                assert!(item.ids.len() >= 2 && item.ids.len() <= seq + 1);
                assert!(item.ids.windows(2).all(|p| p[1] == p[0] + 1), "consecutive");
                targets.extend_from_slice(&item.ids[1..]);
            }
            assert_eq!(targets, (1..n).collect::<Vec<_>>(), "n {n}, seq {seq}");
            assert_eq!(w.num_targets(), n as usize - 1);
            assert_eq!(w.seq_len(), seq);
        }
        // 10 ids, seq 3: windows 0..=3, 3..=6, 6..=9.
        let w = TokenWindows::sequential(stream(10), 3).unwrap();
        assert_eq!(w.starts(), &[0, 3, 6]);
        // 11 ids: a last window of 2 ids (9, 10) is kept.
        let w = TokenWindows::sequential(stream(11), 3).unwrap();
        assert_eq!(w.window(3), Some(&[9, 10][..]));
        assert_eq!(w.window(4), None);
    }

    #[test]
    fn random_windows_are_reproducible_full_and_in_range() {
        let ids = stream(100);
        let a = TokenWindows::random(ids.clone(), 8, 500, 7).unwrap();
        let b = TokenWindows::random(ids.clone(), 8, 500, 7).unwrap();
        let c = TokenWindows::random(ids.clone(), 8, 500, 8).unwrap();
        assert_eq!(a.starts(), b.starts());
        assert_ne!(a.starts(), c.starts());
        assert_eq!(a.len(), 500);
        for i in 0..a.len() {
            assert_eq!(a.get(i).unwrap().ids.len(), 9, "full windows");
        }
        assert!(a.starts().iter().all(|&s| s + 9 <= 100));
        // Every start is reachable, the last one included.
        let w = TokenWindows::random(stream(12), 8, 2000, 1).unwrap();
        let mut seen: Vec<usize> = w.starts().to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, vec![0, 1, 2, 3]);
        // Exactly one full window fits.
        let w = TokenWindows::random(stream(9), 8, 3, 1).unwrap();
        assert_eq!(w.starts(), &[0, 0, 0]);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(TokenWindows::sequential(stream(10), 0).is_err());
        assert!(TokenWindows::sequential(stream(1), 4).is_err());
        assert!(TokenWindows::random(stream(8), 8, 1, 0).is_err());
        assert!(TokenWindows::random(stream(100), 8, 0, 0).is_err());
        assert!(TokenWindows::random(stream(100), 0, 1, 0).is_err());
        assert!(TokenWindows::random(stream(100), usize::MAX, 1, 0).is_err());
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn get_past_the_end_panics_like_burn_datasets() {
        let w = TokenWindows::sequential(stream(10), 3).unwrap();
        let _ = w.get(3);
    }
}
