//! `distill`: the student from its teacher(s), directly or through a pipeline (assistant,
//! born-again generations, mutual learning), and the baseline from labels.

use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::{FrozenTeacher, Teacher};
use dark_knowledge_models::AnyModel;
use dark_knowledge_train::{Progress, TeacherSet, Trainer, TrainerConfig};

use super::teacher_source::{CheckedTeacher, check_teacher};
use super::{
    Job, RunDir, TeacherSource, TrainingMetrics, check_saved_records, load_role, save_trained,
    train_role, write_model_card,
};
use crate::experiment::{Experiment, Pipeline};
use crate::prepare::Prepared;

/// Roles a previous `distill` may have left that this one would not replace.
fn is_pipeline_role(name: &str) -> bool {
    name == "assistant"
        || name == "logistic"
        || name.starts_with("generation-")
        || name.starts_with("mutual-")
}

/// What every model one `distill` trains shares: the experiment, its run folder, the data,
/// the device and the progress display.
#[derive(Clone, Copy)]
struct Session<'a> {
    experiment: &'a Experiment,
    run: &'a RunDir,
    data: &'a Prepared,
    device: &'a Device,
    progress: Progress,
}

impl Session<'_> {
    /// Trains one model and saves it in the run folder.
    fn train(&self, job: Job<'_>) -> Result<AnyModel> {
        train_role(self.experiment, self.data, self.device, job, self.progress)
    }
}

/// The further `[[teachers]]` models, each with its weight in the ensemble.
type ExtraTeachers = Vec<(FrozenTeacher<AnyModel>, f64)>;

/// `distill`: trains the distilled student (through the experiment's pipeline) from the
/// teacher or the ensemble of teachers, and the baseline when asked, with the same initial
/// weights, seed and schedule.
pub fn distill(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    progress: Progress,
    source: &TeacherSource,
) -> Result<()> {
    let run = RunDir::of(experiment);
    let session = Session {
        experiment,
        run: &run,
        data,
        device,
        progress,
    };
    // Every teacher, and the records the model card reads, checked before the run changes.
    let (primary, extras) = open_teachers(&session, source)?;
    check_saved_records(&run, |role| {
        role == "teacher" || role.starts_with("teacher-")
    })?;
    remove_stale_roles(&run)?;
    let primary = primary.map(|p| p.open(experiment, data)).transpose()?;
    let teachers = teacher_set(experiment, primary.as_deref(), &extras)?;
    let s = &experiment.student;
    let config = experiment.student_trainer();
    let init_seed = experiment.seed.wrapping_add(1);
    if s.baseline {
        session.train(Job {
            role: "baseline",
            spec: &s.model,
            config: &config,
            teachers: TeacherSet::none(),
            init_seed,
        })?;
    }
    super::logistic::train_logistic(experiment, data, device, progress, &config)?;
    super::fitted::fit_tree_peer(experiment, data, &config)?;
    train_pipeline(&session, &config, teachers, init_seed)?;
    remove_stale_quantized(&run)?;
    write_model_card(experiment, &run, data, None)?;
    Ok(())
}

/// The teachers of the student, when its loss needs one, checked and loaded with nothing
/// written: the primary teacher (from `source`) and the `[[teachers]]` models saved by
/// `train-teacher`.
fn open_teachers(
    session: &Session<'_>,
    source: &TeacherSource,
) -> Result<(Option<CheckedTeacher>, ExtraTeachers)> {
    let Session {
        experiment,
        run,
        data,
        device,
        ..
    } = *session;
    if !experiment.student_needs_teacher() {
        return Ok((None, Vec::new()));
    }
    let primary = check_teacher(run, data, device, source)?;
    let mut extras = Vec::new();
    for extra in &experiment.teachers {
        let role = format!("teacher-{}", extra.name);
        extras.push((
            FrozenTeacher::new(load_role(run, &role, data, device).with_context(|| {
                format!("[[teachers]] {:?}: run train-teacher first", extra.name)
            })?),
            extra.weight,
        ));
    }
    Ok((Some(primary), extras))
}

/// No teacher, the primary teacher alone, or the weighted ensemble of it and the extras.
fn teacher_set<'a>(
    experiment: &Experiment,
    primary: Option<&'a dyn Teacher>,
    extras: &'a [(FrozenTeacher<AnyModel>, f64)],
) -> Result<TeacherSet<'a>> {
    Ok(match primary {
        None => TeacherSet::none(),
        Some(p) if extras.is_empty() => TeacherSet::single(p),
        Some(p) => {
            let mut members: Vec<(&dyn Teacher, f64)> = vec![(p, experiment.teacher.weight)];
            members.extend(extras.iter().map(|(t, w)| (t as &dyn Teacher, *w)));
            let set = TeacherSet::weighted(members, experiment.teacher.combine)?;
            log::info!("teachers: {}", set.describe());
            set
        }
    })
}

/// Trains the distilled student from `teachers` through the experiment's pipeline.
fn train_pipeline(
    session: &Session<'_>,
    config: &TrainerConfig,
    teachers: TeacherSet<'_>,
    init_seed: u64,
) -> Result<()> {
    let experiment = session.experiment;
    let student = |teachers, init_seed| Job {
        role: "distilled",
        spec: &experiment.student.model,
        config,
        teachers,
        init_seed,
    };
    match &experiment.pipeline {
        Pipeline::Standard {} => {
            session.train(student(teachers, init_seed))?;
        }
        Pipeline::Assistant { model, train } => {
            let assistant = Job {
                role: "assistant",
                spec: model,
                config: train.as_deref().unwrap_or(config),
                teachers,
                init_seed: init_seed.wrapping_add(1000),
            };
            let assistant = FrozenTeacher::new(session.train(assistant)?);
            session.train(student(TeacherSet::single(&assistant), init_seed))?;
        }
        Pipeline::BornAgain {
            generations,
            ensemble,
        } => {
            train_born_again(
                session,
                config,
                &teachers,
                *generations,
                *ensemble,
                init_seed,
            )?;
        }
        Pipeline::Mutual { .. } => {
            let mutual = experiment.pipeline.mutual().expect("mutual pipeline");
            train_mutual(session, config, &teachers, &mutual, init_seed)?;
        }
    }
    Ok(())
}

/// Born-again networks: generation 1 from `teachers`, each later one from the generation
/// before it (or, with `ensemble`, the ensemble of all earlier ones), saved as
/// `generation-<k>`, the last as `distilled`.
fn train_born_again(
    session: &Session<'_>,
    config: &TrainerConfig,
    teachers: &TeacherSet<'_>,
    generations: usize,
    ensemble: bool,
    init_seed: u64,
) -> Result<()> {
    let mut earlier: Vec<FrozenTeacher<AnyModel>> = Vec::new();
    for g in 1..=generations {
        let role = if g == generations {
            "distilled".to_string()
        } else {
            format!("generation-{g}")
        };
        let from = if g == 1 {
            teachers.clone()
        } else if ensemble {
            TeacherSet::weighted(
                earlier.iter().map(|t| (t as &dyn Teacher, 1.0)).collect(),
                session.experiment.teacher.combine,
            )?
        } else {
            TeacherSet::single(earlier.last().expect("g > 1"))
        };
        let seed = init_seed.wrapping_add(g as u64 - 1);
        let generation = Job {
            role: &role,
            spec: &session.experiment.student.model,
            config,
            teachers: from,
            init_seed: seed,
        };
        let model = session.train(generation)?;
        earlier.push(FrozenTeacher::new(model));
    }
    Ok(())
}

/// Removes the int8 copy of the previous student, which the new one replaces.
fn remove_stale_quantized(run: &RunDir) -> Result<()> {
    let stale = run.role("quantized");
    if stale.exists() {
        std::fs::remove_dir_all(&stale)
            .with_context(|| format!("removing the stale int8 copy {}", stale.display()))?;
        log::info!(
            "removed {}: it was made from the previous student (run `quantize` again)",
            stale.display()
        );
    }
    Ok(())
}

fn remove_stale_roles(run: &RunDir) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(&run.0) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && is_pipeline_role(&name) {
            std::fs::remove_dir_all(entry.path()).with_context(|| {
                format!(
                    "removing {} from a previous distill",
                    entry.path().display()
                )
            })?;
        }
    }
    Ok(())
}

/// Deep mutual learning: `mutual.students` students, initialised from consecutive seeds,
/// saved as `distilled` and `mutual-2`, `mutual-3`, ….
fn train_mutual(
    session: &Session<'_>,
    config: &TrainerConfig,
    teachers: &TeacherSet<'_>,
    mutual: &dark_knowledge_train::MutualConfig,
    init_seed: u64,
) -> Result<()> {
    let Session {
        experiment,
        run,
        data,
        device,
        progress,
    } = *session;
    let spec = &experiment.student.model;
    let mut models = Vec::with_capacity(mutual.students);
    for i in 0..mutual.students {
        device.seed(init_seed.wrapping_add(i as u64));
        models.push(spec.build(data.num_features(), data.num_classes(), device)?);
    }
    log::info!(
        "mutual learning: {} students {}, {} epochs on {} training rows",
        mutual.students,
        spec.describe(data.num_features(), data.num_classes()),
        config.epochs,
        data.train.len()
    );
    let trainer = Trainer::new(config.clone())?
        .with_progress(progress)
        .with_label("mutual");
    let trainer = experiment.checkpointed(trainer, "mutual");
    let train = data.train_for(!teachers.is_empty());
    let outs = trainer.fit_mutual(models, train, &data.valid, teachers, mutual)?;
    let mutual_peers = outs.len().saturating_sub(1);
    for (i, out) in outs.into_iter().enumerate() {
        let role = if i == 0 {
            "distilled".to_string()
        } else {
            format!("mutual-{}", i + 1)
        };
        let metrics = TrainingMetrics {
            best_epoch: out.best_epoch,
            trainer: config.clone(),
            history: out.history,
            stopped: out.stopped,
            taught_by: format!(
                "{} peer students (mutual learning); {}",
                mutual_peers,
                teachers.describe()
            ),
        };
        save_trained(run, &role, spec, data, &out.best, &metrics)?;
    }
    Ok(())
}
