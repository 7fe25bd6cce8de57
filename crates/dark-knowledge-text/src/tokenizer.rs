//! Tokenizers that need no download: the UTF-8 bytes of a text ([`ByteTokenizer`]), or its
//! characters from a vocabulary fitted on a corpus ([`CharTokenizer`]).

use std::path::Path;

use dark_knowledge_core::io::write_atomic;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Maps text to token ids in `0..vocab_size()` and back.
///
/// Implement it to train and distil on your own tokenization; the corpus
/// ([`TextCorpus::from_text`](crate::corpus::TextCorpus::from_text)) and the model only see
/// the ids.
pub trait Tokenizer {
    /// The number of distinct ids: every id [`encode`](Self::encode) returns is below it.
    fn vocab_size(&self) -> usize;

    /// The ids of `text`.
    fn encode(&self, text: &str) -> Vec<u32>;

    /// The text of `ids`; ids that stand for nothing (out of range, or bytes that are not
    /// UTF-8) become U+FFFD, the replacement character.
    fn decode(&self, ids: &[u32]) -> String;
}

/// One token per UTF-8 byte: 256 ids, no fitting, any text.
///
/// `decode(encode(text)) == text` for every string; [`decode`](Tokenizer::decode) of
/// arbitrary ids is lossy (invalid UTF-8 and ids ≥ 256 become U+FFFD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteTokenizer;

impl Tokenizer for ByteTokenizer {
    fn vocab_size(&self) -> usize {
        256
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }

    fn decode(&self, ids: &[u32]) -> String {
        let mut out = String::with_capacity(ids.len());
        for run in ids.split(|&id| id > 255) {
            let bytes: Vec<u8> = run.iter().map(|&id| id as u8).collect();
            out.push_str(&String::from_utf8_lossy(&bytes));
            out.push(char::REPLACEMENT_CHARACTER);
        }
        out.pop(); // the separator pushed after the last run
        out
    }
}

/// One token per character, from the characters of a fitted text: id 0 stands for any
/// character not seen when fitting, ids `1..` for the fitted characters in sorted order.
///
/// Saved as JSON (`{"chars": ["\n", " ", "a", …]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharTokenizer {
    chars: Vec<char>,
}

impl CharTokenizer {
    /// The id of characters not in the vocabulary.
    pub const UNKNOWN: u32 = 0;

    /// The vocabulary of `text`: each distinct character once, sorted.
    pub fn fit(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self { chars }
    }

    /// A tokenizer over exactly these characters.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when `chars` is not strictly increasing (unsorted or with a
    /// duplicate).
    pub fn from_chars(chars: Vec<char>) -> Result<Self> {
        if let Some(w) = chars.windows(2).find(|w| w[0] >= w[1]) {
            let what = if w[0] == w[1] {
                "a duplicate"
            } else {
                "out of order"
            };
            return Err(Error::invalid(
                "tokenizer characters",
                format!("{what}: {:?} then {:?}", w[0], w[1]),
                "distinct characters in increasing order",
            ));
        }
        Ok(Self { chars })
    }

    /// The fitted characters, sorted; the character of id `i ≥ 1` is `chars()[i - 1]`.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// Writes the vocabulary to `path` as JSON, atomically.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string(self).expect("a list of characters serializes");
        write_atomic(path, json.as_bytes()).map_err(|e| Error::io(path, e))
    }

    /// Reads a vocabulary written by [`save`](Self::save).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Format`] naming the file when it
    /// is not such JSON, or its characters are not distinct and sorted.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let raw: Self = serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not a character tokenizer (JSON): {e}")))?;
        Self::from_chars(raw.chars).map_err(|e| Error::format(path, e.to_string()))
    }

    fn id_of(&self, c: char) -> u32 {
        match self.chars.binary_search(&c) {
            Ok(i) => i as u32 + 1,
            Err(_) => Self::UNKNOWN,
        }
    }
}

impl Tokenizer for CharTokenizer {
    /// The fitted characters plus the unknown id.
    fn vocab_size(&self) -> usize {
        self.chars.len() + 1
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        text.chars().map(|c| self.id_of(c)).collect()
    }

    fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&id| match (id as usize).checked_sub(1) {
                Some(i) if i < self.chars.len() => self.chars[i],
                _ => char::REPLACEMENT_CHARACTER,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Random strings mixing ASCII, accented letters, CJK, emoji and control characters.
    fn random_strings(seed: u64, n: usize) -> Vec<String> {
        let pools: [&[char]; 4] = [
            &['a', 'Z', ' ', '\n', '\t', '%', '\0', '~'],
            &['é', 'ß', 'ø', 'Ж', 'λ'],
            &['漢', '字', '한', 'あ'],
            &['😀', '🦀', '\u{10FFFF}', '\u{FFFD}'],
        ];
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let len = rng.random_range(0..40);
                (0..len)
                    .map(|_| {
                        if rng.random_range(0..4) == 0 {
                            // Any scalar value.
                            loop {
                                if let Some(c) = char::from_u32(rng.random_range(0..0x11_0000)) {
                                    break c;
                                }
                            }
                        } else {
                            let pool = pools[rng.random_range(0..pools.len())];
                            pool[rng.random_range(0..pool.len())]
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn bytes_round_trip_any_text() {
        let t = ByteTokenizer;
        for s in random_strings(1, 500) {
            let ids = t.encode(&s);
            assert_eq!(ids.len(), s.len(), "one id per byte");
            assert!(ids.iter().all(|&id| id < 256));
            assert_eq!(t.decode(&ids), s);
        }
        assert_eq!(t.encode("é"), vec![0xC3, 0xA9]);
    }

    #[test]
    fn bytes_decode_is_lossy_on_bad_input() {
        let t = ByteTokenizer;
        assert_eq!(t.decode(&[0x61, 0xC3]), "a\u{FFFD}", "a truncated sequence");
        assert_eq!(
            t.decode(&[0x61, 300, 0x62]),
            "a\u{FFFD}b",
            "an id above 255"
        );
        assert_eq!(t.decode(&[300]), "\u{FFFD}");
        assert_eq!(t.decode(&[]), "");
    }

    #[test]
    fn chars_round_trip_fitted_text_and_map_unknowns_to_zero() {
        for s in random_strings(2, 200) {
            let t = CharTokenizer::fit(&s);
            let ids = t.encode(&s);
            assert_eq!(ids.len(), s.chars().count());
            assert!(
                ids.iter()
                    .all(|&id| id >= 1 && (id as usize) < t.vocab_size())
            );
            assert_eq!(t.decode(&ids), s);
        }
        let t = CharTokenizer::fit("cabbage");
        assert_eq!(t.chars(), &['a', 'b', 'c', 'e', 'g']);
        assert_eq!(t.vocab_size(), 6);
        assert_eq!(t.encode("abz"), vec![1, 2, 0]);
        assert_eq!(t.decode(&[3, 1, 0, 99]), "ca\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn save_load_round_trip_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok.json");
        let t = CharTokenizer::fit("Hello, wörld!\n\"quotes\" 🦀");
        t.save(&path).unwrap();
        assert_eq!(CharTokenizer::load(&path).unwrap(), t);

        let cases = [
            ("garbage", "not json"),
            ("unsorted", r#"{"chars":["b","a"]}"#),
            ("duplicate", r#"{"chars":["a","a"]}"#),
            ("extra", r#"{"chars":["a"],"other":1}"#),
            ("not-a-char", r#"{"chars":["ab"]}"#),
        ];
        for (name, text) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            let err = CharTokenizer::load(&p).unwrap_err();
            assert!(matches!(err, Error::Format { .. }), "{name}: {err}");
            assert!(err.to_string().contains(name), "names the file: {err}");
        }
        let err = CharTokenizer::load(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(CharTokenizer::from_chars(vec!['b', 'a']).is_err());
    }
}
