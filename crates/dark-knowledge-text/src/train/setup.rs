//! Before and around a run: the teacher and windows checked against the student, the seeded
//! batch order, the progress bar.

use burn::data::dataset::Dataset;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::corpus::TokenWindow;
use crate::error::{Error, Result};
use crate::model::LanguageModel;
use crate::train::config::{LmObjective, LmTrainerConfig};
use crate::train::teacher::TokenTeacher;

/// The teacher the objective needs, checked against the student.
pub(crate) fn check_teacher<'a, S: LanguageModel, T: LanguageModel>(
    objective: &LmObjective,
    student: &S,
    teacher: Option<TokenTeacher<'a, T>>,
) -> Result<Option<TokenTeacher<'a, T>>> {
    let Some(teacher) = teacher else {
        if objective.needs_teacher() {
            return Err(Error::invalid(
                "teacher",
                "none",
                "a teacher network or cache: the objective has a kd, hidden or on-policy term",
            ));
        }
        return Ok(None);
    };
    if teacher.vocab_size() != student.vocab_size() {
        return Err(Error::ShapeMismatch {
            what: "teacher vocabulary",
            expected: format!("{} ids, as the student", student.vocab_size()),
            got: format!("{} ids", teacher.vocab_size()),
        });
    }
    if !teacher.is_network() && (objective.hidden.is_some() || objective.on_policy.is_some()) {
        return Err(Error::invalid(
            "teacher",
            "a logit cache",
            "a teacher network for hidden-state terms and on-policy batches (a cache holds \
             logits of the cached windows only)",
        ));
    }
    if let (Some(p), TokenTeacher::Network(t)) = (&objective.on_policy, &teacher) {
        let need = p.prompt_len + p.new_tokens - 1;
        let context = student.max_seq_len().min(t.max_seq_len());
        if need > context {
            return Err(Error::invalid(
                "on_policy.prompt_len + new_tokens - 1",
                need,
                format!("at most {context}, the models' context"),
            ));
        }
    }
    Ok(Some(teacher))
}

/// Checks that the training windows fit the student's context.
pub(crate) fn check_windows<S: LanguageModel, D: Dataset<TokenWindow>>(
    train: &D,
    student: &S,
) -> Result<()> {
    if train.is_empty() {
        return Err(Error::invalid("training windows", 0, "at least one window"));
    }
    let first = train.get(0).map_err(|e| Error::Dataset(e.to_string()))?;
    let seq = first.ids.len().saturating_sub(1);
    if seq > student.max_seq_len() {
        return Err(Error::ShapeMismatch {
            what: "training windows",
            expected: format!(
                "at most {} tokens, the student's context",
                student.max_seq_len()
            ),
            got: format!("{seq} tokens"),
        });
    }
    Ok(())
}

/// The next `batch` window indices of a seeded shuffle, reshuffled at each epoch's end.
pub(crate) fn next_indices(
    order: &mut Vec<usize>,
    rng: &mut StdRng,
    len: usize,
    batch: usize,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(batch);
    while out.len() < batch.min(len) {
        if order.is_empty() {
            *order = (0..len).collect();
            order.shuffle(rng);
            order.reverse();
        }
        out.push(order.pop().expect("refilled"));
    }
    out
}

/// A progress bar on stderr when asked for, else a hidden one.
pub(crate) fn progress_bar(c: &LmTrainerConfig) -> ProgressBar {
    if !c.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(c.steps as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar
}
