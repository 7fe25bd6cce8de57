//! Training checkpoints, read the one way the library reads them: a resuming trainer
//! (`Trainer::resuming().fit`) finds the file in its checkpoint folder, checks it and
//! restores students, optimizer state, best model, history and position from it.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use dark_knowledge_data::{Dataset, GaussianMixtureConfig};
use dark_knowledge_models::{Mlp, MlpConfig};
use dark_knowledge_train::{CheckpointConfig, Progress, Trainer, TrainerConfig};

use crate::checksum::put_crc;
use crate::{Harness, Outcome};

pub(crate) struct Checkpoint {
    dir: PathBuf,
    data: Dataset,
    device: Device,
    seeds: Vec<Vec<u8>>,
}

fn config() -> TrainerConfig {
    TrainerConfig {
        epochs: 2,
        batch_size: 16,
        ..TrainerConfig::default()
    }
}

impl Checkpoint {
    fn model(&self) -> Mlp {
        MlpConfig::new(4, vec![6], 2).init(&self.device)
    }

    /// A short run writing a checkpoint every step; its files are the seeds.
    fn write_seeds(&mut self) {
        let trainer = Trainer::new(config())
            .expect("valid settings")
            .with_progress(Progress::Silent)
            .with_checkpoints(
                CheckpointConfig::new(&self.dir)
                    .with_every_steps(1)
                    .with_keep(64),
            );
        trainer
            .fit(self.model(), &self.data, &self.data, None)
            .expect("the seed run trains");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("checkpoint folder")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        self.seeds = files
            .iter()
            .map(|p| std::fs::read(p).expect("seed checkpoint"))
            .collect();
    }
}

impl Harness for Checkpoint {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    /// The body length (bytes 8..16: the length less the 20 bytes around the body) and the
    /// trailing CRC-32 of every byte before it.
    fn fixup(&self, input: &mut Vec<u8>) {
        let n = input.len();
        if n >= 20 {
            input[8..16].copy_from_slice(&(n as u64 - 20).to_le_bytes());
            put_crc(input, 0..n - 4, n - 4);
        }
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let _ = std::fs::remove_dir_all(&self.dir);
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(self.dir.join("checkpoint-0000000001.dkc"), input));
        if let Err(e) = written {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        let trainer = match Trainer::new(config()) {
            Ok(t) => t
                .with_progress(Progress::Silent)
                .with_checkpoints(CheckpointConfig::new(&self.dir).with_keep(1))
                .resuming(),
            Err(e) => return Outcome::Violation(format!("the harness's settings: {e}")),
        };
        match trainer.fit(self.model(), &self.data, &self.data, None) {
            Ok(out) => Outcome::Parsed(format!("resumed, {} epochs", out.history.len())),
            Err(e) => Outcome::rejected(e),
        }
    }
}

/// Builds the `checkpoint` harness (trains the seed run).
pub(crate) fn checkpoint(scratch: &Path) -> Box<dyn Harness> {
    let device = Device::flex();
    let data = GaussianMixtureConfig::new(40, 4, 2)
        .with_seed(3)
        .dataset(&device)
        .expect("seed data");
    let mut harness = Checkpoint {
        dir: scratch.join("checkpoints"),
        data,
        device,
        seeds: Vec::new(),
    };
    harness.write_seeds();
    Box::new(harness)
}
