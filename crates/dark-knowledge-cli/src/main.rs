//! `dark-knowledge`: knowledge distillation from the command line.
//!
//! - `dark-knowledge demo` — teacher, baseline and distilled student on the embedded churn
//!   data (or `--csv`, or `--dataset fashion-mnist`), with a comparison report;
//! - `dark-knowledge train-teacher | distill | evaluate --config EXPERIMENT.toml`;
//! - `dark-knowledge cache-teacher --config EXPERIMENT.toml` — the teacher's logits, once;
//!   `distill --teacher-cache FILE` or `--teacher-logits FILE.npy` distill from them;
//! - `dark-knowledge quantize --run RUN` — an int8 copy of the student, added to the report;
//! - `dark-knowledge predict --run RUN --csv NEW.csv | --data-dir IDX_DIR --out scores.csv`
//!   (with a drift report beside the scores); `dark-knowledge drift --run RUN --csv NEW.csv`;
//! - `dark-knowledge sweep --config SWEEP.toml`, `dark-knowledge reproduce STUDY --out DIR` —
//!   many runs over seeds and settings, summarised as mean ± std.

mod args;
mod lm;
mod log_lines;
mod out;

use std::path::PathBuf;

use clap::Parser;

use crate::args::{Cli, Command, DatasetArg, DtypeArg};
use crate::out::{errln, outln};
use dark_knowledge_experiment::{
    Context, Experiment, Result, ResumeOptions, Workflow, bail, bench, predict, quantize_run, run,
    study,
};
use dark_knowledge_train::Progress;

fn fresh_run_dir(prefix: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = PathBuf::from("runs");
    let mut dir = base.join(format!("{prefix}-{secs}"));
    let mut i = 1;
    while dir.exists() {
        dir = base.join(format!("{prefix}-{secs}-{i}"));
        i += 1;
    }
    dir
}

/// The experiment file at `config` with the resume flags applied, its data prepared.
fn workflow(
    config: &std::path::Path,
    flags: &ResumeOptions,
    progress: Progress,
) -> Result<Workflow> {
    let mut experiment = Experiment::load(config)?;
    flags.apply(&mut experiment);
    Ok(Workflow::new(experiment)?.with_progress(progress))
}

fn main() {
    // burn restores an optimizer's state (`--resume`) on `Device::default()`, which is wgpu
    // whenever wgpu is compiled in, even on a machine without a GPU; the state moves to the
    // model's device at the next step either way. Every device of ours is chosen by name, so
    // the default only matters there: make it the CPU unless the user chose one.
    let cpu = if cfg!(feature = "flex") {
        Some("flex")
    } else if cfg!(feature = "ndarray") {
        Some("ndarray")
    } else {
        None
    };
    if let (None, Some(cpu)) = (std::env::var_os("BURN_DEVICE"), cpu) {
        // SAFETY: at the start of `main`, before any thread is spawned; nothing reads the
        // environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("BURN_DEVICE", cpu);
        }
    }
    let cli = Cli::try_parse().unwrap_or_else(|e| out::clap_exit(&e));
    log_lines::install();
    if let Err(e) = run_cli(cli) {
        out::fail(&e);
    }
}

fn run_cli(cli: Cli) -> Result<()> {
    let progress: Progress = cli.progress.into();
    match cli.command {
        Command::Demo {
            csv,
            target,
            positive,
            dataset,
            data_dir,
            device,
            seed,
            out,
            epochs,
            max_train_rows,
            slice_by,
            checkpoints,
        } => {
            if checkpoints.resume && out.is_none() {
                bail!("--resume needs --out DIR: the run folder of the demo to resume");
            }
            let mut experiment = match (csv, dataset) {
                (Some(path), _) => {
                    let Some(target) = target else {
                        bail!("--csv needs --target COLUMN, the label column")
                    };
                    let out = out.unwrap_or_else(|| fresh_run_dir("demo-csv"));
                    Experiment::csv_demo(out, seed, device, path, target, positive)
                }
                (None, Some(DatasetArg::FashionMnist)) => {
                    let dir = data_dir.unwrap_or_else(|| {
                        dark_knowledge_data::idx::DEFAULT_FASHION_MNIST_DIR.into()
                    });
                    let out = out.unwrap_or_else(|| fresh_run_dir("demo-fashion-mnist"));
                    Experiment::fashion_demo(out, seed, device, dir)
                }
                (None, _) => Experiment::churn_demo(
                    out.unwrap_or_else(|| fresh_run_dir("demo-churn")),
                    seed,
                    device,
                ),
            };
            if let Some(e) = epochs {
                experiment.teacher.train.epochs = e;
                experiment.student.train.epochs = e;
            }
            if max_train_rows.is_some() {
                experiment.data.max_train_rows = max_train_rows;
            }
            checkpoints.apply(&mut experiment);
            set_slice_by(&mut experiment, slice_by)?;
            demo(experiment, progress)
        }
        Command::TrainTeacher {
            config,
            checkpoints,
        } => {
            let workflow = workflow(&config, &checkpoints, progress)?;
            workflow.train_teacher()?;
            errln!(
                "teacher saved in {}",
                workflow.output_dir().join("teacher").display()
            );
            Ok(())
        }
        Command::Distill {
            config,
            teacher_cache,
            teacher_logits,
            tensor,
            checkpoints,
        } => {
            let workflow = workflow(&config, &checkpoints, progress)?;
            let source = match (teacher_cache, teacher_logits) {
                (Some(path), _) => run::TeacherSource::Cache(path),
                (None, Some(path)) => run::TeacherSource::Logits { path, tensor },
                (None, None) => run::TeacherSource::Model,
            };
            workflow.distill(&source)?;
            errln!("students saved in {}", workflow.output_dir().display());
            Ok(())
        }
        Command::CacheTeacher {
            config,
            out,
            dtype,
            top_k,
        } => {
            let dtype = match dtype {
                DtypeArg::F32 => dark_knowledge_data::cache::CacheDtype::F32,
                DtypeArg::F16 => dark_knowledge_data::cache::CacheDtype::F16,
            };
            let out = Workflow::load(&config)?.cache_teacher(out, dtype, top_k)?;
            errln!(
                "teacher logits cached in {} ({} bytes)",
                out.display(),
                std::fs::metadata(&out).map_or(0, |m| m.len())
            );
            Ok(())
        }
        Command::Sweep {
            config,
            checkpoints,
        } => {
            let outcome = study::sweep::sweep(&config, &checkpoints)?;
            outln!("{}", outcome.markdown());
            Ok(())
        }
        Command::Replicate {
            seeds,
            out,
            config,
            csv,
            target,
            positive,
            device,
        } => {
            let experiment = match (config, csv) {
                (Some(config), _) => Experiment::load(&config)?,
                (None, Some(path)) => {
                    let Some(target) = target else {
                        bail!("--csv needs --target COLUMN, the label column")
                    };
                    Experiment::csv_demo(out.clone(), 0, device, path, target, positive)
                }
                (None, None) => Experiment::churn_demo(out.clone(), 0, device),
            };
            let options = study::replicate::ReplicateOptions {
                experiment,
                seeds,
                out,
                progress,
            };
            let replication = study::replicate::replicate(&options)?;
            outln!("{}", replication.markdown());
            Ok(())
        }
        Command::LmStudy(args) => lm::lm_study(args),
        Command::Reproduce(options) => {
            let outcome = study::reproduce::reproduce(&options)?;
            outln!("{}", outcome.markdown());
            Ok(())
        }
        Command::Bench {
            device,
            data_dir,
            out,
            teacher_rows,
            student_rows,
            repeats,
        } => {
            let result = bench::bench(&bench::BenchSettings {
                device,
                data_dir,
                teacher_rows,
                student_rows,
                repeats,
            })?;
            let text = serde_json::to_string_pretty(&result)?;
            outln!("{text}");
            if let Some(out) = out {
                dark_knowledge_core::io::write_atomic(&out, text.as_bytes())
                    .with_context(|| format!("writing {}", out.display()))?;
                errln!("bench: written to {}", out.display());
            }
            Ok(())
        }
        Command::Quantize { run, model, device } => {
            let (info, report) = quantize_run(&run, &model, device.as_deref())?;
            errln!(
                "quantized: {} saved in {}",
                info.description,
                run.join("quantized").display()
            );
            if let Some(report) = report {
                print_report(&report, &run)?;
            }
            Ok(())
        }
        Command::Predict {
            run,
            model,
            csv,
            data_dir,
            split,
            out,
            on_bad_row,
            allow_missing_columns,
            no_drift,
            uncalibrated,
            device,
        } => {
            let device = dark_knowledge_core::device_from_name(&device)?;
            let options = predict::PredictOptions {
                on_bad_row,
                missing_columns: if allow_missing_columns {
                    predict::MissingColumns::ScoreAsMissing
                } else {
                    predict::MissingColumns::Refuse
                },
                drift: !no_drift,
                calibrated: !uncalibrated,
            };
            let summary = match (csv, data_dir) {
                (Some(csv), _) => {
                    predict::predict_with(&run, &model, &csv, &out, &options, &device)?
                }
                (None, Some(dir)) => {
                    let calibrated = !uncalibrated;
                    predict::predict_images_with(
                        &run, &model, &dir, split, &out, calibrated, &device,
                    )?
                }
                (None, None) => bail!("pass --csv FILE or --data-dir DIR"),
            };
            errln!(
                "scored {} rows into {} ({} skipped)",
                summary.scored,
                out.display(),
                summary.skipped
            );
            print_predict_notes(&summary);
            Ok(())
        }
        Command::Drift {
            run,
            csv,
            model,
            out,
            device,
        } => drift_command(&run, &csv, model.as_deref(), out.as_deref(), &device),
        Command::Evaluate { config, slice_by } => {
            let mut experiment = Experiment::load(&config)?;
            set_slice_by(&mut experiment, slice_by)?;
            let workflow = Workflow::new(experiment)?;
            print_report(&workflow.evaluate()?, workflow.output_dir())?;
            Ok(())
        }
    }
}

/// Applies `--slice-by` (empty names dropped, so `--slice-by ""` slices by nothing) and
/// checks the columns exist before anything runs.
/// What `predict` adds to its count: the calibration and the drift summary.
fn print_predict_notes(summary: &predict::PredictSummary) {
    if let Some(t) = summary.temperature {
        errln!("calibrated probabilities (temperature {t})");
    }
    if let Some(report) = &summary.drift {
        errln!("{}", dark_knowledge_experiment::drift::summary_line(report));
    }
    if let Some((json, md)) = &summary.drift_files {
        errln!("drift report: {} and {}", json.display(), md.display());
    }
}

/// `drift`: the report of `csv` against the run (with `model`'s score when given), printed
/// as Markdown and written as JSON to `out`.
fn drift_command(
    run: &std::path::Path,
    csv: &std::path::Path,
    model: Option<&str>,
    out: Option<&std::path::Path>,
    device: &str,
) -> Result<()> {
    use dark_knowledge_experiment::drift;
    let report = match model {
        Some(role) => {
            let device = dark_knowledge_core::device_from_name(device)?;
            let options = predict::PredictOptions::default();
            predict::drift_with_model(run, role, csv, &options, &device)?
        }
        None => drift::drift(run, csv)?,
    };
    if let Some(out) = out {
        let real = |a: &std::path::Path| a.canonicalize().ok();
        if real(out).is_some() && real(out) == real(csv) {
            bail!(
                "--out {} is the input file; pick another path",
                out.display()
            );
        }
        let text = serde_json::to_string_pretty(&report)?;
        dark_knowledge_core::io::write_atomic(out, text.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    outln!("{}", report.to_markdown());
    errln!("{}", drift::summary_line(&report));
    Ok(())
}

fn set_slice_by(experiment: &mut Experiment, slice_by: Option<Vec<String>>) -> Result<()> {
    if let Some(columns) = slice_by {
        experiment.evaluation.slice_by = columns
            .into_iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        experiment.evaluation.validate()?;
    }
    dark_knowledge_experiment::run::check_slice_columns(experiment)?;
    Ok(())
}

fn demo(experiment: Experiment, progress: Progress) -> Result<()> {
    let started = std::time::Instant::now();
    let workflow = Workflow::new(experiment)?.with_progress(progress);
    let report = workflow.demo()?;
    let dir = workflow.output_dir();
    outln!("\n{}", report.comparison_table());
    outln!(
        "majority-class rate on the test split: {:.2} %",
        100.0 * report.dataset.majority_class_rate
    );
    outln!(
        "report: {} and {} ({:.0} s)",
        dir.join("report.json").display(),
        dir.join("report.md").display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Prints the comparison table and where the report is.
fn print_report(report: &dark_knowledge_eval::Report, dir: &std::path::Path) -> Result<()> {
    outln!("{}", report.comparison_table());
    errln!("report written to {}", dir.join("report.md").display());
    Ok(())
}
