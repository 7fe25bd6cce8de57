//! `distill`: the student from its teacher(s), directly or through a pipeline (assistant,
//! born-again generations, mutual learning), and the baseline from labels.

use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_core::{FrozenTeacher, Teacher};
use dark_knowledge_models::AnyModel;
use dark_knowledge_train::{Progress, TeacherSet, Trainer, TrainerConfig};

use super::teacher_source::open_teacher;
use super::{
    Job, RunDir, TeacherSource, TrainingMetrics, load_role, save_trained, train_role,
    write_model_card,
};
use crate::experiment::{Experiment, Pipeline};
use crate::prepare::Prepared;

/// Roles a previous `distill` may have left that this one would not replace.
fn is_pipeline_role(name: &str) -> bool {
    name == "assistant" || name.starts_with("generation-") || name.starts_with("mutual-")
}

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
    let run = RunDir(experiment.output_dir.clone());
    remove_stale_roles(&run)?;
    let needs_teacher = experiment.student_needs_teacher();
    let primary = if needs_teacher {
        Some(open_teacher(experiment, data, device, source)?)
    } else {
        None
    };
    let mut extras = Vec::new();
    if needs_teacher {
        for extra in &experiment.teachers {
            let role = format!("teacher-{}", extra.name);
            extras.push((
                FrozenTeacher::new(load_role(&run, &role, data, device).with_context(|| {
                    format!("[[teachers]] {:?}: run train-teacher first", extra.name)
                })?),
                extra.weight,
            ));
        }
    }
    let teachers = match &primary {
        None => TeacherSet::none(),
        Some(p) if extras.is_empty() => TeacherSet::single(p.as_ref()),
        Some(p) => {
            let mut members: Vec<(&dyn Teacher, f64)> =
                vec![(p.as_ref(), experiment.teacher.weight)];
            members.extend(extras.iter().map(|(t, w)| (t as &dyn Teacher, *w)));
            let set = TeacherSet::weighted(members, experiment.teacher.combine)?;
            log::info!("teachers: {}", set.describe());
            set
        }
    };
    let s = &experiment.student;
    let config = experiment.student_trainer();
    let init_seed = experiment.seed.wrapping_add(1);
    let job = |role, teachers, init_seed| Job {
        role,
        spec: &s.model,
        config: &config,
        teachers,
        init_seed,
    };
    if s.baseline {
        let baseline = job("baseline", TeacherSet::none(), init_seed);
        train_role(experiment, data, device, baseline, progress)?;
    }
    match &experiment.pipeline {
        Pipeline::Standard {} => {
            train_role(
                experiment,
                data,
                device,
                job("distilled", teachers, init_seed),
                progress,
            )?;
        }
        Pipeline::Assistant { model, train } => {
            let assistant = Job {
                role: "assistant",
                spec: model,
                config: train.as_deref().unwrap_or(&config),
                teachers,
                init_seed: init_seed.wrapping_add(1000),
            };
            let assistant =
                FrozenTeacher::new(train_role(experiment, data, device, assistant, progress)?);
            let student = job("distilled", TeacherSet::single(&assistant), init_seed);
            train_role(experiment, data, device, student, progress)?;
        }
        Pipeline::BornAgain {
            generations,
            ensemble,
        } => {
            let mut earlier: Vec<FrozenTeacher<AnyModel>> = Vec::new();
            for g in 1..=*generations {
                let role = if g == *generations {
                    "distilled".to_string()
                } else {
                    format!("generation-{g}")
                };
                let from = if g == 1 {
                    teachers.clone()
                } else if *ensemble {
                    TeacherSet::weighted(
                        earlier.iter().map(|t| (t as &dyn Teacher, 1.0)).collect(),
                        experiment.teacher.combine,
                    )?
                } else {
                    TeacherSet::single(earlier.last().expect("g > 1"))
                };
                let seed = init_seed.wrapping_add(g as u64 - 1);
                let generation = Job {
                    role: &role,
                    spec: &s.model,
                    config: &config,
                    teachers: from,
                    init_seed: seed,
                };
                let model = train_role(experiment, data, device, generation, progress)?;
                earlier.push(FrozenTeacher::new(model));
            }
        }
        Pipeline::Mutual { .. } => {
            let mutual = experiment.pipeline.mutual().expect("mutual pipeline");
            train_mutual(
                experiment, data, device, &config, &teachers, &mutual, init_seed, progress,
            )?;
        }
    }
    let stale = run.role("quantized");
    if stale.exists() {
        std::fs::remove_dir_all(&stale)
            .with_context(|| format!("removing the stale int8 copy {}", stale.display()))?;
        log::info!(
            "removed {}: it was made from the previous student (run `quantize` again)",
            stale.display()
        );
    }
    write_model_card(experiment, &run, data, None)?;
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
#[allow(clippy::too_many_arguments)]
fn train_mutual(
    experiment: &Experiment,
    data: &Prepared,
    device: &Device,
    config: &TrainerConfig,
    teachers: &TeacherSet<'_>,
    mutual: &dark_knowledge_train::MutualConfig,
    init_seed: u64,
    progress: Progress,
) -> Result<()> {
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
    let run = RunDir(experiment.output_dir.clone());
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
        save_trained(&run, &role, spec, data, &out.best, &metrics)?;
    }
    Ok(())
}
