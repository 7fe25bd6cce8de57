//! `cargo run --release -p custom-term`: a teacher, then a student trained with `kd` plus the
//! user's `prob_mse` term; prints both terms per epoch.

use dark_knowledge::prelude::*;
use dark_knowledge::train::CustomTerm;

use custom_term::ProbabilityMse;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = device_from_name("cpu")?;
    let data = GaussianMixtureConfig::default().dataset(&device)?;
    let split = stratified_split(data.labels_host(), 0.2, 0.0, 0)?;
    let (train, valid) = (data.subset(&split.train)?, data.subset(&split.valid)?);

    device.seed(0);
    let teacher = MlpConfig::new(10, vec![128, 128], 4).init(&device);
    let trainer = Trainer::new(TrainerConfig::default())?.with_progress(Progress::Silent);
    let teacher = FrozenTeacher::new(trainer.fit(teacher, &train, &valid, None)?.best);

    let config = TrainerConfig {
        loss: SoftTargetLossConfig::new(4.0, 0.0, 1.0),
        ..TrainerConfig::default()
    };
    let trainer = Trainer::new(config)?
        .with_progress(Progress::Silent)
        .with_term(CustomTerm::new(ProbabilityMse { temperature: 4.0 }, 10.0));
    let student = MlpConfig::new(10, vec![16], 4).init(&device);
    let out = trainer.fit(student, &train, &valid, Some(&teacher))?;
    println!("epoch  kd        prob_mse  valid accuracy");
    for r in &out.history {
        println!(
            "{:>5}  {:.6}  {:.6}  {:.4}",
            r.epoch, r.train.terms["kd"], r.train.terms["prob_mse"], r.valid.accuracy
        );
    }
    Ok(())
}
