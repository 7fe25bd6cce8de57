//! The language-model trainer: a fixed step budget of Adam steps, each on one batch of
//! windows, with cross-entropy, a per-token distillation term, a hidden-state term and
//! on-policy batches as the objective says.

use std::time::Instant;

use burn::data::dataset::Dataset;
use burn::nn::Linear;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::corpus::{TokenBatch, TokenWindow};
use crate::error::Result;
use crate::loss::{TokenKdLoss, hidden_projection, token_hidden_loss};
use crate::model::LanguageModel;
use crate::train::config::{LmObjective, LmTrainerConfig};
use crate::train::eval::{bits_per_token, read_windows};
use crate::train::on_policy::on_policy_batch;
use crate::train::setup::{check_teacher, check_windows, next_indices, progress_bar};
use crate::train::teacher::{TeacherSignal, TokenTeacher, kept_int_rows, kept_rows};

/// One evaluation during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LmEvalRecord {
    /// Steps taken.
    pub step: usize,
    /// The mean training loss (weighted total) since the previous record.
    pub train_loss: f64,
    /// Validation bits per token.
    pub valid_bits: f64,
}

/// A trained language model and how its training went.
#[derive(Debug)]
pub struct LmTrainOutput<S> {
    /// The model after the last step, off autodiff.
    pub model: S,
    /// One record per evaluation (the last one after the last step).
    pub history: Vec<LmEvalRecord>,
    /// Batches that were the student's own samples.
    pub on_policy_batches: usize,
    /// Wall time of the run, seconds.
    pub seconds: f64,
}

impl<S> LmTrainOutput<S> {
    /// Validation bits per token after the last step.
    pub fn valid_bits(&self) -> f64 {
        self.history.last().map_or(f64::NAN, |r| r.valid_bits)
    }
}

/// Trains a language model from tokens, or distils one from a [`TokenTeacher`].
///
/// ```no_run
/// use burn::tensor::Device;
/// use dark_knowledge_text::corpus::{TextCorpus, TokenWindows};
/// use dark_knowledge_text::model::{CausalLm, CausalLmConfig};
/// use dark_knowledge_text::tokenizer::CharTokenizer;
/// use dark_knowledge_text::train::{LmObjective, LmTrainer, LmTrainerConfig};
/// use std::sync::Arc;
///
/// # fn main() -> dark_knowledge_text::Result<()> {
/// let text = std::fs::read_to_string("corpus.txt").unwrap();
/// let tokenizer = CharTokenizer::fit(&text);
/// let corpus = TextCorpus::from_text(&text, &tokenizer, 0.05, 0.05)?;
/// let train = TokenWindows::sequential(Arc::new(corpus.train.clone()), 64)?;
/// let valid = TokenWindows::sequential(Arc::new(corpus.valid.clone()), 64)?;
/// let device = Device::flex();
/// device.seed(0);
/// let model = CausalLmConfig::student(corpus.vocab_size).init(&device);
/// let trainer = LmTrainer::new(LmTrainerConfig::new(500), LmObjective::tokens())?;
/// let out = trainer.fit_from_tokens(model, &train, &valid, &device)?;
/// println!("{:.3} bits per character", out.valid_bits());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LmTrainer {
    config: LmTrainerConfig,
    objective: LmObjective,
}

impl LmTrainer {
    /// A trainer with these settings and this objective.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for a setting out of range (see
    /// [`LmTrainerConfig::validate`], [`LmObjective::validate`]).
    pub fn new(config: LmTrainerConfig, objective: LmObjective) -> Result<Self> {
        config.validate()?;
        objective.validate()?;
        Ok(Self { config, objective })
    }

    /// The settings.
    pub fn config(&self) -> &LmTrainerConfig {
        &self.config
    }

    /// The objective.
    pub fn objective(&self) -> &LmObjective {
        &self.objective
    }

    /// Trains `model` from the next tokens of `train` (an objective without a teacher).
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn fit_from_tokens<S: LanguageModel, D: Dataset<TokenWindow>, V: Dataset<TokenWindow>>(
        &self,
        model: S,
        train: &D,
        valid: &V,
        device: &Device,
    ) -> Result<LmTrainOutput<S>> {
        self.fit::<S, S, D, V>(model, train, valid, None, device)
    }

    /// Trains `student` on `train` for the configured steps, evaluating on `valid`; the
    /// teacher (when the objective reads one) stays frozen. Batches follow a seeded shuffle of
    /// the windows, epoch after epoch; the same seed on the same device gives the same model.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] when the objective needs a teacher and none is given (or a
    /// network and a cache is given), [`Error::ShapeMismatch`] for a teacher of another
    /// vocabulary or windows longer than a model's context, and any error of a batch.
    pub fn fit<S, T, D, V>(
        &self,
        student: S,
        train: &D,
        valid: &V,
        teacher: Option<TokenTeacher<'_, T>>,
        device: &Device,
    ) -> Result<LmTrainOutput<S>>
    where
        S: LanguageModel,
        T: LanguageModel,
        D: Dataset<TokenWindow>,
        V: Dataset<TokenWindow>,
    {
        let started = Instant::now();
        let teacher = check_teacher(&self.objective, &student, teacher)?;
        check_windows(train, &student)?;
        let c = &self.config;
        device.seed(c.seed);
        let ad = device.clone().autodiff();
        let mut run = Run::new(self, student.fork(&ad).train(), teacher, &ad)?;
        let mut rng = StdRng::seed_from_u64(c.seed ^ 0x005e_ed0f_ba7c);
        let mut order: Vec<usize> = Vec::new();
        let bar = progress_bar(c);
        let mut history = Vec::new();
        for step in 0..c.steps {
            let indices = next_indices(&mut order, &mut rng, train.len(), c.batch_size);
            let batch = read_windows(train, indices, device)?;
            let on_policy = run
                .objective
                .on_policy
                .is_some_and(|p| rng.random_range(0.0..1.0) < p.fraction);
            run.step(batch, on_policy, c.learning_rate_at(step), rng.random())?;
            bar.inc(1);
            let last = step + 1 == c.steps;
            if last || (c.eval_every > 0 && (step + 1) % c.eval_every == 0) {
                let record = run.record(step + 1, valid, device)?;
                bar.set_message(format!("valid {:.3} bits/token", record.valid_bits));
                history.push(record);
            }
        }
        bar.finish_and_clear();
        Ok(LmTrainOutput {
            model: run.student.valid(),
            history,
            on_policy_batches: run.on_policy_batches,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// The state of one run: the student, its projection, optimisers and the loss sum.
struct Run<'a, S, T> {
    student: S,
    projection: Option<Linear>,
    optim: ModuleOptimizer,
    projection_optim: ModuleOptimizer,
    teacher: Option<TokenTeacher<'a, T>>,
    objective: LmObjective,
    kd: Option<(f64, TokenKdLoss)>,
    eval_windows: usize,
    batch_size: usize,
    ad: Device,
    loss_sum: Option<Tensor<1>>,
    loss_steps: usize,
    on_policy_batches: usize,
}

impl<'a, S: LanguageModel, T: LanguageModel> Run<'a, S, T> {
    fn new(
        trainer: &LmTrainer,
        student: S,
        teacher: Option<TokenTeacher<'a, T>>,
        ad: &Device,
    ) -> Result<Self> {
        let c = &trainer.config;
        let objective = trainer.objective.clone();
        let kd = match &objective.kd {
            Some(k) => Some((k.weight, k.loss().init()?)),
            None => None,
        };
        let projection = match (&objective.hidden, &teacher) {
            (Some(_), Some(TokenTeacher::Network(t))) => Some(hidden_projection(
                student.hidden_size(),
                t.hidden_size(),
                ad,
            )),
            _ => None,
        };
        Ok(Self {
            student,
            projection,
            optim: adam(c.grad_clip),
            projection_optim: adam(c.grad_clip),
            teacher,
            objective,
            kd,
            eval_windows: c.eval_windows,
            batch_size: c.batch_size,
            ad: ad.clone(),
            loss_sum: None,
            loss_steps: 0,
            on_policy_batches: 0,
        })
    }

    /// One optimisation step on `batch` (or on the student's continuations of its prompts).
    fn step(&mut self, batch: TokenBatch, on_policy: bool, lr: f64, seed: u64) -> Result<()> {
        let total = if on_policy {
            self.on_policy_batches += 1;
            self.on_policy_loss(batch, seed)?
        } else {
            self.data_loss(batch)?
        };
        let detached = total.clone().detach();
        self.loss_sum = Some(match self.loss_sum.take() {
            Some(s) => s + detached,
            None => detached,
        });
        self.loss_steps += 1;
        let mut grads = total.backward();
        let g = GradientsParams::from_module(&mut grads, &self.student);
        let student = self.student.clone();
        self.student = self.optim.step(lr, student, g);
        if let Some(p) = self.projection.take() {
            let g = GradientsParams::from_module(&mut grads, &p);
            self.projection = Some(self.projection_optim.step(lr, p, g));
        }
        Ok(())
    }

    /// The weighted loss on a batch of the data.
    fn data_loss(&self, batch: TokenBatch) -> Result<Tensor<1>> {
        let o = &self.objective;
        let want_hidden = o.hidden.is_some();
        let signal = match &self.teacher {
            Some(t) if o.kd.is_some() || want_hidden => Some(t.signal(&batch, want_hidden)?),
            _ => None,
        };
        let ids = batch.inputs.clone().autodiff();
        let mask = batch.mask.clone().autodiff();
        let (logits, hidden) = if want_hidden {
            let (l, h) = self.student.token_features(ids);
            (l, Some(h))
        } else {
            (self.student.token_logits(ids), None)
        };
        let mut total = Tensor::<1>::zeros([1], &self.ad);
        if o.ce_weight > 0.0 {
            let rows = dark_knowledge_core::loss::flatten_tokens(logits.clone(), &mask)?;
            let targets = dark_knowledge_core::loss::flatten_token_targets(
                batch.targets.clone().autodiff(),
                &mask,
            )?;
            let ce = dark_knowledge_core::loss::cross_entropy_no_reduction(rows, targets).mean();
            total = total + ce.mul_scalar(o.ce_weight);
        }
        if let (Some((weight, kd)), Some((signal, _))) = (&self.kd, &signal) {
            let term = kd_term(kd, logits, signal, &mask)?;
            total = total + term.mul_scalar(*weight);
        }
        if let (Some(h), Some((_, Some(teacher_hidden))), Some(student_hidden), Some(p)) =
            (&o.hidden, &signal, hidden, &self.projection)
        {
            let projected = p.forward(student_hidden);
            let term =
                token_hidden_loss(projected, teacher_hidden.clone().autodiff(), &mask, h.loss)?;
            total = total + term.mul_scalar(h.weight);
        }
        Ok(total)
    }

    /// The kd term on the student's own continuations of the batch's prompts.
    fn on_policy_loss(&self, batch: TokenBatch, seed: u64) -> Result<Tensor<1>> {
        let (Some(p), Some((weight, kd)), Some(TokenTeacher::Network(teacher))) =
            (&self.objective.on_policy, &self.kd, &self.teacher)
        else {
            unreachable!("validated: on-policy batches need a kd term and a teacher network");
        };
        let sampled = on_policy_batch(&self.student.valid(), &batch, p, seed)?;
        let teacher_logits = teacher.token_logits(sampled.inputs.clone()).detach();
        let logits = self.student.token_logits(sampled.inputs.autodiff());
        let mask = sampled.mask.autodiff();
        let term = kd.forward(logits, teacher_logits.autodiff(), &mask)?;
        Ok(term.mul_scalar(*weight))
    }

    /// The mean training loss since the last record, and validation bits per token.
    fn record<V: Dataset<TokenWindow>>(
        &mut self,
        step: usize,
        valid: &V,
        device: &Device,
    ) -> Result<LmEvalRecord> {
        let sum = self
            .loss_sum
            .take()
            .map_or(0.0, dark_knowledge_core::tensor_util::scalar_f64);
        let train_loss = sum / self.loss_steps.max(1) as f64;
        self.loss_steps = 0;
        let valid_bits = bits_per_token(
            &self.student.valid(),
            valid,
            self.batch_size,
            self.eval_windows,
            device,
        )?;
        Ok(LmEvalRecord {
            step,
            train_loss,
            valid_bits,
        })
    }
}

/// The distillation term on the kept tokens, from full teacher logits or a top-k cache.
fn kd_term(
    kd: &TokenKdLoss,
    logits: Tensor<3>,
    signal: &TeacherSignal,
    mask: &burn::tensor::Tensor<2, burn::tensor::Bool>,
) -> Result<Tensor<1>> {
    match signal {
        TeacherSignal::Full(t) => kd.forward(logits, t.clone().autodiff(), mask),
        TeacherSignal::TopK(top) => {
            let index = dark_knowledge_core::loss::kept_token_index(mask)?;
            let student = kept_rows(logits, index.clone());
            let indices = kept_int_rows(top.indices.clone().autodiff(), index.clone());
            let values = kept_rows(top.values.clone().autodiff(), index.clone());
            let [b, s] = top.rest.dims();
            let rest = top
                .rest
                .clone()
                .autodiff()
                .reshape([b * s, 1])
                .select(0, index);
            Ok(kd.forward_top_k_rows(student, indices, values, rest).mean())
        }
    }
}

fn adam(clip: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_grad_clipping((clip > 0.0).then_some(GradientClippingConfig::Norm(clip as f32)))
        .init()
}
