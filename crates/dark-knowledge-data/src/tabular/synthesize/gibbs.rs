//! Gibbs-style per-column resampling among nearest neighbours (after Fakoor et al. 2020,
//! FAST-DAD).

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::SynthesizerConfig;
use super::model::{Table, Value, cell_distance, parallel_map, row_distance, stream};

/// `count` rows, each from its own seeded generator (row `r` uses stream `r`).
pub(super) fn generate(
    table: &Table,
    config: &SynthesizerConfig,
    count: usize,
    seed: u64,
) -> Vec<Vec<Value>> {
    let k = config.neighbors().min(table.rows.len());
    let rounds = config.rounds();
    // Column-major: each step reads one column of every training row.
    let columns: Vec<Column> = (0..table.num_columns())
        .map(|a| Column::of(table.rows.iter().map(|r| r[a])))
        .collect();
    parallel_map(count, |r| {
        let mut rng = stream(seed, r as u64);
        sample_row(table, &columns, (k, rounds), &mut rng)
    })
}

/// One column of every training row: numbers (NaN = missing) or categorical slots.
enum Column {
    Numbers(Vec<f64>),
    Slots(Vec<usize>),
}

impl Column {
    fn of(values: impl Iterator<Item = Value>) -> Self {
        let values: Vec<Value> = values.collect();
        if values.iter().any(|v| matches!(v, Value::Slot(_))) {
            Self::Slots(
                values
                    .iter()
                    .map(|v| {
                        if let Value::Slot(s) = v {
                            *s
                        } else {
                            usize::MAX
                        }
                    })
                    .collect(),
            )
        } else {
            Self::Numbers(
                values
                    .iter()
                    .map(|v| if let Value::Num(z) = v { *z } else { f64::NAN })
                    .collect(),
            )
        }
    }

    /// Row `j`'s value.
    fn value(&self, j: usize) -> Value {
        match self {
            Self::Numbers(v) if v[j].is_nan() => Value::Missing,
            Self::Numbers(v) => Value::Num(v[j]),
            Self::Slots(v) => Value::Slot(v[j]),
        }
    }

    /// Adds `sign ×` the distance from `x` to each row's value to `dist`, as
    /// [`cell_distance`] measures it.
    fn add_distances(&self, x: Value, sign: f64, dist: &mut [f64]) {
        match (self, x) {
            (Self::Numbers(v), Value::Num(x)) => {
                for (d, &y) in dist.iter_mut().zip(v) {
                    *d += sign * if y.is_nan() { 1.0 } else { (x - y) * (x - y) };
                }
            }
            (Self::Slots(v), Value::Slot(x)) => {
                for (d, &y) in dist.iter_mut().zip(v) {
                    *d += sign * f64::from(u8::from(x != y));
                }
            }
            (column, x) => {
                for (j, d) in dist.iter_mut().enumerate() {
                    *d += sign * cell_distance(x, column.value(j));
                }
            }
        }
    }
}

/// One row: a random training row, then `rounds` sweeps over the columns in random order,
/// each column taking the value of one of the `k` training rows nearest on the other
/// columns (ties broken by row order).
fn sample_row(
    table: &Table,
    columns: &[Column],
    (k, rounds): (usize, usize),
    rng: &mut StdRng,
) -> Vec<Value> {
    let n = table.rows.len();
    let mut x = table.rows[rng.random_range(0..n)].clone();
    // Distance from `x` to every training row over all columns, kept up to date.
    let mut dist: Vec<f64> = table.rows.iter().map(|r| row_distance(&x, r)).collect();
    let mut near: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
    let mut order: Vec<usize> = (0..columns.len()).collect();
    for _ in 0..rounds {
        order.shuffle(rng);
        for &a in &order {
            // `dist` becomes the distance over the other columns, then over all again.
            columns[a].add_distances(x[a], -1.0, &mut dist);
            nearest(&dist, k, &mut near);
            x[a] = columns[a].value(near[rng.random_range(0..near.len())].1);
            columns[a].add_distances(x[a], 1.0, &mut dist);
        }
    }
    x
}

/// The `k` smallest of `dist` as `(distance, index)`, ordered by distance then index, in
/// one pass (a row replaces the current `k`-th only when strictly nearer).
fn nearest(dist: &[f64], k: usize, near: &mut Vec<(f64, usize)>) {
    near.clear();
    for (j, &d) in dist.iter().enumerate() {
        if near.len() == k && d >= near[k - 1].0 {
            continue;
        }
        let at = near.partition_point(|p| p.0 <= d);
        if near.len() == k {
            near.pop();
        }
        near.insert(at, (d, j));
    }
}
