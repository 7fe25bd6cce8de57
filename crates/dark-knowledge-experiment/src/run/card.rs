//! `MODEL_CARD.md`: checking the saved models' records it reads, and writing the card from
//! the report or from the training records.

use std::collections::BTreeMap;

use crate::error::{Context, Result};
use dark_knowledge_core::io::write_atomic;
use dark_knowledge_eval::Report;
use dark_knowledge_models::ModelInfo;

use super::{RunDir, TrainingMetrics, run_roles};
use crate::experiment::Experiment;
use crate::model_card::{CardModel, CardModels, TrainedModel, model_card, training_card};
use crate::prepare::Prepared;

/// Checks that the description and training record of every saved model the command keeps
/// (`keeps(role)`) can be read, so that the model card written after training does not fail.
pub(super) fn check_saved_records(run: &RunDir, keeps: impl Fn(&str) -> bool) -> Result<()> {
    for role in run_roles(run).iter().filter(|r| keeps(r)) {
        read_saved(run, role)?;
    }
    Ok(())
}

/// The description and training record of a saved model, when present.
fn read_saved(run: &RunDir, role: &str) -> Result<Option<(ModelInfo, Option<TrainingMetrics>)>> {
    let dir = run.role(role);
    let Ok(text) = std::fs::read_to_string(dir.join("model.json")) else {
        return Ok(None);
    };
    let info: ModelInfo = serde_json::from_str(&text)
        .with_context(|| format!("invalid {}", dir.join("model.json").display()))?;
    let path = dir.join("metrics.json");
    let training = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str(&text).with_context(|| format!("invalid {}", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(Some((info, training)))
}

/// Writes `MODEL_CARD.md`: from the report for an evaluated run (about the distilled
/// student, or the teacher alone when no student was trained yet), otherwise from the
/// saved models' training records.
pub(super) fn write_model_card(
    experiment: &Experiment,
    run: &RunDir,
    data: &Prepared,
    report: Option<&Report>,
) -> Result<()> {
    let card = model_card_text(experiment, run, data, report)?;
    write_card(run, card)
}

/// Writes the model card `card`, when there is one.
pub(super) fn write_card(run: &RunDir, card: Option<String>) -> Result<()> {
    match card {
        Some(text) => write_atomic(&run.0.join("MODEL_CARD.md"), text.as_bytes())
            .with_context(|| format!("writing MODEL_CARD.md into {}", run.0.display())),
        None => Ok(()),
    }
}

/// The text of `MODEL_CARD.md` (see [`write_model_card`]), `None` when the run has no model
/// to describe yet.
pub(super) fn model_card_text(
    experiment: &Experiment,
    run: &RunDir,
    data: &Prepared,
    report: Option<&Report>,
) -> Result<Option<String>> {
    let mut saved = BTreeMap::new();
    for role in run_roles(run) {
        if let Some(s) = read_saved(run, &role)? {
            saved.insert(role, s);
        }
    }
    let text = match report {
        Some(report) => {
            let card = |role: &str| {
                let metrics = report.models.get(role)?;
                saved.get(role).map(|(info, training)| CardModel {
                    info,
                    metrics,
                    training: training.as_ref(),
                })
            };
            let Some(student) = card("distilled")
                .or_else(|| card("baseline"))
                .or_else(|| card("teacher"))
            else {
                return Ok(None);
            };
            let models = CardModels {
                student,
                teacher: card("teacher"),
                baseline: card("baseline"),
                quantized: card("quantized"),
            };
            model_card(experiment, report, &models)
        }
        None => {
            let trained: Vec<TrainedModel<'_>> = saved
                .iter()
                .map(|(role, (info, training))| TrainedModel {
                    info,
                    training: training.as_ref(),
                    bytes: std::fs::metadata(run.role(role).join(info.weights_file()))
                        .map_or(0, |m| m.len()),
                })
                .collect();
            if trained.is_empty() {
                return Ok(None);
            }
            training_card(experiment, data, &trained)
        }
    };
    Ok(Some(text))
}
