//! Scoring with a trained dark-knowledge model: load a run's student (or any of its models)
//! and the fitted preprocessing once, then get class probabilities for one record or a
//! batch. Depends on the model and data crates only, not on the trainer.
//!
//! ```no_run
//! use std::collections::HashMap;
//! use dark_knowledge_infer::Predictor;
//!
//! # fn main() -> Result<(), dark_knowledge_infer::Error> {
//! let device = dark_knowledge_core::device_from_name("cpu")?;
//! let predictor = Predictor::load("runs/demo-churn".as_ref(), "distilled", &device)?;
//! let record: HashMap<String, String> =
//!     [("international_plan", "yes"), ("total_day_minutes", "265.1")]
//!         .into_iter()
//!         .map(|(k, v)| (k.to_string(), v.to_string()))
//!         .collect();
//! let p = predictor.predict_proba_record(&record)?; // fields not given count as missing
//! println!("{:?} -> {:?}", predictor.class_names(), p);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod error;
mod predictor;

pub use error::{Error, Result};
pub use predictor::{HOST_PATH_MAX_PARAMETERS, Predictor};
