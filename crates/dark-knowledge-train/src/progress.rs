//! Progress reporting with an ETA: a bar on a terminal, one plain line per epoch elsewhere.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::history::EpochRecord;
use crate::observer::{StepEvent, TrainObserver};

/// How the trainer reports progress (always on standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// A progress bar when standard error is a terminal, plain lines otherwise.
    #[default]
    Auto,
    /// Always a progress bar.
    Bar,
    /// One line per epoch with the metrics and the estimated time left.
    Lines,
    /// Nothing.
    Silent,
}

pub(crate) struct Reporter {
    mode: Progress,
    bar: Option<ProgressBar>,
    start: Instant,
    epochs: usize,
    label: String,
}

impl Reporter {
    pub(crate) fn new(mode: Progress, label: &str, epochs: usize, steps_per_epoch: usize) -> Self {
        let mode = match mode {
            Progress::Auto if std::io::stderr().is_terminal() => Progress::Bar,
            Progress::Auto => Progress::Lines,
            other => other,
        };
        let bar = (mode == Progress::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some((epochs * steps_per_epoch) as u64),
                ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} steps, ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        Self {
            mode,
            bar,
            start: Instant::now(),
            epochs,
            label: label.to_string(),
        }
    }
}

/// The progress report is an observer of the first student.
impl TrainObserver for Reporter {
    fn step(&self, event: &StepEvent<'_>) {
        if let (0, Some(bar)) = (event.student, &self.bar) {
            bar.inc(1);
        }
    }

    fn epoch(&self, student: usize, record: &EpochRecord) {
        if student == 0 {
            self.epoch_done(record);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

impl Reporter {
    fn epoch_done(&self, record: &EpochRecord) {
        let summary = record.summary();
        match self.mode {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_message(summary);
                }
            }
            Progress::Lines => {
                let elapsed = self.start.elapsed();
                let eta =
                    elapsed.mul_f64((self.epochs - record.epoch) as f64 / record.epoch as f64);
                // A closed stderr is no reason to stop training: the line is dropped.
                let _ = writeln!(
                    std::io::stderr(),
                    "{} epoch {}/{} {} | elapsed {} ETA {}",
                    self.label,
                    record.epoch,
                    self.epochs,
                    summary,
                    fmt_duration(elapsed),
                    fmt_duration(eta)
                );
            }
            Progress::Auto | Progress::Silent => {}
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    }
}
