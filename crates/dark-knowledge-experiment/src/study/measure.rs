//! What a study run measures on its trained student besides accuracy, ECE and agreement:
//! the student's name, test ROC-AUC and log-loss, and its batch-1 latency on the host path.

use crate::error::Result;
use crate::prepare::Prepared;
use dark_knowledge_eval::{log_loss, roc_auc};
use dark_knowledge_infer::HOST_PATH_MAX_PARAMETERS;
use dark_knowledge_models::{AnyModel, ModelSpec};

/// The student's name: `MLP 71-8-2`, or `linear (MLP 71-2)` for an MLP with no hidden layer
/// (a multinomial logistic regression).
pub(crate) fn student_name(spec: &ModelSpec, num_features: usize, num_classes: usize) -> String {
    let name = spec.describe(num_features, num_classes);
    match spec {
        ModelSpec::Mlp { hidden_sizes, .. } if hidden_sizes.is_empty() => {
            format!("linear ({name})")
        }
        _ => name,
    }
}

/// Test ROC-AUC of the positive-class probability, for a binary target: the data's
/// positive class, class 1 when it has none. `None` for more classes, or when the test rows
/// hold one class only.
pub(crate) fn test_roc_auc(data: &Prepared, probs: &[f32]) -> Option<f64> {
    let c = data.num_classes();
    if c != 2 {
        return None;
    }
    let pos = data.positive_class.unwrap_or(1);
    let scores: Vec<f32> = probs.chunks(c).map(|p| p[pos]).collect();
    let positives: Vec<bool> = data.test.labels_host().iter().map(|&y| y == pos).collect();
    roc_auc(&scores, &positives).ok()
}

/// Test log-loss of the probabilities `probs` (rows of the test split).
///
/// # Errors
/// Probabilities that do not match the test rows (as every metric checks them).
pub(crate) fn test_log_loss(data: &Prepared, probs: &[f32]) -> Result<f64> {
    Ok(log_loss(
        probs,
        data.num_classes(),
        data.test.labels_host(),
    )?)
}

/// Batch-1 latency in µs of an MLP student of at most [`HOST_PATH_MAX_PARAMETERS`]
/// parameters on the host path the `Predictor` scores it with ([`HostMlp`]): whole-call time
/// of scoring one encoded row (its logits; encoding and softmax excluded), on the calling
/// thread, as `bench` measures it — the median of 5 runs of 2,000 calls (after 200 warm-up
/// calls), cycling through the rows of `data`. `None` for other students or no rows.
///
/// [`HostMlp`]: dark_knowledge_models::HostMlp
pub(crate) fn host_latency_us(
    model: &AnyModel,
    data: &dark_knowledge_data::Dataset,
) -> Option<f64> {
    use burn::module::Module;
    match model {
        AnyModel::Mlp(mlp) if mlp.num_params() <= HOST_PATH_MAX_PARAMETERS && !data.is_empty() => {
            Some(crate::bench::host_latency_us(mlp, data))
        }
        _ => None,
    }
}
