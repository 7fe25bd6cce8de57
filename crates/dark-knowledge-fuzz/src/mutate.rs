//! Seeded, reproducible byte mutations: bit flips, interesting bytes and integers, number
//! literals in text, truncation, insertion, deletion, duplication of chunks, splicing.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Bytes that matter to the formats: zero and sign boundaries, digits, quotes, separators,
/// newlines, brackets.
const BYTES: &[u8] = &[
    0, 1, 0x7F, 0x80, 0xFF, 0xFE, b'0', b'1', b'9', b'-', b'+', b'.', b'e', b'"', b'\'', b'\n',
    b'\r', b',', b';', b' ', b'\t', b'[', b']', b'{', b'}', b'(', b')', b':', b'=', b'#', b'\\',
];

/// Integers at the edges of the fixed-width fields.
const INTEGERS: &[u64] = &[
    0,
    1,
    2,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    u64::MAX,
    u64::MAX - 1,
];

/// Number literals for the text formats (CSV, JSON, TOML, the `.npy` header).
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "255",
    "256",
    "65504",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1e38",
    "3.5e38",
    "1e308",
    "1e309",
    "-1e999",
    "1e-45",
    "1e-400",
    "0.1",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
];

/// The mutator of one fuzzing thread; the same seed gives the same mutations.
pub struct Mutator {
    rng: StdRng,
}

impl Mutator {
    /// A mutator drawing from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A uniform index below `n` (`n >= 1`).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Applies 1 to 8 mutations (mostly few) to `input`, splicing with `other` at times,
    /// keeping it at most `max_len` bytes.
    pub fn mutate(&mut self, input: &mut Vec<u8>, other: &[u8], max_len: usize) {
        let scale = self.below(4);
        let count = 1 + self.below(1 << scale).min(7);
        for _ in 0..count {
            self.one(input, other);
        }
        input.truncate(max_len);
    }

    fn one(&mut self, input: &mut Vec<u8>, other: &[u8]) {
        if input.is_empty() {
            input.push(self.pick(BYTES));
            return;
        }
        match self.below(12) {
            0 | 1 => {
                let bit = self.below(input.len() * 8);
                input[bit / 8] ^= 1 << (bit % 8);
            }
            2 | 3 => {
                let at = self.below(input.len());
                input[at] = self.pick(BYTES);
            }
            4 => self.integer(input),
            5 => self.number(input),
            6 => {
                let at = self.below(input.len());
                input[at] = input[at].wrapping_add(self.pick(&[1, 2, 0xFF, 0xFE, 0x10]));
            }
            7 => input.truncate(self.below(input.len())),
            8 => {
                let at = self.below(input.len() + 1);
                let n = 1 + self.below(16);
                let byte = self.pick(BYTES);
                let random = self.chance(0.5);
                let bytes: Vec<u8> = (0..n)
                    .map(|_| if random { self.rng.random() } else { byte })
                    .collect();
                input.splice(at..at, bytes);
            }
            9 => {
                let (start, end) = self.range(input.len());
                input.drain(start..end);
            }
            10 => self.duplicate(input),
            _ => self.splice(input, other),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A non-empty range of at most 64 bytes inside `len` bytes (`len >= 1`).
    fn range(&mut self, len: usize) -> (usize, usize) {
        let start = self.below(len);
        let end = start + 1 + self.below((len - start).min(64));
        (start, end)
    }

    /// Overwrites 1, 2, 4 or 8 bytes with an interesting integer, either byte order.
    fn integer(&mut self, input: &mut [u8]) {
        let width = self.pick(&[1usize, 2, 4, 8]).min(input.len());
        let value = self.pick(INTEGERS);
        // The `width` low-order bytes of the value, in either byte order.
        let (bytes, from) = if self.chance(0.5) {
            (value.to_le_bytes(), 0)
        } else {
            (value.to_be_bytes(), 8 - width)
        };
        let at = self.below(input.len() - width + 1);
        input[at..at + width].copy_from_slice(&bytes[from..from + width]);
    }

    /// Replaces a run of ASCII digits (the first at or after a random offset) with a number
    /// literal; inserts one when there is no digit.
    fn number(&mut self, input: &mut Vec<u8>) {
        let literal = self.pick(NUMBERS).as_bytes().to_vec();
        let from = self.below(input.len());
        let Some(start) = input[from..].iter().position(u8::is_ascii_digit) else {
            input.splice(from..from, literal);
            return;
        };
        let start = from + start;
        let len = input[start..]
            .iter()
            .position(|b| !b.is_ascii_digit() && !b"+-.eE".contains(b))
            .unwrap_or(input.len() - start);
        input.splice(start..start + len, literal);
    }

    /// Copies a chunk of the input (up to 64 bytes) to another place, 1 to 16 times.
    fn duplicate(&mut self, input: &mut Vec<u8>) {
        let (start, end) = self.range(input.len());
        let chunk = input[start..end].to_vec();
        let times = 1 + self.below(16);
        let at = self.below(input.len() + 1);
        let repeated: Vec<u8> = chunk
            .iter()
            .copied()
            .cycle()
            .take(chunk.len() * times)
            .collect();
        input.splice(at..at, repeated);
    }

    /// A prefix of `input` followed by a suffix of `other`.
    fn splice(&mut self, input: &mut Vec<u8>, other: &[u8]) {
        if other.is_empty() {
            return self.duplicate(input);
        }
        let cut = self.below(input.len() + 1);
        let from = self.below(other.len());
        input.truncate(cut);
        input.extend_from_slice(&other[from..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let run = |seed| {
            let mut m = Mutator::new(seed);
            let mut input = b"a,b\n1,2\n".to_vec();
            for _ in 0..200 {
                m.mutate(&mut input, b"x,y\n3,4\n", 256);
            }
            input
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
