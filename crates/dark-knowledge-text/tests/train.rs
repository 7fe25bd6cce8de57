//! The language-model trainer end to end, on a synthetic corpus with a learnable rule:
//! distillation beats training from tokens at the same budget, a top-k cache at k = vocab
//! trains the same student as the teacher online, on-policy batches and sequence-level KD
//! work, and wrong setups are refused.

use std::sync::Arc;

use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::tensor::Device;
use dark_knowledge_core::tensor_util::parameters_to_vec;
use dark_knowledge_text::cache::{TokenCacheMeta, TokenCacheWriter, TokenLogitCache, TokenTopK};
use dark_knowledge_text::corpus::{TokenBatcher, TokenWindows};
use dark_knowledge_text::generate::Sampling;
use dark_knowledge_text::loss::{HiddenLoss, TokenDivergence, TokenKdConfig};
use dark_knowledge_text::model::{CausalLm, CausalLmConfig, LanguageModel};
use dark_knowledge_text::train::{
    LmObjective, LmTrainer, LmTrainerConfig, OnPolicyConfig, SequenceKdConfig, TokenTeacher,
    bits_per_token, teacher_transfer_set,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const VOCAB: usize = 12;

/// burn's flex generator is one per process: a test that seeds it, then initialises a model,
/// would get other weights if another test drew from it in between. Every test here takes
/// this guard first.
fn exclusive_rng() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
const SEQ: usize = 16;

/// Ids of a seeded order-2 Markov chain: each pair of ids has two likely successors, so a
/// model that reads two ids back does well and the distribution has real "dark knowledge".
fn markov_ids(n: usize, seed: u64) -> Vec<u32> {
    let mut table = StdRng::seed_from_u64(99);
    let next: Vec<[u32; 2]> = (0..VOCAB * VOCAB)
        .map(|_| {
            [
                table.random_range(0..VOCAB as u32),
                table.random_range(0..VOCAB as u32),
            ]
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids = vec![0u32, 1];
    while ids.len() < n {
        let (a, b) = (ids[ids.len() - 2] as usize, ids[ids.len() - 1] as usize);
        let r: f64 = rng.random_range(0.0..1.0);
        let id = if r < 0.6 {
            next[a * VOCAB + b][0]
        } else if r < 0.9 {
            next[a * VOCAB + b][1]
        } else {
            rng.random_range(0..VOCAB as u32)
        };
        ids.push(id);
    }
    ids
}

fn windows(n: usize, seed: u64) -> TokenWindows {
    TokenWindows::sequential(Arc::new(markov_ids(n, seed)), SEQ).unwrap()
}

fn teacher_config() -> CausalLmConfig {
    CausalLmConfig::new(VOCAB)
        .with_max_seq_len(32)
        .with_d_model(32)
        .with_n_heads(2)
        .with_n_layers(2)
        .with_d_ff(64)
}

fn student_config() -> CausalLmConfig {
    CausalLmConfig::new(VOCAB)
        .with_max_seq_len(32)
        .with_d_model(8)
        .with_n_heads(1)
        .with_n_layers(1)
        .with_d_ff(16)
}

fn trained_teacher(train: &TokenWindows, valid: &TokenWindows, device: &Device) -> CausalLm {
    device.seed(5);
    let model = teacher_config().init(device);
    let config = LmTrainerConfig::new(300).with_batch_size(16).with_seed(5);
    LmTrainer::new(config, LmObjective::tokens())
        .unwrap()
        .fit_from_tokens(model, train, valid, device)
        .unwrap()
        .model
}

fn student(device: &Device, seed: u64) -> CausalLm {
    device.seed(seed);
    student_config().init(device)
}

#[test]
fn distilled_student_beats_the_student_from_tokens_at_the_same_budget() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid, test) = (windows(6000, 1), windows(1500, 2), windows(1500, 3));
    let teacher = trained_teacher(&train, &valid, &device);
    let teacher_bits = bits_per_token(&teacher, &test, 32, 0, &device).unwrap();
    let config = LmTrainerConfig::new(60).with_batch_size(16).with_seed(3);
    let scratch = LmTrainer::new(config.clone(), LmObjective::tokens())
        .unwrap()
        .fit_from_tokens(student(&device, 9), &train, &valid, &device)
        .unwrap();
    let scratch_bits = bits_per_token(&scratch.model, &test, 32, 0, &device).unwrap();
    for divergence in [
        TokenDivergence::ForwardKl,
        TokenDivergence::Jsd { beta: 0.5 },
    ] {
        let objective = LmObjective::distill(0.0, 1.0, TokenKdConfig::new(divergence));
        let out = LmTrainer::new(config.clone(), objective)
            .unwrap()
            .fit(
                student(&device, 9),
                &train,
                &valid,
                Some(TokenTeacher::Network(&teacher)),
                &device,
            )
            .unwrap();
        let bits = bits_per_token(&out.model, &test, 32, 0, &device).unwrap();
        eprintln!(
            "{divergence:?}: {bits:.4} vs scratch {scratch_bits:.4}, teacher {teacher_bits:.4}"
        );
        assert!(
            bits < scratch_bits - 0.02,
            "{divergence:?}: distilled {bits:.4} bits is not below scratch {scratch_bits:.4}"
        );
    }
    // Chance is log2(12) = 3.58 bits; the teacher learned the chain.
    assert!(teacher_bits < 3.0, "teacher {teacher_bits}");
}

/// Writes the teacher's top-k logits of every window of `train`.
fn write_cache(
    teacher: &CausalLm,
    train: &TokenWindows,
    k: usize,
    dir: &std::path::Path,
    device: &Device,
) -> TokenLogitCache {
    use burn::data::dataloader::batcher::Batcher;
    let meta = TokenCacheMeta {
        vocab_size: VOCAB,
        k,
        seq_len: SEQ,
        windows: train.len(),
        teacher: Some("test teacher".into()),
        data_checksum: None,
    };
    let path = dir.join(format!("top{k}.safetensors"));
    let mut writer = TokenCacheWriter::create(&path, meta.clone()).unwrap();
    for start in (0..train.len()).step_by(7) {
        let items = (start..(start + 7).min(train.len()))
            .map(|i| train.get(i).unwrap())
            .collect();
        let batch = TokenBatcher.batch(items, device);
        let top = TokenTopK::from_logits(teacher.valid().token_logits(batch.inputs), k).unwrap();
        writer.push(&top, &batch.mask).unwrap();
    }
    writer.finish().unwrap();
    TokenLogitCache::open_for(&path, &meta).unwrap()
}

#[test]
fn a_cache_at_k_equal_vocab_trains_the_same_student_as_the_teacher_online() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid) = (windows(2000, 4), windows(400, 5));
    device.seed(8);
    let teacher = teacher_config().init(&device); // untrained: any teacher will do
    let dir = tempfile::tempdir().unwrap();
    let cache = write_cache(&teacher, &train, VOCAB, dir.path(), &device);
    let config = LmTrainerConfig::new(12).with_batch_size(5).with_seed(11);
    let objective = LmObjective::distill(
        0.3,
        0.7,
        TokenKdConfig::new(TokenDivergence::ReverseKl).with_temperature(2.0),
    );
    let trainer = LmTrainer::new(config, objective).unwrap();
    let online = trainer
        .fit(
            student(&device, 2),
            &train,
            &valid,
            Some(TokenTeacher::Network(&teacher)),
            &device,
        )
        .unwrap();
    let cached = trainer
        .fit::<_, CausalLm, _, _>(
            student(&device, 2),
            &train,
            &valid,
            Some(TokenTeacher::Cache(&cache)),
            &device,
        )
        .unwrap();
    let (a, b) = (
        parameters_to_vec(&online.model),
        parameters_to_vec(&cached.model),
    );
    assert_eq!(
        a, b,
        "the cached run's parameters differ from the online run's"
    );
    assert_eq!(online.history, cached.history);
    // And the students moved: the comparison is not between two untouched initialisations.
    assert_ne!(a, parameters_to_vec(&student(&device, 2)));
}

#[test]
fn a_top_k_cache_below_vocab_distils_and_refuses_what_it_cannot_serve() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid, test) = (windows(6000, 1), windows(1500, 2), windows(1500, 3));
    let teacher = trained_teacher(&train, &valid, &device);
    let dir = tempfile::tempdir().unwrap();
    let cache = write_cache(&teacher, &train, 3, dir.path(), &device);
    let config = LmTrainerConfig::new(60).with_batch_size(16).with_seed(3);
    let kd = LmObjective::distill(0.0, 1.0, TokenKdConfig::new(TokenDivergence::ForwardKl));
    let out = LmTrainer::new(config.clone(), kd.clone())
        .unwrap()
        .fit::<_, CausalLm, _, _>(
            student(&device, 9),
            &train,
            &valid,
            Some(TokenTeacher::Cache(&cache)),
            &device,
        )
        .unwrap();
    let scratch = LmTrainer::new(config.clone(), LmObjective::tokens())
        .unwrap()
        .fit_from_tokens(student(&device, 9), &train, &valid, &device)
        .unwrap();
    let (top3, from_tokens) = (
        bits_per_token(&out.model, &test, 32, 0, &device).unwrap(),
        bits_per_token(&scratch.model, &test, 32, 0, &device).unwrap(),
    );
    assert!(
        top3 < from_tokens,
        "top-3 cache {top3:.4} vs scratch {from_tokens:.4}"
    );
    // A cache cannot score the student's own samples.
    let on_policy = kd.with_on_policy(OnPolicyConfig {
        fraction: 0.5,
        prompt_len: 4,
        new_tokens: 4,
        temperature: 1.0,
    });
    let err = LmTrainer::new(config, on_policy)
        .unwrap()
        .fit::<_, CausalLm, _, _>(
            student(&device, 9),
            &train,
            &valid,
            Some(TokenTeacher::Cache(&cache)),
            &device,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("teacher network"), "{err}");
}

#[test]
fn on_policy_batches_take_their_share_and_train_the_student() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid) = (windows(3000, 6), windows(600, 7));
    let teacher = trained_teacher(&train, &valid, &device);
    let objective = LmObjective::distill(
        0.0,
        1.0,
        TokenKdConfig::new(TokenDivergence::Jsd { beta: 0.9 }),
    )
    .with_on_policy(OnPolicyConfig {
        fraction: 0.5,
        prompt_len: 4,
        new_tokens: 6,
        temperature: 1.0,
    });
    let config = LmTrainerConfig::new(40).with_batch_size(8).with_seed(1);
    let trainer = LmTrainer::new(config, objective).unwrap();
    let run = || {
        trainer
            .fit(
                student(&device, 4),
                &train,
                &valid,
                Some(TokenTeacher::Network(&teacher)),
                &device,
            )
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert!(
        (10..=30).contains(&a.on_policy_batches),
        "{} of 40",
        a.on_policy_batches
    );
    assert_eq!(
        parameters_to_vec(&a.model),
        parameters_to_vec(&b.model),
        "a seed reproduces"
    );
    let before = bits_per_token(&student(&device, 4), &valid, 32, 0, &device).unwrap();
    assert!(
        a.valid_bits() < before - 0.1,
        "{} vs untrained {before}",
        a.valid_bits()
    );
}

#[test]
fn sequence_level_kd_trains_on_the_teachers_text() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid) = (windows(3000, 6), windows(600, 7));
    let teacher = trained_teacher(&train, &valid, &device);
    let config = SequenceKdConfig {
        prompt_len: 4,
        sampling: Sampling::Sample {
            temperature: 1.0,
            seed: 3,
        },
        windows: 40,
        batch_size: 16,
    };
    let set = teacher_transfer_set(&teacher, &train, &config, &device, false).unwrap();
    let again = teacher_transfer_set(&teacher, &train, &config, &device, false).unwrap();
    assert_eq!(set, again, "seeded sampling reproduces");
    assert_eq!(set.len(), 40);
    for (i, w) in set.windows().iter().enumerate() {
        let original = train.get(set.sources()[i]).unwrap().ids;
        assert_eq!(w.len(), original.len());
        assert_eq!(w[..4], original[..4], "the prompt is the data's");
        assert!(w.iter().all(|&id| (id as usize) < VOCAB));
    }
    assert_ne!(
        set.windows()[0],
        train.get(0).unwrap().ids,
        "the continuation is the teacher's"
    );
    let out = LmTrainer::new(
        LmTrainerConfig::new(30).with_batch_size(8),
        LmObjective::tokens(),
    )
    .unwrap()
    .fit_from_tokens(student(&device, 4), &set, &valid, &device)
    .unwrap();
    let before = bits_per_token(&student(&device, 4), &valid, 32, 0, &device).unwrap();
    assert!(
        out.valid_bits() < before,
        "{} vs {before}",
        out.valid_bits()
    );
}

#[test]
fn hidden_state_term_trains_through_its_projection() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid) = (windows(2000, 6), windows(400, 7));
    let teacher = trained_teacher(&train, &valid, &device);
    let objective = LmObjective::distill(1.0, 1.0, TokenKdConfig::new(TokenDivergence::ForwardKl))
        .with_hidden(0.5, HiddenLoss::Cosine);
    let out = LmTrainer::new(LmTrainerConfig::new(20).with_batch_size(8), objective)
        .unwrap()
        .fit(
            student(&device, 4),
            &train,
            &valid,
            Some(TokenTeacher::Network(&teacher)),
            &device,
        )
        .unwrap();
    assert!(out.history[0].train_loss.is_finite());
}

#[test]
fn wrong_setups_are_refused_with_clear_errors() {
    let _rng = exclusive_rng();
    let device = Device::flex();
    let (train, valid) = (windows(500, 1), windows(200, 2));
    let kd = LmObjective::distill(0.0, 1.0, TokenKdConfig::new(TokenDivergence::ForwardKl));
    let trainer = LmTrainer::new(LmTrainerConfig::new(2), kd).unwrap();
    let err = trainer
        .fit::<_, CausalLm, _, _>(student(&device, 1), &train, &valid, None, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("teacher"), "{err}");
    let other = CausalLmConfig::new(VOCAB + 1)
        .with_d_model(8)
        .with_n_heads(1)
        .with_n_layers(1)
        .with_d_ff(8)
        .init(&device);
    let err = trainer
        .fit(
            student(&device, 1),
            &train,
            &valid,
            Some(TokenTeacher::Network(&other)),
            &device,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("vocabulary") && err.contains("13"), "{err}");
    for (config, needle) in [
        (LmTrainerConfig::new(0), "steps"),
        (LmTrainerConfig::new(1).with_batch_size(0), "batch_size"),
        (
            LmTrainerConfig::new(1).with_learning_rate(f64::NAN),
            "learning_rate",
        ),
    ] {
        let err = LmTrainer::new(config, LmObjective::tokens())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{err}");
    }
    let mut zero = LmObjective::tokens();
    zero.ce_weight = 0.0;
    let err = LmTrainer::new(LmTrainerConfig::new(1), zero)
        .unwrap_err()
        .to_string();
    assert!(err.contains("weight"), "{err}");
    let long = TokenWindows::sequential(Arc::new(markov_ids(500, 1)), 64).unwrap();
    let err = LmTrainer::new(LmTrainerConfig::new(1), LmObjective::tokens())
        .unwrap()
        .fit_from_tokens(student(&device, 1), &long, &valid, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("context"), "{err}");
}
