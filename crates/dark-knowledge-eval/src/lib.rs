//! Classification metrics, the model comparison report and SVG charts ([`plot`]) for
//! `dark-knowledge`.
//!
//! Inputs follow one convention throughout: class probabilities are a row-major `&[f32]`
//! with `num_classes` columns (each row summing to 1 within 1e-4), labels are `&[usize]`
//! class indices, and every metric is computed in `f64`. Invalid input (wrong lengths,
//! fewer than two classes, out-of-range labels, non-finite or non-probability values,
//! empty input) is reported as a [`MetricsError`]; nothing panics on user data.
#![warn(missing_docs)]

mod calibration;
mod campaign;
mod classification;
mod drift;
mod drift_stats;
mod error;
mod fidelity;
mod insights;
mod insights_markdown;
mod markdown;
mod model;
mod model_eval;
pub mod plot;
mod ranking;
mod report;
mod slices;
mod slices_markdown;
mod temperature;

pub use calibration::{LOG_LOSS_EPS, brier_score, expected_calibration_error, log_loss};
pub use campaign::{
    GainsRow, Threshold, ThresholdGoal, apply_threshold, choose_threshold, gains, gains_svg,
    top_share,
};
pub use classification::{
    ClassMetrics, ClassificationReport, accuracy, argmax_rows, classification_report, softmax_rows,
};
pub use dark_knowledge_core::io::write_atomic;
pub use drift::{
    ColumnDrift, ColumnProfile, CurrentColumn, DriftLevel, DriftReport, KS_QUANTILES, MAX_LEVELS,
    PSI_ACT, PSI_EPS, PSI_WATCH, chi_square_p_value, column_drift, psi, score_drift,
};
pub use error::{MetricsError, ROW_SUM_TOLERANCE, Result};
pub use fidelity::{KL_EPS, agreement, mean_kl};
pub use insights::{
    BeforeAfter, Campaign, CampaignThreshold, ColumnFlags, GAINS_BINS, ModelCalibration,
    ScoredSplit, TOP_SHARES, ThresholdFigures, campaign, model_calibration, threshold_figures,
};
pub use markdown::PREFERRED_MODEL_ORDER;
pub use model::{
    DerivedFrom, ECE_BINS, Efficiency, ModelMetrics, NamedClassMetrics, derived_from, model_metrics,
};
pub use model_eval::{evaluate_model, measure_efficiency, predict_proba, teacher_proba};
pub use plot::{
    Chart, ReliabilityBin, Series, ece_from_bins, line_chart_svg, pool_bins, reliability_bins,
    reliability_svg,
};
pub use ranking::{pr_auc, roc_auc};
pub use report::{DatasetSummary, DroppedColumn, Report};
pub use slices::{
    MISSING_LEVEL, ModelSlice, POOLED_LEVEL, SliceFlag, SliceMetrics, SliceRow, SliceTable,
    numeric_bins, slice_table,
};
pub use temperature::{
    CalibrationChange, CalibrationFigures, TEMPERATURE_BOUND_FACTOR, calibrate, fit_temperature,
    scale_logits, softmax_with_temperature,
};
