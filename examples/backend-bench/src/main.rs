//! Times training steps of the reference MLPs on one burn backend and prints JSON.
//!
//! `cargo run -p backend-bench [--features ndarray] -- DEVICE [STEPS]`
//!
//! Workloads (batch 128, synthetic inputs of Fashion-MNIST's shape, 784 features, 10 classes):
//! - `teacher_step_ms`: MLP 784-1200-1200-10 forward + cross-entropy + backward + Adam;
//! - `kd_step_ms`: student MLP 784-64-10 distillation step with the teacher run each batch.
//!
//! Each figure is the median over `STEPS` timed steps after 5 warm-up steps.

use std::time::Instant;

use dark_knowledge::burn::optim::{AdamConfig, GradientsParams};
use dark_knowledge::core::loss::{CrossEntropyLoss, Reduction};
use dark_knowledge::prelude::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let device_name = args.next().unwrap_or_else(|| "cpu".into());
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(30);
    let device = device_from_name(&device_name)?;
    let ad = device.clone().autodiff();
    device.seed(0);
    let data = GaussianMixtureConfig {
        num_samples: 128,
        num_features: 784,
        num_classes: 10,
        clusters_per_class: 1,
        cluster_std: 1.0,
        seed: 0,
    }
    .dataset(&device)?;
    let batch = data.range(0, 128);
    let x = batch.inputs.clone().autodiff();
    let y = batch.targets.clone().autodiff();

    // Teacher training step.
    let mut teacher = MlpConfig::new(784, vec![1200, 1200], 10)
        .with_dropout(0.2)
        .init(&ad);
    let mut optim = AdamConfig::new().init();
    let mut times = Vec::new();
    for i in 0..steps + 5 {
        let t0 = Instant::now();
        let loss =
            CrossEntropyLoss::new().forward(teacher.forward(x.clone()), y.clone(), Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &teacher);
        teacher = optim.step(1e-3, teacher, grads);
        device.sync()?;
        if i >= 5 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let teacher_ms = median(times);

    // Distillation step, teacher run each batch.
    let frozen = FrozenTeacher::new(teacher);
    let loss = SoftTargetLossConfig::new(4.0, 0.1, 0.9).init()?;
    let mut student = MlpConfig::new(784, vec![64], 10).init(&ad);
    let mut optim = AdamConfig::new().init();
    let mut times = Vec::new();
    for i in 0..steps + 5 {
        let t0 = Instant::now();
        let t_logits = frozen
            .logits(dark_knowledge::TeacherBatch {
                inputs: &batch.inputs,
                rows: &batch.rows,
            })?
            .autodiff();
        let l = loss.forward(student.forward(x.clone()), t_logits, y.clone());
        let grads = GradientsParams::from_grads(l.backward(), &student);
        student = optim.step(1e-3, student, grads);
        device.sync()?;
        if i >= 5 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let kd_ms = median(times);
    let json = serde_json::json!({
        "device": device_name,
        "batch_size": 128,
        "steps": steps,
        "teacher_step_ms": teacher_ms,
        "teacher_samples_per_s": 128.0 / teacher_ms * 1e3,
        "kd_step_ms": kd_ms,
        "kd_samples_per_s": 128.0 / kd_ms * 1e3,
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
