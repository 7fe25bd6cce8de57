//! Coverage-free mutation fuzzing of every parser dark-knowledge owns, on stable Rust.
//!
//! Each [`Target`] makes its seed corpus with the library's own writers, then the
//! [`engine`] mutates inputs ([`mutate`]), feeds them to the parser inside
//! `catch_unwind` and counts the heap each input allocates ([`alloc`]). A panic, an
//! allocation over the limit, a hang or a broken invariant of an input that parsed is a
//! crash: the input is written to `crates/dark-knowledge-fuzz/crashes/<target>-<blake3>`.
//! An `Err` from the parser is the expected outcome for a damaged input, not a crash.
//!
//! See `docs/fuzzing.md` for the targets, longer runs and replaying a crash.

pub mod alloc;
pub mod checksum;
pub mod engine;
pub mod mutate;
pub mod targets;

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// What one input did to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The input parsed and every invariant checked held; the text names what parsed (the
    /// engine keeps an input that parses to something new in its corpus).
    Parsed(String),
    /// The parser returned an error, the expected outcome for a damaged input.
    Rejected(String),
    /// The input parsed but broke an invariant of its format (a non-finite value where the
    /// format forbids one, a length that does not match the header, a round trip that
    /// fails, …): a crash.
    Violation(String),
}

impl Outcome {
    /// A rejection carrying the error's message.
    pub fn rejected(error: impl Display) -> Self {
        Self::Rejected(error.to_string())
    }

    /// Whether the input broke an invariant.
    pub fn is_violation(&self) -> bool {
        matches!(self, Self::Violation(_))
    }
}

/// `Err(Outcome::Violation(message))` unless `ok`: for `?` in [`Harness::run`].
pub fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), Outcome> {
    if ok {
        Ok(())
    } else {
        Err(Outcome::Violation(message()))
    }
}

/// The first non-finite value of `values`, as a violation naming `what`.
pub fn check_finite(values: &[f32], what: &str) -> Result<(), Outcome> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Outcome::Violation(format!(
            "{what}: value {i} is {}, expected finite",
            values[i]
        ))),
    }
}

/// One parser under test, with the state it needs (a scratch folder, companion files, a
/// device, data).
pub trait Harness {
    /// Valid inputs made with the library's own writers.
    fn seeds(&mut self) -> Vec<Vec<u8>>;

    /// Repairs the checksums (and length fields) of a mutated input so that mutations reach
    /// the parsing behind them; applied to about half of the inputs.
    fn fixup(&self, _input: &mut Vec<u8>) {}

    /// Feeds `input` to the parser and checks what it returned.
    fn run(&mut self, input: &[u8]) -> Outcome;
}

/// A named fuzz target.
#[derive(Clone, Copy)]
pub struct Target {
    /// Name used on the command line and in crash file names.
    pub name: &'static str,
    /// What it feeds.
    pub about: &'static str,
    /// Builds the harness; its files go into the given scratch folder.
    pub make: fn(&Path) -> Box<dyn Harness>,
}

/// Where this crate keeps crash files: `crates/dark-knowledge-fuzz/crashes`.
pub fn crash_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crashes")
}

/// Where the regression inputs (crashes found and fixed) live:
/// `crates/dark-knowledge-fuzz/regressions`.
pub fn regression_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions")
}

/// Text of `input` for the text formats: invalid UTF-8 is replaced rather than refused, so
/// byte mutations keep reaching the parser.
pub fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}
