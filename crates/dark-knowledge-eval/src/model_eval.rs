//! Evaluating burn models: probabilities on a dataset, efficiency figures, and the metrics
//! row of the comparison report.

use std::time::Instant;

use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor, TensorData};
use dark_knowledge_core::rows::batch_ranges;
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_core::{Classifier, Teacher, TeacherBatch};
use dark_knowledge_data::Dataset;
use dark_knowledge_models::model_bytes;

use crate::error::{MetricsError, Result};
use crate::model::{Efficiency, ModelMetrics, model_metrics};

/// Class probabilities of `model` on every row of `data`, row-major `[len, num_classes]`.
/// Pass the model's `valid()` snapshot (the trainer's outputs already are).
pub fn predict_proba<M: Classifier<Input = Tensor<2>>>(
    model: &M,
    data: &Dataset,
    batch_size: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len() * model.num_classes());
    for rows in batch_ranges(data.len(), batch_size) {
        let batch = data.range(rows.start, rows.end);
        let logits = model.logits(batch.inputs.without_autodiff());
        out.extend(to_vec_f32(softmax(logits, 1)));
    }
    out
}

/// Class probabilities of a teacher on every row of `data`.
///
/// # Errors
/// When the teacher cannot serve a batch.
pub fn teacher_proba(teacher: &dyn Teacher, data: &Dataset, batch_size: usize) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(data.len() * teacher.num_classes());
    for rows in batch_ranges(data.len(), batch_size) {
        let batch = data.range(rows.start, rows.end);
        let logits = teacher
            .logits(TeacherBatch {
                inputs: &batch.inputs,
                rows: &batch.rows,
            })
            .map_err(|e| MetricsError::InvalidArgument {
                what: "teacher",
                reason: e.to_string(),
            })?;
        out.extend(to_vec_f32(softmax(logits, 1)));
    }
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Size and speed of `model` on the device of `data`: parameter count, size of the saved
/// weights, median latency per sample at batch 1 (`latency_runs` runs after warm-up, each
/// reading the result back), and throughput at batch 1024 (median of 5 runs).
pub fn measure_efficiency<M: Classifier<Input = Tensor<2>>>(
    model: &M,
    data: &Dataset,
    latency_runs: usize,
) -> Efficiency {
    let device = data.device();
    let one = data.range(0, 1).inputs;
    let latency = |runs: usize| {
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let out = model.logits(one.clone());
                let _ = out.into_data();
                t.elapsed().as_secs_f64() * 1e6
            })
            .collect::<Vec<_>>()
    };
    latency(20);
    let latency_us_batch1 = median(latency(latency_runs.max(1)));

    let idx: Vec<i64> = (0..1024).map(|i| (i % data.len()) as i64).collect();
    let index = Tensor::<1, Int>::from_data(TensorData::new(idx, [1024]), &device);
    let big = data.features().clone().select(0, index);
    let run = || {
        let t = Instant::now();
        let _ = model.logits(big.clone()).into_data();
        t.elapsed().as_secs_f64()
    };
    run();
    let secs = median((0..5).map(|_| run()).collect());
    Efficiency {
        parameters: burn::module::Module::num_params(model),
        bytes: model_bytes(model).map(|b| b.len()).unwrap_or(0),
        latency_us_batch1,
        throughput_per_s_batch1024: 1024.0 / secs,
    }
}

/// The report row of `model` on `data` (usually the test split): quality, calibration,
/// fidelity to the teacher (`teacher_probs`, from [`teacher_proba`]) and efficiency.
///
/// # Errors
/// When the probabilities or labels are inconsistent (a class-count mismatch).
pub fn evaluate_model<M: Classifier<Input = Tensor<2>>>(
    model: &M,
    data: &Dataset,
    teacher_probs: &[f32],
    class_names: &[String],
    positive_class: Option<usize>,
    latency_runs: usize,
) -> Result<ModelMetrics> {
    let probs = predict_proba(model, data, 1024);
    let efficiency = measure_efficiency(model, data, latency_runs);
    model_metrics(
        &probs,
        teacher_probs,
        model.num_classes(),
        data.labels_host(),
        class_names,
        positive_class,
        efficiency,
    )
}
