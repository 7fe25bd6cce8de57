//! Distilling sequence models: token-level distillation of causal language models on burn.
//!
//! - [`loss`]: per-token divergences over logits `[batch, seq, vocab]` with a padding mask —
//!   forward and reverse KL, generalized Jensen–Shannon (GKD), skew KL and skew reverse KL
//!   (DistiLLM), total variation — and hidden-state MSE / cosine through a learned
//!   projection;
//! - [`tokenizer`]: byte- and character-level tokenizers, so no download is needed;
//! - [`corpus`]: a text corpus as token ids, split into train / validation / test, read as
//!   windows through burn's `Dataset` and `Batcher`;
//! - [`model`]: a small causal transformer language model ([`CausalLmConfig`] + `init`);
//! - [`generate`]: greedy and seeded sampled continuations;
//! - [`cache`]: the teacher's top-k logits per token on disk (the rest's mass in one tail
//!   bucket), in a documented safetensors layout a Python teacher can write;
//! - [`train`]: the language-model trainer — from tokens, distilled from a teacher online or
//!   from a cache, sequence-level KD (Kim & Rush 2016) and on-policy distillation (GKD);
//! - [`study`]: teacher, student from scratch and distilled students on a text corpus,
//!   held-out bits per character over seeds.
//!
//! Library code never picks a backend: tensors live on the `Device` they are given.
#![warn(missing_docs)]

pub mod cache;
pub mod corpus;
pub mod error;
pub mod generate;
pub mod loss;
pub mod model;
pub mod study;
pub mod tokenizer;
pub mod train;

pub use error::{Error, Result};
