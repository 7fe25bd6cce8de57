//! Train a teacher MLP from labels, then distill a 16-unit student from it and compare it
//! with the same student trained from labels alone, on a synthetic task.
//!
//! `cargo run --release -p quickstart -- [cpu|wgpu]`

use dark_knowledge::evaluate;
use dark_knowledge::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device_name = std::env::args().nth(1).unwrap_or_else(|| "cpu".to_string());
    let device = device_from_name(&device_name)?;

    // A 4-class task where each class is two Gaussian clusters in 10 dimensions.
    let data = GaussianMixtureConfig {
        num_samples: 6000,
        num_features: 10,
        num_classes: 4,
        clusters_per_class: 2,
        cluster_std: 1.6,
        seed: 1,
    }
    .dataset(&device)?;
    let split = stratified_split(data.labels_host(), 0.15, 0.15, 1)?;
    let train = data.subset(&split.train)?;
    let valid = data.subset(&split.valid)?;
    let test = data.subset(&split.test)?;

    let base = TrainerConfig {
        epochs: 20,
        batch_size: 64,
        learning_rate: 2e-3,
        schedule: LrSchedule::Cosine { min_lr: 1e-5 },
        seed: 7,
        ..TrainerConfig::default()
    };

    device.seed(7);
    let teacher = MlpConfig::new(10, vec![256, 256], 4)
        .with_dropout(0.1)
        .init(&device);
    let teacher = Trainer::new(base.clone())?
        .with_label("teacher")
        .fit(teacher, &train, &valid, None)?
        .best;
    let teacher = FrozenTeacher::new(teacher);

    let student = || {
        device.seed(11);
        MlpConfig::new(10, vec![16], 4).init(&device)
    };
    let baseline = Trainer::new(base.clone())?
        .with_label("baseline")
        .fit(student(), &train, &valid, None)?
        .best;
    let distill_config = TrainerConfig {
        loss: SoftTargetLossConfig::new(4.0, 0.1, 0.9),
        ..base
    };
    let distilled = Trainer::new(distill_config)?
        .with_label("distilled")
        .fit(student(), &train, &valid, Some(&teacher))?
        .best;

    println!("\n| model | parameters | test accuracy |");
    println!("|---|---:|---:|");
    for (name, acc, params) in [
        (
            "teacher 10-256-256-4",
            evaluate(teacher.model(), &test, None, 1024)?.accuracy,
            teacher.model().num_params(),
        ),
        (
            "student 10-16-4, labels only",
            evaluate(&baseline, &test, None, 1024)?.accuracy,
            baseline.num_params(),
        ),
        (
            "student 10-16-4, distilled",
            evaluate(&distilled, &test, None, 1024)?.accuracy,
            distilled.num_params(),
        ),
    ] {
        println!("| {name} | {params} | {:.2} % |", 100.0 * acc);
    }
    Ok(())
}
