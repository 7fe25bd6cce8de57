//! Distilling a text classifier over token ids.
//!
//! The model reads a user-defined input, [`Tokens`] (ids `Tensor<2, Int>` and a padding mask),
//! which travels through the trainer as integers: ids are exact at any vocabulary size. The
//! task is synthetic with a learnable rule: each sequence is drawn from one of three topics
//! (half its tokens come from the topic's third of the vocabulary, the rest uniformly), and the
//! class is the topic.

use dark_knowledge::burn;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use dark_knowledge::core::{FeatureNames, Features, ModelInput};
use dark_knowledge::data::{LabeledBatch, LoaderData};
use dark_knowledge::{
    Classifier, FrozenTeacher, Progress, SoftTargetLossConfig, Trainer, TrainerConfig, evaluate,
};

/// The error type of the example.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The vocabulary: id 0 is padding, ids `1..VOCAB` are tokens.
pub const VOCAB: usize = 64;
/// The number of topics (classes).
pub const TOPICS: usize = 3;

/// A batch of token sequences, padded to the longest.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// `[batch, seq]` token ids (0 at padding).
    pub ids: Tensor<2, Int>,
    /// `[batch, seq]`, `true` at real tokens.
    pub mask: Tensor<2, Bool>,
}

impl ModelInput for Tokens {
    fn autodiff(self) -> Self {
        Self {
            ids: self.ids.autodiff(),
            mask: self.mask.autodiff(),
        }
    }

    fn without_autodiff(self) -> Self {
        Self {
            ids: self.ids.without_autodiff(),
            mask: self.mask.without_autodiff(),
        }
    }

    fn batch_size(&self) -> usize {
        self.ids.dims()[0]
    }

    fn device(&self) -> Device {
        self.ids.device()
    }
}

/// `embedding(d) → masked mean over tokens → dense(hidden) → ReLU → dense(classes)`.
#[derive(Module, Debug)]
pub struct TokenClassifier {
    embedding: Embedding,
    hidden: Linear,
    output: Linear,
}

impl TokenClassifier {
    /// A classifier with `d_model`-wide embeddings and `hidden` units.
    pub fn new(d_model: usize, hidden: usize, device: &Device) -> Self {
        Self {
            embedding: EmbeddingConfig::new(VOCAB, d_model).init(device),
            hidden: LinearConfig::new(d_model, hidden).init(device),
            output: LinearConfig::new(hidden, TOPICS).init(device),
        }
    }

    /// Per-token embeddings `[batch, seq, d]` and their masked mean `[batch, d]`.
    fn encode(&self, tokens: Tokens) -> (Tensor<3>, Tensor<2>) {
        let states = self.embedding.forward(tokens.ids);
        let [b, s, d] = states.dims();
        let mask = tokens.mask.float().reshape([b, s, 1]);
        let count = mask.clone().sum_dim(1).clamp_min(1.0);
        let pooled = ((states.clone() * mask).sum_dim(1) / count).reshape([b, d]);
        (states, pooled)
    }
}

impl Classifier for TokenClassifier {
    type Input = Tokens;

    fn logits(&self, tokens: Tokens) -> Tensor<2> {
        let (_, pooled) = self.encode(tokens);
        self.output.forward(relu(self.hidden.forward(pooled)))
    }

    fn num_classes(&self) -> usize {
        TOPICS
    }

    /// The per-token embeddings as a sequence state, the pooled vector and the hidden layer.
    fn forward_features(&self, tokens: Tokens) -> Features {
        let (states, pooled) = self.encode(tokens);
        let hidden = relu(self.hidden.forward(pooled.clone()));
        Features {
            logits: self.output.forward(hidden.clone()),
            hidden: vec![pooled, hidden],
            maps: vec![],
            sequences: vec![states],
            names: FeatureNames {
                hidden: vec!["pooled".into(), "hidden".into()],
                maps: vec![],
                sequences: vec!["embedding".into()],
            },
        }
    }
}

/// One sequence and its topic.
#[derive(Debug, Clone)]
pub struct TextItem {
    /// Token ids in `1..VOCAB`.
    pub ids: Vec<u32>,
    /// The topic.
    pub label: usize,
}

/// Pads a batch's sequences to the longest, with its mask.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenBatcher;

impl Batcher<TextItem, LabeledBatch<Tokens>> for TokenBatcher {
    fn batch(&self, items: Vec<TextItem>, device: &Device) -> LabeledBatch<Tokens> {
        let n = items.len();
        let seq = items.iter().map(|i| i.ids.len()).max().unwrap_or(1).max(1);
        let mut ids = vec![0i64; n * seq];
        let mut mask = vec![false; n * seq];
        let mut labels = Vec::with_capacity(n);
        for (row, item) in items.iter().enumerate() {
            for (pos, &id) in item.ids.iter().enumerate() {
                ids[row * seq + pos] = i64::from(id);
                mask[row * seq + pos] = true;
            }
            labels.push(item.label as i64);
        }
        LabeledBatch {
            inputs: Tokens {
                ids: Tensor::from_data(TensorData::new(ids, [n, seq]), device),
                mask: Tensor::from_data(TensorData::new(mask, [n, seq]), device),
            },
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// `n` sequences of 4 to 16 tokens drawn from `seed` (a small xorshift generator keeps the
/// example free of other dependencies).
pub fn topic_sequences(n: usize, seed: u64) -> Vec<TextItem> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let third = (VOCAB - 1) / TOPICS;
    (0..n)
        .map(|_| {
            let label = next(TOPICS);
            let len = 4 + next(13);
            let ids = (0..len)
                .map(|_| {
                    let id = if next(2) == 0 {
                        1 + label * third + next(third)
                    } else {
                        1 + next(VOCAB - 1)
                    };
                    id as u32
                })
                .collect();
            TextItem { ids, label }
        })
        .collect()
}

/// Test accuracies.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The teacher (d = 64, hidden 64).
    pub teacher: f64,
    /// The student (d = 4, hidden 8) from the labels alone.
    pub baseline: f64,
    /// The student distilled from the teacher.
    pub distilled: f64,
}

/// Trains teacher, baseline and distilled student on `train_rows` synthetic sequences.
///
/// # Errors
/// A training error.
pub fn run(train_rows: usize, epochs: usize, seed: u64, device: &Device) -> Result<Outcome, Error> {
    let data = |rows, seed| {
        LoaderData::new(
            InMemDataset::new(topic_sequences(rows, seed)),
            TokenBatcher,
            TOPICS,
            device,
        )
    };
    let (train, valid, test) = (
        data(train_rows, seed)?,
        data(500, seed + 1)?,
        data(2_000, seed + 2)?,
    );
    let config = TrainerConfig {
        epochs,
        batch_size: 64,
        learning_rate: 3e-3,
        seed,
        ..TrainerConfig::default()
    };
    let fit = |model: TokenClassifier,
               config: TrainerConfig,
               teacher: Option<&FrozenTeacher<TokenClassifier>>| {
        let trainer = Trainer::new(config)?.with_progress(Progress::Silent);
        Ok::<_, Error>(
            trainer
                .fit(model, &train, &valid, teacher.map(|t| t as _))?
                .best,
        )
    };
    let accuracy =
        |m: &TokenClassifier| -> Result<f64, Error> { Ok(evaluate(m, &test, None, 500)?.accuracy) };
    device.seed(seed);
    let teacher = fit(TokenClassifier::new(64, 64, device), config.clone(), None)?;
    let teacher_acc = accuracy(&teacher)?;
    let teacher = FrozenTeacher::new(teacher);
    let student = || {
        device.seed(seed + 1);
        TokenClassifier::new(4, 8, device)
    };
    let baseline = fit(student(), config.clone(), None)?;
    let distill = TrainerConfig {
        loss: SoftTargetLossConfig::new(2.0, 0.2, 0.8),
        ..config
    };
    let distilled = fit(student(), distill, Some(&teacher))?;
    Ok(Outcome {
        teacher: teacher_acc,
        baseline: accuracy(&baseline)?,
        distilled: accuracy(&distilled)?,
    })
}
