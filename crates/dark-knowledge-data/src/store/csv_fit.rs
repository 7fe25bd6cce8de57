//! From a [`Scan`] to the encoder [`TabularEncoder::fit`] gives on all rows, reading the CSV
//! again where exact statistics need it.
//!
//! The decisions replicate `tabular/column.rs` (`fit_numeric`, `fit_categorical`,
//! `mean_std`) on streamed state. The mean and the variance are computed with the same
//! operations in the same order as `mean_std` (a sum in file order, then a sum of squared
//! deviations from that mean), so they are equal bit for bit; a one-pass (Welford) update
//! would differ in the last bits, which changes some encoded `f32` values.

use std::collections::BTreeSet;
use std::path::Path;

use super::csv::{CsvPass, CsvProgress, CsvStoreOptions, run_pass};
use super::csv_records::line_in;
use super::csv_scan::{ColumnScan, LevelScan, Role, Scan, sum_start};
use super::error::{Result, StoreError};
use crate::tabular::{
    ColumnTransform, CsvTable, EncodedColumn, FORMAT_VERSION, PersonalColumn, PersonalScan,
    TabularConfig, TabularEncoder, TabularError, TargetEncoding, judge_levels, number,
};

/// Where a numeric column's mean and standard deviation stand.
#[derive(Debug, Clone, Copy)]
enum Moments {
    /// Needs the sum of `x / scale` (scaled when some |x| > 1e100, as `mean_std` does).
    Sum { scale: f64, acc: f64 },
    /// Needs the sum of `(x / scale - mean)²`.
    Var { scale: f64, mean: f64, acc: f64 },
    /// Known.
    Done { mean: f64, std: f64 },
}

/// The fate of one column.
enum Plan {
    /// The target column.
    Target,
    /// Left out, with the reason.
    Drop(String),
    /// Numeric, with `count` numbers in the file.
    Numeric {
        moments: Moments,
        count: usize,
        missing_indicator: bool,
        /// The personal-data counts, gathered in the first statistics pass.
        personal: PersonalScan,
        /// Whether that pass is done.
        personal_done: bool,
    },
    /// Categorical; its levels are gathered again when the scan gave them up.
    Categorical(LevelScan),
}

impl Plan {
    fn needs_pass(&self) -> bool {
        match self {
            Plan::Numeric { moments, .. } => !matches!(moments, Moments::Done { .. }),
            Plan::Categorical(levels) => !levels.complete,
            Plan::Target | Plan::Drop(_) => false,
        }
    }

    /// Adds one cell in a statistics pass; `false` for a value the scan did not see.
    fn add(&mut self, cell: Option<&str>, seen: &mut usize) -> bool {
        match self {
            Plan::Numeric {
                moments,
                personal,
                personal_done,
                ..
            } if !matches!(moments, Moments::Done { .. }) => {
                let x = match number(cell) {
                    Ok(Some(x)) => x,
                    Ok(None) => return true,
                    Err(_) => return false,
                };
                *seen += 1;
                if let (false, Some(text)) = (*personal_done, cell) {
                    personal.add(text);
                }
                match moments {
                    Moments::Sum { scale, acc } => *acc += x / *scale,
                    Moments::Var { scale, mean, acc } => *acc += (x / *scale - *mean).powi(2),
                    Moments::Done { .. } => {}
                }
            }
            Plan::Categorical(levels) if !levels.complete => {
                if let Some(v) = cell {
                    *seen += 1;
                    if !levels.levels.contains(v) {
                        levels.levels.insert(v.to_string());
                    }
                }
            }
            Plan::Numeric { .. } | Plan::Categorical(_) | Plan::Target | Plan::Drop(_) => {}
        }
        true
    }

    /// Ends a statistics pass that saw `seen` values; `false` when the scan counted others.
    fn finish_pass(&mut self, seen: usize) -> bool {
        match self {
            Plan::Numeric {
                moments,
                count,
                personal_done,
                ..
            } if !matches!(moments, Moments::Done { .. }) => {
                *personal_done = true;
                let n = *count as f64;
                *moments = match *moments {
                    Moments::Sum { scale, acc } => Moments::Var {
                        scale,
                        mean: acc / n,
                        acc: sum_start(),
                    },
                    Moments::Var { scale, mean, acc } => {
                        let std = (acc / n).sqrt() * scale;
                        let std = if std > 0.0 && std.is_finite() {
                            std
                        } else {
                            1.0
                        };
                        Moments::Done {
                            mean: mean * scale,
                            std,
                        }
                    }
                    done @ Moments::Done { .. } => done,
                };
                seen == *count
            }
            Plan::Categorical(levels) if !levels.complete => {
                levels.complete = true;
                seen == levels.present
            }
            _ => true,
        }
    }

    /// The column's transform, or why it is dropped (a column that looks like personal data
    /// when `check_personal`, as `TabularEncoder::fit` decides, is also added to `personal`);
    /// `None` for the target. Requires the statistics passes to be done.
    fn fitted(
        self,
        name: &str,
        rows: usize,
        config: &TabularConfig,
        check_personal: bool,
        personal: &mut Vec<PersonalColumn>,
    ) -> Option<std::result::Result<ColumnTransform, String>> {
        let (fitted, flagged) = match self {
            Plan::Target => return None,
            Plan::Drop(reason) => (Err(reason), None),
            Plan::Numeric {
                moments,
                missing_indicator,
                personal: scan,
                ..
            } => {
                let Moments::Done { mean, std } = moments else {
                    unreachable!("the statistics passes run until every mean and std is known")
                };
                let transform = ColumnTransform::Numeric {
                    mean,
                    std,
                    missing_indicator,
                };
                (
                    Ok(transform),
                    check_personal.then(|| scan.judge(name, None)),
                )
            }
            Plan::Categorical(levels) => {
                let present = levels.present;
                let fitted = categorical(levels, rows, config);
                let flagged = match (&fitted, check_personal) {
                    (Ok(ColumnTransform::Categorical { levels }), true) => Some(judge_levels(
                        name,
                        levels.iter().map(String::as_str),
                        present,
                    )),
                    _ => None,
                };
                (fitted, flagged)
            }
        };
        match (fitted, flagged.flatten()) {
            (Ok(_), Some(p)) => {
                let reason = p.drop_reason();
                personal.push(p);
                Some(Err(reason))
            }
            (fitted, _) => Some(fitted),
        }
    }
}

/// Fits the encoder from the scan of the CSV at `path`, reading it again as needed; returns
/// the encoder and the number of statistics passes made.
pub(crate) fn fit_encoder(
    scan: Scan,
    path: &Path,
    config: &TabularConfig,
    options: &CsvStoreOptions,
    progress: &mut dyn FnMut(CsvProgress),
) -> Result<(TabularEncoder, usize)> {
    let Scan {
        headers,
        target,
        columns,
        labels,
        first_unlabeled,
        rows,
        ..
    } = scan;
    if rows == 0 {
        return Err(TabularError::NoDataRows.into());
    }
    if let (false, Some(offset)) = (options.missing_target_is_unlabeled, first_unlabeled) {
        return Err(TabularError::MissingTarget {
            line: line_in(path, offset)?,
            column: headers[target].clone(),
        }
        .into());
    }
    let target = target_encoding(&headers[target], labels, config)?;
    let mut plans = Vec::with_capacity(columns.len());
    for (scan, name) in columns.into_iter().zip(&headers) {
        plans.push(plan(scan, rows, config, path, name)?);
    }
    let passes = statistics_passes(&mut plans, path, &headers, rows, progress)?;
    let keep = config.resolve(&header_table(&headers))?.keep_personal;
    let (mut columns, mut dropped, mut dropped_personal) = (Vec::new(), Vec::new(), Vec::new());
    for (col, (plan, name)) in plans.into_iter().zip(&headers).enumerate() {
        let check = config.columns.drop_personal && !keep.contains(&col);
        match plan.fitted(name, rows, config, check, &mut dropped_personal) {
            None => {}
            Some(Ok(transform)) => columns.push(EncodedColumn {
                name: name.clone(),
                transform,
            }),
            Some(Err(reason)) => dropped.push((name.clone(), reason)),
        }
    }
    if columns.is_empty() {
        return Err(TabularError::NoFeatures { dropped }.into());
    }
    let encoder = TabularEncoder {
        format_version: FORMAT_VERSION,
        target,
        columns,
        dropped,
        dropped_personal,
    };
    Ok((encoder, passes))
}

/// Reads the CSV again until every plan is complete; returns the number of passes.
fn statistics_passes(
    plans: &mut [Plan],
    path: &Path,
    headers: &[String],
    rows: usize,
    progress: &mut dyn FnMut(CsvProgress),
) -> Result<usize> {
    let mut passes = 0;
    while plans.iter().any(Plan::needs_pass) {
        passes += 1;
        let mut seen = vec![0usize; plans.len()];
        let mut unexpected = None;
        run_pass(
            path,
            headers,
            rows,
            CsvPass::Statistics,
            progress,
            |records| {
                for (col, plan) in plans.iter_mut().enumerate() {
                    if !plan.add(records.cell(col), &mut seen[col]) && unexpected.is_none() {
                        unexpected = Some(col);
                    }
                }
                Ok(())
            },
        )?;
        let finished: Vec<bool> = plans
            .iter_mut()
            .zip(&seen)
            .map(|(plan, &seen)| plan.finish_pass(seen))
            .collect();
        if let Some(col) = unexpected.or_else(|| finished.iter().position(|ok| !ok)) {
            return Err(StoreError::CsvChanged {
                path: path.to_path_buf(),
                reason: format!("column {:?} holds other values than before", headers[col]),
            });
        }
    }
    Ok(passes)
}

/// A table holding only `headers`, to find configured columns by name as fitting does.
fn header_table(headers: &[String]) -> CsvTable {
    CsvTable {
        headers: headers.to_vec(),
        rows: Vec::new(),
        lines: Vec::new(),
    }
}

/// The classes depend only on the distinct labels: fitted on a table holding each once.
fn target_encoding(
    name: &str,
    labels: BTreeSet<String>,
    config: &TabularConfig,
) -> std::result::Result<TargetEncoding, TabularError> {
    let mut rows: Vec<Vec<Option<String>>> = labels.into_iter().map(|l| vec![Some(l)]).collect();
    if rows.is_empty() {
        // No label at all: one unlabelled row gives the error the whole table gives.
        rows.push(vec![None]);
    }
    let table = CsvTable {
        headers: vec![name.to_string()],
        lines: (2..rows.len() + 2).collect(),
        rows,
    };
    TargetEncoding::fit_partial(&table, &config.target, config.positive.as_deref())
}

/// What the scan says about a column: `fit_numeric`'s checks, or a categorical column.
fn plan(
    scan: ColumnScan,
    rows: usize,
    config: &TabularConfig,
    path: &Path,
    name: &str,
) -> Result<Plan> {
    if scan.role == Role::Target {
        return Ok(Plan::Target);
    }
    if scan.role == Role::Dropped {
        return Ok(Plan::Drop("listed in drop_columns".into()));
    }
    if !scan.is_numeric() {
        return Ok(Plan::Categorical(scan.cat));
    }
    let num = scan.num;
    if let Some((offset, bad)) = num.first_bad {
        return Err(bad.at(line_in(path, offset)?, name).into());
    }
    let missing = num.count < rows;
    if config.columns.drop_constant && !num.varied && (num.count == 0 || !missing) {
        return Ok(Plan::Drop(match num.first {
            None => "all values missing on the training rows".to_string(),
            Some(v) => format!("constant on the training rows (always {v})"),
        }));
    }
    let moments = if num.count == 0 {
        Moments::Done {
            mean: 0.0,
            std: 1.0,
        }
    } else if num.max_abs > 1e100 {
        Moments::Sum {
            scale: num.max_abs,
            acc: sum_start(),
        }
    } else {
        // Scale 1: the scan's sum is already the sum of x / 1.
        Moments::Var {
            scale: 1.0,
            mean: num.sum / num.count as f64,
            acc: sum_start(),
        }
    };
    Ok(Plan::Numeric {
        moments,
        count: num.count,
        missing_indicator: missing,
        personal: PersonalScan::default(),
        personal_done: false,
    })
}

/// `fit_categorical`'s decision on complete levels.
fn categorical(
    scan: LevelScan,
    rows: usize,
    config: &TabularConfig,
) -> std::result::Result<ColumnTransform, String> {
    let LevelScan {
        present, levels, ..
    } = scan;
    let missing = present < rows;
    if config.columns.drop_constant && levels.len() <= 1 && (levels.is_empty() || !missing) {
        return Err(match levels.first() {
            None => "all values missing on the training rows".to_string(),
            Some(v) => format!("constant on the training rows (always {v:?})"),
        });
    }
    if config.columns.drop_id_like && present >= 2 && levels.len() == present {
        return Err(format!(
            "identifier-like: all {present} training values are distinct"
        ));
    }
    Ok(ColumnTransform::Categorical {
        levels: levels.into_iter().collect(),
    })
}
