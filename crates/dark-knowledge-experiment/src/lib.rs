//! The dark-knowledge workflow as a library: everything the `dark-knowledge` command does,
//! as typed calls.
//!
//! - [`Experiment`]: the experiment file (`Experiment::load`, `Experiment::from_toml`) and
//!   the built-in demos ([`Experiment::churn_demo`], …);
//! - [`Workflow`]: one experiment's run folder — prepare the data, train the teacher,
//!   distill, cache the teacher, quantize, evaluate (report, plots, model card);
//! - [`prepare`]: a CSV table or an IDX folder as split, encoded datasets with their class
//!   names ([`prepare::prepare_table`]);
//! - [`study`]: sweeps ([`study::sweep::sweep`]) and built-in studies
//!   ([`study::reproduce::reproduce`]), summarised over seeds;
//! - [`predict`]: streaming prediction of a CSV or an IDX folder with a run's model;
//! - [`drift`]: the training rows' reference distributions and drift reports on new rows;
//! - [`bench`]: the reference timings.
//!
//! Every failure is one [`Error`], holding the typed error of the step that failed.
//! Messages meant for a person (what was saved where, warnings) go through the [`log`]
//! crate at `info` and `warn`; install any logger to see them.
#![warn(missing_docs)]

pub mod bench;
pub mod checks;
pub mod drift;
pub mod error;
pub mod experiment;
mod metrics;
pub mod model_card;
pub mod predict;
pub mod prepare;
pub mod run;
pub mod study;
mod workflow;

pub use error::{Context, Error, Result};
// `bail!` and `ensure!` are exported at the crate root by `#[macro_export]`.
pub use experiment::{Experiment, ResumeOptions};
pub use prepare::Prepared;
pub use run::{TeacherSource, TrainingMetrics};
pub use workflow::{LATENCY_RUNS, Workflow, quantize_run};
