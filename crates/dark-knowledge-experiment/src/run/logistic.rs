//! The `logistic` peer of every tabular run: a multinomial logistic regression (an MLP with
//! no hidden layer) trained from labels on the same preprocessing and split as the
//! students, with the L2 strength chosen on validation log-loss.

use crate::error::Result;
use burn::tensor::Device;
use dark_knowledge_models::{AnyModel, ModelSpec};
use dark_knowledge_train::{Progress, TeacherSet, TrainOutput, Trainer, TrainerConfig};

use super::{RunDir, TrainingMetrics, save_trained};
use crate::experiment::{DataSource, Experiment};
use crate::prepare::Prepared;

/// The L2 strengths (the optimizer's weight decay) tried for the logistic regression.
pub const L2_CANDIDATES: [f64; 5] = [0.0, 1e-4, 1e-3, 1e-2, 1e-1];

/// Whether `distill` trains the `logistic` role: `[student] logistic` on tabular data.
pub(crate) fn wants_logistic(experiment: &Experiment) -> bool {
    experiment.student.logistic && experiment.data.source != DataSource::FashionMnist
}

/// The validation log-loss of a training run at its best epoch (the hard-label
/// cross-entropy; the minimised loss when that term is not reported), `+inf` when the run
/// has no history or the figure is not finite.
fn valid_log_loss(out: &TrainOutput<AnyModel>) -> f64 {
    out.best_epoch
        .checked_sub(1)
        .and_then(|i| out.history.get(i))
        .map(|record| record.valid.ce.unwrap_or(record.valid.loss))
        .filter(|loss| loss.is_finite())
        .unwrap_or(f64::INFINITY)
}

/// Trains the logistic regression once per strength in [`L2_CANDIDATES`] with the
/// baseline's settings `config` (same seed for every candidate) and saves the one with the
/// lowest validation log-loss as role `logistic`; its `metrics.json` holds the chosen
/// strength as `trainer.weight_decay` and in `taught_by`. Does nothing when
/// [`wants_logistic`] is false.
pub(crate) fn train_logistic(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    progress: Progress,
    config: &TrainerConfig,
) -> Result<()> {
    if !wants_logistic(experiment) {
        return Ok(());
    }
    let spec = ModelSpec::mlp(vec![], 0.0);
    let init_seed = experiment.seed.wrapping_add(2);
    let train = data.train_for(false);
    log::info!(
        "logistic: {}, {} epochs on {} training rows, L2 strengths {:?}",
        spec.describe(data.num_features(), data.num_classes()),
        config.epochs,
        train.len(),
        L2_CANDIDATES
    );
    let mut best: Option<(f64, f64, TrainerConfig, TrainOutput<AnyModel>)> = None;
    for l2 in L2_CANDIDATES {
        let candidate = TrainerConfig {
            weight_decay: l2,
            ..config.clone()
        };
        device.seed(init_seed);
        let model = spec.build(data.num_features(), data.num_classes(), device)?;
        let trainer = Trainer::new(candidate.clone())?
            .with_progress(progress)
            .with_label("logistic");
        let out = trainer.fit_with(model, train, &data.valid, &TeacherSet::none())?;
        let loss = valid_log_loss(&out);
        log::info!("logistic: L2 {l2}: validation log-loss {loss:.4}");
        // Strictly lower only: ties keep the weaker penalty tried first.
        if best.as_ref().is_none_or(|(b, ..)| loss < *b) {
            best = Some((loss, l2, candidate, out));
        }
    }
    let Some((loss, l2, chosen, out)) = best else {
        return Ok(());
    };
    log::info!("logistic: L2 {l2} chosen on validation log-loss ({loss:.4})");
    let metrics = TrainingMetrics {
        best_epoch: out.best_epoch,
        trainer: chosen,
        history: out.history,
        stopped: out.stopped,
        taught_by: format!(
            "labels only (logistic regression); L2 {l2} chosen on validation log-loss \
             from {L2_CANDIDATES:?}"
        ),
    };
    save_trained(
        &RunDir::of(experiment),
        "logistic",
        &spec,
        data,
        &out.best,
        &metrics,
    )
}
