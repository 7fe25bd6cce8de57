//! What a language-model distillation study runs: the corpus, the two model sizes, the step
//! budgets, the seeds and the arms (ways to train the student).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::generate::Sampling;
use crate::loss::{TokenDivergence, TokenKdConfig};
use crate::model::CausalLmConfig;
use crate::train::{LmObjective, OnPolicyConfig, SequenceKdConfig};

/// Where the study's text comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CorpusSource {
    /// The plain fortune files of a directory (Debian's `fortunes` package:
    /// `/usr/share/games/fortunes`).
    Fortunes(PathBuf),
    /// UTF-8 text files, concatenated in this order.
    Files(Vec<PathBuf>),
}

/// A model's shape, without its vocabulary (the tokenizer gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmShape {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Attention heads (dividing `d_model`).
    pub n_heads: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Width of the feed-forward layers.
    pub d_ff: usize,
}

impl LmShape {
    /// The model configuration for `vocab_size` ids and `seq_len`-token windows.
    pub fn config(&self, vocab_size: usize, seq_len: usize) -> CausalLmConfig {
        CausalLmConfig::new(vocab_size)
            .with_max_seq_len(seq_len)
            .with_d_model(self.d_model)
            .with_n_heads(self.n_heads)
            .with_n_layers(self.n_layers)
            .with_d_ff(self.d_ff)
    }
}

/// One way to train the student; every arm gets the same step budget and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyArm {
    /// The arm's name in tables (`scratch`, `forward_kl`, …).
    pub name: String,
    /// What the student learns from.
    pub objective: LmObjective,
    /// Train on a teacher-written transfer set (sequence-level KD) instead of the corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_kd: Option<SequenceKdConfig>,
    /// Read the teacher from a top-k cache of the training windows with this `k`, written
    /// once per seed, instead of running it on every batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_k: Option<usize>,
}

/// A study: per seed, a teacher, then one student per arm, all scored on the held-out test
/// text in bits per character.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmStudyConfig {
    /// The text.
    pub corpus: CorpusSource,
    /// Keep only the first this many characters of the text (0 = all).
    #[serde(default)]
    pub max_chars: usize,
    /// The validation share of the text (after the training part).
    pub valid_fraction: f64,
    /// The test share of the text (the end).
    pub test_fraction: f64,
    /// Tokens per training window (the models' context).
    pub seq_len: usize,
    /// The teacher's shape.
    pub teacher: LmShape,
    /// The student's shape (every arm).
    pub student: LmShape,
    /// The teacher's step budget.
    pub teacher_steps: usize,
    /// Every student's step budget.
    pub student_steps: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Peak learning rate (teacher and students).
    pub learning_rate: f64,
    /// Test windows scored per model (0 = the whole test text).
    #[serde(default)]
    pub test_windows: usize,
    /// Validation windows scored per evaluation (0 = all).
    #[serde(default)]
    pub valid_windows: usize,
    /// One teacher and one student per arm for each seed.
    pub seeds: Vec<u64>,
    /// The ways to train the student.
    pub arms: Vec<StudyArm>,
}

impl LmStudyConfig {
    /// The full study on `corpus`: teacher d 128 × 2 blocks (1,500 steps), student d 48 × 2
    /// blocks (500 steps), 64-token windows, the standard arms ([`standard_arms`]), seeds 1–3.
    pub fn full(corpus: CorpusSource) -> Self {
        Self {
            corpus,
            max_chars: 0,
            valid_fraction: 0.05,
            test_fraction: 0.05,
            seq_len: 64,
            teacher: LmShape {
                d_model: 128,
                n_heads: 4,
                n_layers: 2,
                d_ff: 512,
            },
            student: LmShape {
                d_model: 48,
                n_heads: 4,
                n_layers: 2,
                d_ff: 192,
            },
            teacher_steps: 1500,
            student_steps: 500,
            batch_size: 32,
            learning_rate: 3e-3,
            test_windows: 0,
            valid_windows: 64,
            seeds: vec![1, 2, 3],
            arms: standard_arms(16, 16, 3_000),
        }
    }

    /// A reduced study for CI: the first 300,000 characters, smaller models and budgets, one
    /// seed, the same arms.
    pub fn reduced(corpus: CorpusSource) -> Self {
        Self {
            max_chars: 300_000,
            seq_len: 32,
            teacher: LmShape {
                d_model: 64,
                n_heads: 4,
                n_layers: 2,
                d_ff: 256,
            },
            student: LmShape {
                d_model: 32,
                n_heads: 4,
                n_layers: 1,
                d_ff: 128,
            },
            teacher_steps: 400,
            student_steps: 150,
            batch_size: 16,
            test_windows: 128,
            valid_windows: 32,
            seeds: vec![1],
            arms: standard_arms(8, 8, 2_400),
            ..Self::full(corpus)
        }
    }

    /// Checks the settings a run would otherwise fail on late.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the setting.
    pub fn validate(&self) -> Result<()> {
        if self.seeds.is_empty() {
            return Err(Error::invalid("seeds", "[]", "at least one seed"));
        }
        if self.arms.is_empty() {
            return Err(Error::invalid("arms", "[]", "at least one arm"));
        }
        for (i, a) in self.arms.iter().enumerate() {
            if a.name.is_empty() || self.arms[..i].iter().any(|b| b.name == a.name) {
                return Err(Error::invalid(
                    "arm name",
                    format!("{:?}", a.name),
                    "a non-empty name no other arm has",
                ));
            }
            a.objective.validate()?;
            if a.cache_k == Some(0) {
                return Err(Error::invalid("cache_k", 0, "1 to the vocabulary size"));
            }
        }
        for (name, v) in [
            ("seq_len", self.seq_len),
            ("teacher_steps", self.teacher_steps),
            ("student_steps", self.student_steps),
            ("batch_size", self.batch_size),
        ] {
            if v == 0 {
                return Err(Error::invalid(name, 0, "at least 1"));
            }
        }
        Ok(())
    }
}

/// The study's standard arms: the student from scratch; distilled with forward KL, with
/// reverse KL (both per token, T = 1, no cross-entropy); GKD (generalized JSD, beta 0.5, half
/// the batches on-policy: `prompt_len` tokens of data, `new_tokens` of the student's samples);
/// forward KL from a top-8 teacher cache; sequence-level KD (cross-entropy on
/// `transfer_windows` windows of sampled teacher text, each continuing `prompt_len` tokens of
/// a training window); and reverse KL and GKD again, each half and half with cross-entropy
/// (`reverse_kl_ce`, `gkd_ce`: the mode-seeking divergences alone lower bits per character
/// less than cross-entropy does).
pub fn standard_arms(
    prompt_len: usize,
    new_tokens: usize,
    transfer_windows: usize,
) -> Vec<StudyArm> {
    let kd = |d| LmObjective::distill(0.0, 1.0, TokenKdConfig::new(d));
    let half = |d| LmObjective::distill(0.5, 0.5, TokenKdConfig::new(d));
    let on_policy = OnPolicyConfig {
        fraction: 0.5,
        prompt_len,
        new_tokens,
        temperature: 1.0,
    };
    let arm = |name: &str, objective| StudyArm {
        name: name.into(),
        objective,
        sequence_kd: None,
        cache_k: None,
    };
    vec![
        arm("scratch", LmObjective::tokens()),
        arm("forward_kl", kd(TokenDivergence::ForwardKl)),
        arm("reverse_kl", kd(TokenDivergence::ReverseKl)),
        arm(
            "gkd",
            kd(TokenDivergence::Jsd { beta: 0.5 }).with_on_policy(on_policy),
        ),
        StudyArm {
            cache_k: Some(8),
            ..arm("forward_kl_top8_cache", kd(TokenDivergence::ForwardKl))
        },
        StudyArm {
            sequence_kd: Some(SequenceKdConfig {
                prompt_len,
                sampling: Sampling::Sample {
                    temperature: 1.0,
                    seed: 7,
                },
                windows: transfer_windows,
                batch_size: 64,
            }),
            ..arm("sequence_kd", LmObjective::tokens())
        },
        arm("reverse_kl_ce", half(TokenDivergence::ReverseKl)),
        arm(
            "gkd_ce",
            half(TokenDivergence::Jsd { beta: 0.5 }).with_on_policy(on_policy),
        ),
    ]
}
