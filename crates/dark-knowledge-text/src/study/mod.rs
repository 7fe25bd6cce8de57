//! A runnable study of language-model distillation on a text corpus: per seed, a teacher
//! trained from the text, then one student per arm — from scratch, distilled per token with
//! forward KL, reverse KL, GKD (on-policy, generalized JSD), from a top-k cache, or by
//! sequence-level KD — each with the same step budget, scored on held-out text in bits per
//! character, with paired differences against the student from scratch.
//!
//! Results are written per run as they finish (`runs/seed-S/ARM.json`, teachers under
//! `teachers/`), so an interrupted study resumes where it stopped; a run whose settings
//! changed is recomputed.

mod config;
mod run;
mod summary;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

pub use config::{CorpusSource, LmShape, LmStudyConfig, StudyArm, standard_arms};
pub use summary::{ArmSummary, LmRunResult, markdown, mean_std, summarize};

use crate::corpus::{TextCorpus, read_fortunes, read_text_files};
use crate::error::{Error, Result};
use crate::tokenizer::{CharTokenizer, Tokenizer};

/// The outcome of a study: every run, the table over seeds, and the corpus it ran on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmStudy {
    /// The settings.
    pub config: LmStudyConfig,
    /// Characters in the tokenizer's alphabet (+1 for unseen characters).
    pub vocab_size: usize,
    /// Tokens (characters) of the train, validation and test parts.
    pub tokens: [usize; 3],
    /// The teacher and every student of every seed.
    pub runs: Vec<LmRunResult>,
    /// The table over seeds.
    pub summary: Vec<ArmSummary>,
    /// Wall time of the study, seconds (resumed runs count their original time in `runs`).
    pub seconds: f64,
}

impl LmStudy {
    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        markdown(&self.summary, &self.runs)
    }

    /// The summary of one arm (or `teacher`).
    pub fn arm(&self, name: &str) -> Option<&ArmSummary> {
        self.summary.iter().find(|s| s.arm == name)
    }
}

/// The corpus of a study, tokenized by characters (the alphabet fitted on the whole text,
/// id 0 for none), split into contiguous train / validation / test parts.
///
/// # Errors
/// [`Error::Io`] / [`Error::Format`] for missing or unreadable text, and the corpus's own
/// errors for a text too short to split.
pub fn load_corpus(config: &LmStudyConfig) -> Result<(CharTokenizer, TextCorpus)> {
    let mut text = match &config.corpus {
        CorpusSource::Fortunes(dir) => read_fortunes(dir)?,
        CorpusSource::Files(files) => read_text_files(files)?,
    };
    if config.max_chars > 0
        && let Some((cut, _)) = text.char_indices().nth(config.max_chars)
    {
        text.truncate(cut);
    }
    let tokenizer = CharTokenizer::fit(&text);
    let corpus = TextCorpus::from_text(
        &text,
        &tokenizer,
        config.valid_fraction,
        config.test_fraction,
    )?;
    debug_assert_eq!(corpus.vocab_size, tokenizer.vocab_size());
    Ok((tokenizer, corpus))
}

/// Runs (or resumes) the study into `out`: `study.json`, `study.md`, `tokenizer.json`, and
/// one file per run. The same settings and seeds on the same device give the same numbers.
///
/// # Errors
/// Any error of the corpus, the models, training or writing the results.
pub fn run_study(
    config: &LmStudyConfig,
    out: &Path,
    device: &Device,
    progress: bool,
) -> Result<LmStudy> {
    config.validate()?;
    let started = std::time::Instant::now();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let (tokenizer, corpus) = load_corpus(config)?;
    tokenizer.save(&out.join("tokenizer.json"))?;
    let data = run::StudyData::new(config, &corpus)?;
    let mut runs = Vec::new();
    for &seed in &config.seeds {
        runs.extend(run::run_seed(config, &data, seed, out, device, progress)?);
    }
    let study = LmStudy {
        config: config.clone(),
        vocab_size: corpus.vocab_size,
        tokens: [corpus.train.len(), corpus.valid.len(), corpus.test.len()],
        summary: summarize(&runs),
        runs,
        seconds: started.elapsed().as_secs_f64(),
    };
    write_json(&out.join("study.json"), &study)?;
    let md = format!(
        "# Language-model distillation study\n\n{} characters of training text, vocabulary {}, \
         seeds {:?}; test bits per character (lower is better).\n\n{}",
        study.tokens[0],
        study.vocab_size,
        config.seeds,
        study.markdown()
    );
    write_file(&out.join("study.md"), md.as_bytes())?;
    Ok(study)
}

/// Writes `value` as pretty JSON, atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::format(path, format!("cannot serialise: {e}")))?;
    write_file(path, &json)
}

/// Writes `bytes` atomically (temp file + rename), creating the folder.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    dark_knowledge_core::io::write_atomic(path, bytes).map_err(|e| Error::io(path, e))
}

/// The folder of a seed's files under `out`.
pub(crate) fn seed_dir(out: &Path, seed: u64) -> PathBuf {
    out.join("runs").join(format!("seed-{seed}"))
}
