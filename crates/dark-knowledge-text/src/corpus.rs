//! A text corpus as token ids: read from files ([`read_fortunes`], [`read_text_files`]),
//! split into contiguous train / validation / test parts ([`TextCorpus`]), cut into windows
//! ([`TokenWindows`], a burn `Dataset`) and batched ([`TokenBatcher`], a burn `Batcher`).

mod batch;
mod files;
mod windows;

pub use batch::{TokenBatch, TokenBatcher};
pub use files::{FORTUNES_DIR, read_fortunes, read_text_files};
pub use windows::{TokenWindow, TokenWindows};

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// A tokenized corpus split into three contiguous parts, in order: `train` (the first
/// ids), `valid` (the next), `test` (the last). Contiguous parts keep held-out text unseen:
/// no window of the training part overlaps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextCorpus {
    /// The first `1 - valid_fraction - test_fraction` of the ids.
    pub train: Vec<u32>,
    /// The next `valid_fraction` of the ids.
    pub valid: Vec<u32>,
    /// The last `test_fraction` of the ids.
    pub test: Vec<u32>,
    /// The number of distinct ids: every id is below it.
    pub vocab_size: usize,
}

impl TextCorpus {
    /// Splits `ids`: the validation part takes `round(n · valid_fraction)` ids, the test
    /// part `round(n · test_fraction)` ids at the end, the training part the rest.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when a fraction is outside `(0, 1)`, the two sum to 1 or
    /// more, a part would hold fewer than 2 ids (one target), `vocab_size` is 0, or an id is
    /// `≥ vocab_size` (naming its position).
    pub fn new(
        ids: Vec<u32>,
        vocab_size: usize,
        valid_fraction: f64,
        test_fraction: f64,
    ) -> Result<Self> {
        for (name, f) in [
            ("valid_fraction", valid_fraction),
            ("test_fraction", test_fraction),
        ] {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::invalid(name, f, "a number in (0, 1)"));
            }
        }
        if valid_fraction + test_fraction >= 1.0 {
            return Err(Error::invalid(
                "valid_fraction + test_fraction",
                valid_fraction + test_fraction,
                "less than 1, leaving ids to train on",
            ));
        }
        if vocab_size == 0 {
            return Err(Error::invalid("vocab_size", 0, "at least 1"));
        }
        if let Some(at) = ids.iter().position(|&id| id as usize >= vocab_size) {
            return Err(Error::invalid(
                "token id",
                format!("{} at position {at}", ids[at]),
                format!("ids below the vocabulary size {vocab_size}"),
            ));
        }
        let n = ids.len();
        let n_valid = (n as f64 * valid_fraction).round() as usize;
        let n_test = (n as f64 * test_fraction).round() as usize;
        let n_train = n.saturating_sub(n_valid + n_test);
        for (part, len) in [("train", n_train), ("valid", n_valid), ("test", n_test)] {
            if len < 2 {
                return Err(Error::invalid(
                    "corpus size",
                    format!("{n} ids, leaving {len} for the {part} part"),
                    "at least 2 ids in each part (one target)",
                ));
            }
        }
        let mut train = ids;
        let test = train.split_off(n_train + n_valid);
        let valid = train.split_off(n_train);
        Ok(Self {
            train,
            valid,
            test,
            vocab_size,
        })
    }

    /// Encodes `text` with `tokenizer` and splits it as [`new`](Self::new) does, with the
    /// tokenizer's vocabulary size.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_text(
        text: &str,
        tokenizer: &impl Tokenizer,
        valid_fraction: f64,
        test_fraction: f64,
    ) -> Result<Self> {
        Self::new(
            tokenizer.encode(text),
            tokenizer.vocab_size(),
            valid_fraction,
            test_fraction,
        )
    }

    /// The number of ids over the three parts.
    pub fn len(&self) -> usize {
        self.train.len() + self.valid.len() + self.test.len()
    }

    /// Whether the corpus holds no ids (never true of a corpus built by [`new`](Self::new)).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenizer::{ByteTokenizer, CharTokenizer};

    #[test]
    fn parts_are_contiguous_in_order_and_sized_by_the_fractions() {
        let ids: Vec<u32> = (0..1000).map(|i| i % 50).collect();
        let c = TextCorpus::new(ids.clone(), 50, 0.1, 0.05).unwrap();
        assert_eq!((c.train.len(), c.valid.len(), c.test.len()), (850, 100, 50));
        let joined: Vec<u32> = [c.train.clone(), c.valid.clone(), c.test.clone()].concat();
        assert_eq!(joined, ids, "train, then valid, then test");
        assert_eq!(c.len(), 1000);
        assert!(!c.is_empty());
        assert_eq!(c.vocab_size, 50);

        let c = TextCorpus::new((0..7).collect(), 7, 0.3, 0.3).unwrap();
        assert_eq!(
            (c.train, c.valid, c.test),
            (vec![0, 1, 2], vec![3, 4], vec![5, 6])
        );
    }

    #[test]
    fn from_text_uses_the_tokenizer() {
        let text = "hello world, hello corpus";
        let c = TextCorpus::from_text(text, &ByteTokenizer, 0.2, 0.2).unwrap();
        assert_eq!(c.vocab_size, 256);
        assert_eq!(&c.train[..5], b"hello".map(u32::from));
        let tok = CharTokenizer::fit(text);
        let c = TextCorpus::from_text(text, &tok, 0.2, 0.2).unwrap();
        assert_eq!(c.vocab_size, tok.vocab_size());
        let all = [c.train, c.valid, c.test].concat();
        assert_eq!(tok.decode(&all), text);
    }

    #[test]
    fn bad_splits_are_errors() {
        let ids: Vec<u32> = vec![1; 100];
        for (v, t) in [
            (0.0, 0.1),
            (0.1, 0.0),
            (1.0, 0.1),
            (-0.1, 0.1),
            (f64::NAN, 0.1),
        ] {
            let err = TextCorpus::new(ids.clone(), 2, v, t).unwrap_err();
            assert!(err.to_string().contains("(0, 1)"), "{v} {t}: {err}");
        }
        let err = TextCorpus::new(ids.clone(), 2, 0.5, 0.5).unwrap_err();
        assert!(err.to_string().contains("less than 1"), "{err}");
        let err = TextCorpus::new(vec![1; 10], 2, 0.1, 0.1).unwrap_err();
        assert!(
            err.to_string().contains("at least 2"),
            "one id per held-out part: {err}"
        );
        let err = TextCorpus::new(vec![0, 1, 5, 1, 0, 1, 1, 1], 5, 0.25, 0.25).unwrap_err();
        assert!(err.to_string().contains("5 at position 2"), "{err}");
        assert!(TextCorpus::new(vec![], 1, 0.1, 0.1).is_err());
        assert!(TextCorpus::new(ids, 0, 0.1, 0.1).is_err());
    }
}
