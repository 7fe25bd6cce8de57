//! Scoring with a trained dark-knowledge model: load a run's student (or any of its models)
//! and the fitted preprocessing once, then get class probabilities for one record or a
//! batch. Depends on the model and data crates only, not on the trainer.
//!
//! Inputs are checked against the training schema: a record (or CSV header, see
//! [`Predictor::check_columns`]) that lacks a training column is refused with
//! [`Error::MissingColumns`] naming it — with "did you mean" when a name differs only in
//! letter case or surrounding spaces — unless [`MissingColumns::ScoreAsMissing`] is chosen;
//! columns the model does not know are ignored with a warning (through `log`).
//!
//! When the role's folder has a `calibration.json` (`{"temperature": T, …}`, written by
//! `evaluate`), probabilities are `softmax(logits / T)`; [`Predictor::with_calibration`]
//! turns that off, [`Predictor::predict_logits_features`] gives the raw logits. A file fitted
//! for weights that have changed since (its `weights.blake3`) is not applied, with a warning.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use dark_knowledge_infer::{MissingColumns, Predictor};
//!
//! # fn main() -> Result<(), dark_knowledge_infer::Error> {
//! let device = dark_knowledge_core::device_from_name("cpu")?;
//! let predictor = Predictor::load("runs/demo-churn".as_ref(), "distilled", &device)?
//!     // Partial records: score the training columns they lack as missing values.
//!     .with_missing_columns(MissingColumns::ScoreAsMissing);
//! let record: HashMap<String, String> =
//!     [("international_plan", "yes"), ("total_day_minutes", "265.1")]
//!         .into_iter()
//!         .map(|(k, v)| (k.to_string(), v.to_string()))
//!         .collect();
//! let p = predictor.predict_proba_record(&record)?; // the other columns count as missing
//! println!("{:?} -> {:?}", predictor.class_names(), p);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod calibration;
mod error;
mod predictor;
mod schema;

pub use calibration::{CALIBRATION_FILE, Calibration, read_calibration, softmax_with_temperature};
pub use error::{Error, Result};
pub use predictor::{HOST_PATH_MAX_PARAMETERS, Predictor};
pub use schema::{InputColumns, MissingColumns};
