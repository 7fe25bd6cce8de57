//! One seed of a study: its teacher (trained, or loaded when an earlier run saved it with the
//! same settings), then each arm's student.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Device;
use serde_json::json;

use super::config::{LmStudyConfig, StudyArm};
use super::summary::LmRunResult;
use super::{seed_dir, write_json};
use crate::cache::{TokenCacheMeta, TokenCacheWriter, TokenLogitCache, TokenTopK};
use crate::corpus::{TextCorpus, TokenWindows};
use crate::error::{Error, Result};
use crate::model::{CausalLm, LanguageModel};
use crate::train::{
    LmObjective, LmTrainer, LmTrainerConfig, TokenTeacher, bits_per_token, teacher_transfer_set,
};

/// The windows every run of the study reads.
pub(crate) struct StudyData {
    train: TokenWindows,
    valid: TokenWindows,
    test: TokenWindows,
    vocab_size: usize,
}

impl StudyData {
    pub(crate) fn new(config: &LmStudyConfig, corpus: &TextCorpus) -> Result<Self> {
        let windows =
            |ids: &Vec<u32>| TokenWindows::sequential(Arc::new(ids.clone()), config.seq_len);
        Ok(Self {
            train: windows(&corpus.train)?,
            valid: windows(&corpus.valid)?,
            test: windows(&corpus.test)?,
            vocab_size: corpus.vocab_size,
        })
    }
}

/// The settings a run depends on (all but the seed list and the other arms).
fn setup(config: &LmStudyConfig, arm: Option<&StudyArm>) -> serde_json::Value {
    let c = config;
    json!({
        "corpus": c.corpus, "max_chars": c.max_chars, "valid_fraction": c.valid_fraction,
        "test_fraction": c.test_fraction, "seq_len": c.seq_len, "teacher": c.teacher,
        "teacher_steps": c.teacher_steps, "batch_size": c.batch_size,
        "learning_rate": c.learning_rate, "test_windows": c.test_windows,
        "valid_windows": c.valid_windows,
        "student": arm.map(|_| json!(c.student)), "student_steps": arm.map(|_| c.student_steps),
        "arm": arm,
    })
}

/// A result saved by an earlier run with the same settings (a file changed since it was
/// written, or written with other settings, is recomputed).
fn saved(path: &Path, setup: &serde_json::Value) -> Option<LmRunResult> {
    let bytes = dark_knowledge_core::checksums::read_verified(path).ok()?;
    let r: LmRunResult = serde_json::from_slice(&bytes).ok()?;
    (r.setup == *setup).then_some(r)
}

fn trainer_config(
    config: &LmStudyConfig,
    steps: usize,
    seed: u64,
    progress: bool,
) -> LmTrainerConfig {
    LmTrainerConfig {
        eval_windows: config.valid_windows,
        progress,
        ..LmTrainerConfig::new(steps)
            .with_seed(seed)
            .with_batch_size(config.batch_size)
            .with_learning_rate(config.learning_rate)
    }
}

/// The teacher and every arm of `seed`.
pub(crate) fn run_seed(
    config: &LmStudyConfig,
    data: &StudyData,
    seed: u64,
    out: &Path,
    device: &Device,
    progress: bool,
) -> Result<Vec<LmRunResult>> {
    let dir = seed_dir(out, seed);
    // A manifest of every file written here, checked when a teacher or a result is read back.
    dark_knowledge_core::checksums::track(&dir).map_err(|e| Error::io(&dir, e))?;
    let (teacher, teacher_result) = teacher_of(config, data, seed, &dir, device, progress)?;
    let mut results = vec![teacher_result];
    for arm in &config.arms {
        let setup = setup(config, Some(arm));
        let path = dir.join(format!("{}.json", arm.name));
        if let Some(r) = saved(&path, &setup) {
            results.push(r);
            continue;
        }
        if progress {
            eprintln!("seed {seed}: student {}", arm.name);
        }
        let r = run_arm(
            config, data, seed, arm, &teacher, &dir, device, progress, setup,
        )?;
        write_json(&path, &r)?;
        results.push(r);
    }
    Ok(results)
}

/// The seed's teacher: loaded when saved with the same settings, else trained and saved.
fn teacher_of(
    config: &LmStudyConfig,
    data: &StudyData,
    seed: u64,
    dir: &Path,
    device: &Device,
    progress: bool,
) -> Result<(CausalLm, LmRunResult)> {
    let setup = setup(config, None);
    let result_path = dir.join("teacher.json");
    // The weights, with their settings in `teacher-model.json` beside them.
    let model_path = dir.join("teacher-model.bpk");
    if let Some(r) = saved(&result_path, &setup)
        && let Ok(model) = CausalLm::load(&model_path, device)
    {
        return Ok((model, r));
    }
    if progress {
        eprintln!("seed {seed}: teacher");
    }
    let started = Instant::now();
    device.seed(seed);
    let model = config
        .teacher
        .config(data.vocab_size, config.seq_len)
        .init(device);
    let trainer = LmTrainer::new(
        trainer_config(config, config.teacher_steps, seed, progress),
        LmObjective::tokens(),
    )?;
    let out = trainer.fit_from_tokens(model, &data.train, &data.valid, device)?;
    let result = score(
        config, data, seed, "teacher", &out.model, &out, started, setup, device,
    )?;
    out.model.save(&model_path)?;
    write_json(&result_path, &result)?;
    Ok((out.model, result))
}

#[allow(clippy::too_many_arguments)]
fn score<M: LanguageModel, S>(
    config: &LmStudyConfig,
    data: &StudyData,
    seed: u64,
    arm: &str,
    model: &M,
    out: &crate::train::LmTrainOutput<S>,
    started: Instant,
    setup: serde_json::Value,
    device: &Device,
) -> Result<LmRunResult> {
    let test_bits = bits_per_token(
        model,
        &data.test,
        config.batch_size,
        config.test_windows,
        device,
    )?;
    Ok(LmRunResult {
        seed,
        arm: arm.into(),
        test_bits,
        valid_bits: out.valid_bits(),
        parameters: Module::num_params(model),
        steps: out.history.last().map_or(0, |r| r.step),
        on_policy_batches: out.on_policy_batches,
        seconds: started.elapsed().as_secs_f64(),
        setup,
    })
}

/// One arm's student, trained from the seed's initialisation.
#[allow(clippy::too_many_arguments)]
fn run_arm(
    config: &LmStudyConfig,
    data: &StudyData,
    seed: u64,
    arm: &StudyArm,
    teacher: &CausalLm,
    dir: &Path,
    device: &Device,
    progress: bool,
    setup: serde_json::Value,
) -> Result<LmRunResult> {
    let started = Instant::now();
    device.seed(seed.wrapping_add(1_000));
    let student = config
        .student
        .config(data.vocab_size, config.seq_len)
        .init(device);
    let trainer = LmTrainer::new(
        trainer_config(config, config.student_steps, seed, progress),
        arm.objective.clone(),
    )?;
    let out = if let Some(seq_kd) = &arm.sequence_kd {
        let transfer = teacher_transfer_set(teacher, &data.train, seq_kd, device, progress)?;
        trainer.fit::<_, CausalLm, _, _>(student, &transfer, &data.valid, None, device)?
    } else if let Some(k) = arm.cache_k {
        let path = write_cache(teacher, data, k, dir, device)?;
        let cache = TokenLogitCache::open_for(&path, &cache_meta(data, k, config.seq_len))?;
        trainer.fit::<_, CausalLm, _, _>(
            student,
            &data.train,
            &data.valid,
            Some(TokenTeacher::Cache(&cache)),
            device,
        )?
    } else {
        let teacher = arm
            .objective
            .needs_teacher()
            .then_some(TokenTeacher::Network(teacher));
        trainer.fit(student, &data.train, &data.valid, teacher, device)?
    };
    score(
        config, data, seed, &arm.name, &out.model, &out, started, setup, device,
    )
}

fn cache_meta(data: &StudyData, k: usize, seq_len: usize) -> TokenCacheMeta {
    TokenCacheMeta {
        vocab_size: data.vocab_size,
        k: k.min(data.vocab_size),
        seq_len,
        windows: data.train.len(),
        teacher: None,
        data_checksum: None,
    }
}

/// The teacher's top-k logits over every training window, written once per seed and `k`.
fn write_cache(
    teacher: &CausalLm,
    data: &StudyData,
    k: usize,
    dir: &Path,
    device: &Device,
) -> Result<PathBuf> {
    let path = dir.join(format!("teacher-top{k}.safetensors"));
    let meta = cache_meta(data, k, data.train.seq_len());
    if TokenLogitCache::open_for(&path, &meta).is_ok() {
        return Ok(path);
    }
    let teacher = teacher.valid();
    let mut writer = TokenCacheWriter::create(&path, meta.clone())?;
    let n = data.train.len();
    for start in (0..n).step_by(64) {
        let batch = crate::train::read_windows(&data.train, start..(start + 64).min(n), device)?;
        let logits = teacher.token_logits(batch.inputs.clone());
        let top = TokenTopK::from_logits(logits, meta.k)?;
        writer.push(&top, &batch.mask)?;
    }
    writer.finish()
}
