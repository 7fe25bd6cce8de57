//! Writing a run's state into a checkpoint and putting it back.

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use dark_knowledge_core::Classifier;
use dark_knowledge_models::model_bytes;

use super::state::{BestState, SECTIONS};
use super::{CheckpointError, Header, Position, Restored, StudentState, save};
use crate::error::Result;
use crate::evaluate::Sums;
use crate::run::{EpochStart, Run};

impl<M: Classifier> Run<'_, '_, M> {
    /// Writes a checkpoint at `position`, with the sums of the epoch in progress when it is
    /// inside an epoch.
    pub(crate) fn save_checkpoint(&self, position: Position, sums: Option<&[Sums]>) -> Result<()> {
        let Some((config, fingerprint)) = &self.checkpoints else {
            return Ok(());
        };
        let record_error = |what: &str, e: String| CheckpointError::Io {
            path: config.dir.clone(),
            source: std::io::Error::other(format!("cannot serialise the {what}: {e}")),
        };
        let mut sections = Vec::with_capacity(self.students.len() * SECTIONS);
        let mut students = Vec::with_capacity(self.students.len());
        for (i, (student, optim)) in self.students.iter().zip(&self.optims).enumerate() {
            sections
                .push(model_bytes(student).map_err(|e| record_error("student", e.to_string()))?);
            let optim = optim
                .into_bytes()
                .map_err(|e| record_error("optimizer state", format!("{e:?}")))?;
            sections.push(optim.to_vec());
            let best = self.bests[i].as_ref();
            sections.push(match best {
                Some((model, ..)) => {
                    model_bytes(model).map_err(|e| record_error("best model", e.to_string()))?
                }
                None => Vec::new(),
            });
            students.push(StudentState {
                sums: sums.map(|s| s[i].clone()),
                history: self.histories[i].clone(),
                best: best.map(|&(_, epoch, accuracy, loss)| BestState {
                    epoch,
                    accuracy,
                    loss,
                }),
                stopped: self.stopped[i].clone(),
            });
        }
        let header = Header::new(fingerprint.clone(), position, students);
        save(config, &header, &sections)?;
        Ok(())
    }

    /// Puts the state of `restored` into the run (whose students and optimizers are freshly
    /// built with the same architecture); returns where the run goes on.
    pub(crate) fn restore(&mut self, restored: Restored) -> Result<(Position, EpochStart)> {
        let Restored {
            path,
            header,
            sections,
        } = restored;
        let mismatch = |e: String| CheckpointError::Mismatch {
            path: path.clone(),
            what: "model".into(),
            expected: "the architecture saved in the checkpoint".into(),
            found: format!("a model it does not load into ({e})"),
        };
        let mut sections = sections.into_iter();
        let mut sums = Vec::with_capacity(self.students.len());
        let students = std::mem::take(&mut self.students);
        let optims = std::mem::take(&mut self.optims);
        for (i, ((student, optim), state)) in students
            .into_iter()
            .zip(optims)
            .zip(header.students)
            .enumerate()
        {
            let (weights, optim_bytes, best) = (
                sections.next().unwrap_or_default(),
                sections.next().unwrap_or_default(),
                sections.next().unwrap_or_default(),
            );
            let template = student.model.clone();
            let student = load_into(student, weights).map_err(&mismatch)?;
            super::optim_check::check_optimizer_state(&student.model, &optim_bytes)
                .map_err(|e| CheckpointError::damaged(&path, format!("optimizer state: {e}")))?;
            let optim = optim
                .from_bytes(Bytes::from_bytes_vec(optim_bytes))
                .map_err(|e| CheckpointError::damaged(&path, format!("optimizer state: {e:?}")))?;
            self.bests[i] = match state.best {
                Some(b) => {
                    let model = load_into(template, best).map_err(&mismatch)?.valid();
                    Some((model, b.epoch, b.accuracy, b.loss))
                }
                None => None,
            };
            self.students.push(student);
            self.optims.push(optim);
            self.histories[i] = state.history;
            self.stopped[i] = state.stopped;
            sums.push(state.sums);
        }
        let position = header.position;
        self.step = position.step;
        let start = EpochStart {
            batches_done: position.batches_done,
            sums: sums.into_iter().collect(),
            seconds: position.seconds,
        };
        Ok((position, start))
    }
}

fn load_into<T: Module>(module: T, bytes: Vec<u8>) -> std::result::Result<T, String> {
    let record =
        ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| format!("{e:?}"))?;
    module.try_load_record(record).map_err(|e| format!("{e:?}"))
}
