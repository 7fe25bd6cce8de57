//! The teacher's top-k logits per token, on disk.
//!
//! A large teacher runs once over a fixed set of token windows; per token it keeps its `k`
//! largest logits (`k ≪ V`) and the log-sum-exp of the other `V − k` (one tail bucket). The
//! student then trains from the file.
//!
//! The file is one `.safetensors` file (see `docs/token-cache.md` for the full layout and a
//! Python writer):
//!
//! | tensor    | dtype | shape                | holds                                        |
//! |-----------|-------|----------------------|----------------------------------------------|
//! | `indices` | I32   | `[windows, seq, k]`  | ids of the k largest logits (descending)     |
//! | `values`  | F32   | `[windows, seq, k]`  | the raw teacher logits at those ids          |
//! | `rest`    | F32   | `[windows, seq]`     | log-sum-exp of the other logits (−inf at k=V)|
//! | `mask`    | U8    | `[windows, seq]`     | 1 where a token exists, 0 for padding        |
//!
//! with metadata `format = "dark-knowledge-token-topk"`, `version = "1"`, `vocab_size`, `k`,
//! `seq_len`, `windows`, and optionally `teacher` and `data_checksum` ([`windows_checksum`]).
//!
//! - [`TokenTopK`]: top-k of a batch, from full logits ([`TokenTopK::from_logits`]) and back
//!   ([`TokenTopK::to_full_logits`]);
//! - [`TokenCacheWriter`]: writes a cache batch by batch, atomically;
//! - [`TokenLogitCache`]: opens (and checks) a cache, reads windows by index.

mod format;
mod reader;
mod topk;
mod writer;

pub use format::{FORMAT, TokenCacheMeta, VERSION, windows_checksum};
pub use reader::TokenLogitCache;
pub use topk::TokenTopK;
pub use writer::TokenCacheWriter;
