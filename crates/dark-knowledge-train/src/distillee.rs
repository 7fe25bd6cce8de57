//! The trained parameters of one student (the model and its hint projections), and how the
//! projections are sized.

use burn::module::Module;
use burn::nn::Linear;
use dark_knowledge_core::loss::feature::hint_projection;
use dark_knowledge_core::{Classifier, Error as CoreError, ModelInput, TeacherBatch};
use dark_knowledge_data::BatchSource;

use crate::error::Result;
use crate::objective::{Objective, TermValues, hidden_pair, map_pair};
use crate::teachers::TeacherSet;
use crate::terms::TermKind;

/// The trained parameters: the student and the projections of its `hint` terms.
#[derive(Module, Debug)]
pub(crate) struct Distillee<M> {
    pub(crate) model: M,
    pub(crate) projections: Vec<Linear>,
}

pub(crate) fn detached(values: TermValues) -> TermValues {
    TermValues {
        total: values.total.detach(),
        values: values.values.into_iter().map(|v| v.detach()).collect(),
    }
}

/// One projection per `hint` term, from the student's hidden size to the teacher's, sized by
/// a forward pass over two training rows (which also checks every feature term's layers).
pub(crate) fn hint_projections<M: Classifier>(
    objective: &Objective,
    model: &M,
    train: &dyn BatchSource<M::Input>,
    teachers: &TeacherSet<'_, M::Input>,
) -> Result<Vec<Linear>> {
    if !objective.needs_features() {
        return Ok(Vec::new());
    }
    let probe = train.range(0, train.len().min(2))?;
    let inputs = probe.inputs.clone().without_autodiff();
    let student = model.valid().forward_features(inputs);
    let outputs = teachers.outputs(
        TeacherBatch {
            inputs: &probe.inputs,
            rows: &probe.rows,
        },
        &objective.features_of(teachers.len()),
        false,
    )?;
    let mut projections = Vec::new();
    for term in &objective.terms {
        let Some(layers) = term.kind.feature_layers() else {
            continue;
        };
        let index = layers.teacher;
        if index >= teachers.len() {
            return Err(CoreError::InvalidValue {
                name: "teacher",
                value: format!("{index} in a `{}` term", term.kind_name()),
                allowed: "the index of a declared teacher (0-based)",
            }
            .into());
        }
        let t = outputs.features[index]
            .as_ref()
            .expect("features requested for every teacher a term reads");
        match &term.kind {
            TermKind::Hint { .. } => {
                let (s, t) = hidden_pair(&student, t, layers)?;
                let device = train.device();
                projections.push(hint_projection(s.dims()[1], t.dims()[1], &device).train());
            }
            TermKind::Attention { .. } => {
                let (s, t) = map_pair(&student, t, layers)?;
                let (sd, td) = (s.dims(), t.dims());
                if sd[2..] != td[2..] {
                    return Err(CoreError::ShapeMismatch {
                        what: "attention transfer feature maps",
                        expected: format!("the teacher map's spatial size {}x{}", td[2], td[3]),
                        got: format!("a student map of {}x{}", sd[2], sd[3]),
                    }
                    .into());
                }
            }
            _ => {
                hidden_pair(&student, t, layers)?;
            }
        }
    }
    Ok(projections)
}
