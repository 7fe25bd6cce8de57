//! Distilling a user's own CNN on images, with burn's data API.
//!
//! Everything here is what a user writes in their own crate: two CNNs over `[B, 1, 28, 28]`
//! images (a larger teacher, a small student) implementing the
//! [`Classifier`](dark_knowledge::Classifier) contract, Fashion-MNIST items in a burn
//! `InMemDataset`, a burn `Batcher` that makes image tensors, and random-shift augmentation
//! of the training batches. The teacher network runs on each augmented batch.

// `#[derive(Module)]` expands to `burn::…` paths: this makes them resolve through the
// facade, so the crate needs no `burn` dependency of its own.
use dark_knowledge::burn;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge::data::idx::{FashionMnist, ImageSplit};
use dark_knowledge::data::{Augmented, LabeledBatch, LoaderData, RandomShift};
use dark_knowledge::{
    Classifier, FrozenTeacher, Progress, SoftTargetLossConfig, Trainer, TrainerConfig, evaluate,
};

/// The error type of the example: anything the library or the data files report.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `conv3×3(c1) → ReLU → pool → conv3×3(c2) → ReLU → pool → dense(hidden) → ReLU → dense(10)`
/// over `[B, 1, side, side]` images.
#[derive(Module, Debug)]
pub struct ImageCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    dense: Linear,
    output: Linear,
}

impl ImageCnn {
    /// A CNN with `channels` in its two convolutions and a dense layer of `hidden` units, for
    /// images of `side × side` pixels (`side` divisible by 4) and `classes` classes.
    pub fn new(
        channels: [usize; 2],
        hidden: usize,
        side: usize,
        classes: usize,
        device: &Device,
    ) -> Self {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let quarter = side / 4;
        Self {
            conv1: conv(1, channels[0]),
            conv2: conv(channels[0], channels[1]),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dense: LinearConfig::new(channels[1] * quarter * quarter, hidden).init(device),
            output: LinearConfig::new(hidden, classes).init(device),
        }
    }
}

impl Classifier for ImageCnn {
    type Input = Tensor<4>;

    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(relu(self.conv1.forward(images)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        self.output.forward(relu(self.dense.forward(x)))
    }

    fn num_classes(&self) -> usize {
        self.output.weight.dims()[1]
    }
}

/// One image and its class.
#[derive(Debug, Clone)]
pub struct ImageItem {
    /// `side × side` pixels in `[0, 1]`, row-major.
    pub pixels: Vec<f32>,
    /// The class.
    pub label: usize,
}

/// Stacks items into `[B, 1, side, side]` images and their classes.
#[derive(Debug, Clone, Copy)]
pub struct ImageBatcher {
    /// The image side in pixels.
    pub side: usize,
}

impl Batcher<ImageItem, LabeledBatch<Tensor<4>>> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> LabeledBatch<Tensor<4>> {
        let n = items.len();
        let mut pixels = Vec::with_capacity(n * self.side * self.side);
        let mut labels = Vec::with_capacity(n);
        for item in items {
            pixels.extend(item.pixels);
            labels.push(item.label as i64);
        }
        LabeledBatch {
            inputs: Tensor::from_data(
                TensorData::new(pixels, [n, 1, self.side, self.side]),
                device,
            ),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// Items `range` of an image split as a burn dataset.
pub fn items(split: &ImageSplit, range: std::ops::Range<usize>) -> InMemDataset<ImageItem> {
    let size = split.rows * split.cols;
    InMemDataset::new(
        range
            .map(|i| ImageItem {
                pixels: split.images[i * size..(i + 1) * size].to_vec(),
                label: split.labels[i],
            })
            .collect(),
    )
}

/// How much to train.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Training images (the first ones of the training split).
    pub train_rows: usize,
    /// Validation images (the next ones of the training split).
    pub valid_rows: usize,
    /// Test images (the first ones of the test split).
    pub test_rows: usize,
    /// Epochs of the teacher.
    pub teacher_epochs: usize,
    /// Epochs of each student.
    pub student_epochs: usize,
    /// The largest random shift in pixels (0: no augmentation).
    pub max_shift: usize,
    /// Threads building batches.
    pub workers: usize,
    /// The seed of every run.
    pub seed: u64,
}

impl Settings {
    /// The full run: all 60,000 training images (55,000 train, 5,000 validation), the test
    /// split, shifts of up to 2 px.
    pub fn full() -> Self {
        Self {
            train_rows: 55_000,
            valid_rows: 5_000,
            test_rows: 10_000,
            teacher_epochs: 6,
            student_epochs: 6,
            max_shift: 2,
            workers: 2,
            seed: 7,
        }
    }

    /// A run of a minute or two on two cores, for CI.
    pub fn reduced() -> Self {
        Self {
            train_rows: 3_000,
            valid_rows: 500,
            test_rows: 1_000,
            teacher_epochs: 4,
            student_epochs: 4,
            ..Self::full()
        }
    }
}

/// Test accuracies of the three models.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The teacher (channels 32/64, dense 256).
    pub teacher: f64,
    /// The student from the labels alone (channels 4/8, dense 32).
    pub baseline: f64,
    /// The same student distilled from the teacher.
    pub distilled: f64,
    /// Parameters of the teacher and of the student.
    pub params: (usize, usize),
}

/// Trains the teacher, the baseline student and the distilled student on Fashion-MNIST from
/// `dir`, on `device`.
///
/// # Errors
/// Missing or invalid data files; more rows asked for than the files hold; a training error.
pub fn run(dir: &std::path::Path, settings: &Settings, device: &Device) -> Result<Outcome, Error> {
    let s = settings;
    let data =
        FashionMnist::load_limited(dir, Some(s.train_rows + s.valid_rows), Some(s.test_rows))?;
    if data.train.len() < s.train_rows + s.valid_rows || data.test.len() < s.test_rows {
        return Err(format!("{} holds fewer images than asked for", dir.display()).into());
    }
    let side = data.train.rows;
    let batcher = ImageBatcher { side };
    let loader = |split: &ImageSplit, range| {
        LoaderData::new(items(split, range), batcher, 10, device).map(|d| d.with_workers(s.workers))
    };
    let train = Augmented::new(
        loader(&data.train, 0..s.train_rows)?,
        RandomShift {
            max_shift: s.max_shift,
        },
    );
    let valid = loader(&data.train, s.train_rows..s.train_rows + s.valid_rows)?;
    let test = loader(&data.test, 0..s.test_rows)?;

    let config = |epochs| TrainerConfig {
        epochs,
        batch_size: 64,
        seed: s.seed,
        ..TrainerConfig::default()
    };
    let fit =
        |model: ImageCnn, config: TrainerConfig, teacher: Option<&FrozenTeacher<ImageCnn>>| {
            let trainer = Trainer::new(config)?.with_progress(Progress::Lines);
            let out = trainer.fit(model, &train, &valid, teacher.map(|t| t as _))?;
            Ok::<_, Error>(out.best)
        };
    let accuracy = |model: &ImageCnn| -> Result<f64, Error> {
        Ok(evaluate(model, &test, None, 500)?.accuracy)
    };

    device.seed(s.seed);
    let teacher = fit(
        ImageCnn::new([32, 64], 256, side, 10, device),
        config(s.teacher_epochs),
        None,
    )?;
    let teacher_acc = accuracy(&teacher)?;
    let teacher = FrozenTeacher::new(teacher);

    let student = || {
        device.seed(s.seed + 1);
        ImageCnn::new([4, 8], 32, side, 10, device)
    };
    let params = (teacher.model().num_params(), student().num_params());
    let baseline = fit(student(), config(s.student_epochs), None)?;
    let distill = TrainerConfig {
        loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
        ..config(s.student_epochs)
    };
    let distilled = fit(student(), distill, Some(&teacher))?;
    Ok(Outcome {
        teacher: teacher_acc,
        baseline: accuracy(&baseline)?,
        distilled: accuracy(&distilled)?,
        params,
    })
}
