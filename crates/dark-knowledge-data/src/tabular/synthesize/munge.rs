//! MUNGE (Bucilă, Caruana & Niculescu-Mizil 2006).

use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use super::SynthesizerConfig;
use super::model::{Table, Value, parallel_map, row_distance, standard_normal, stream};

/// `count` rows: passes over the training rows, each a perturbed copy of them; the last pass
/// contributes a seeded sample of its rows when fewer are needed.
pub(super) fn generate(
    table: &Table,
    config: &SynthesizerConfig,
    count: usize,
    seed: u64,
) -> Vec<Vec<Value>> {
    let n = table.rows.len();
    let neighbours = nearest_neighbours(table);
    let (p, s) = (config.swap_probability(), config.spread());
    let mut out = Vec::with_capacity(count);
    for pass in 0..count.div_ceil(n) {
        let mut rng = stream(seed, pass as u64);
        let mut rows = table.rows.clone();
        for (e, &other) in neighbours.iter().enumerate() {
            if other != e {
                perturb(table, &mut rows, (e, other), (p, s), &mut rng);
            }
        }
        let need = (count - out.len()).min(n);
        if need == n {
            out.extend(rows);
        } else {
            let mut picked = sample(&mut rng, n, need).into_vec();
            picked.sort_unstable();
            out.extend(picked.into_iter().map(|i| rows[i].clone()));
        }
    }
    out
}

/// Each training row's nearest other training row (the first of equally near ones; itself
/// when it is the only row).
fn nearest_neighbours(table: &Table) -> Vec<usize> {
    let rows = &table.rows;
    parallel_map(rows.len(), |i| {
        let mut best = (f64::INFINITY, i);
        for (j, r) in rows.iter().enumerate() {
            if j != i {
                let d = row_distance(&rows[i], r);
                if d < best.0 {
                    best = (d, j);
                }
            }
        }
        best.1
    })
}

/// MUNGE's step for the row `e` and its neighbour `o`: each column, with probability `p`,
/// is swapped (categories, missing numbers) or redrawn around the other row's value with
/// standard deviation `|e_a − o_a| / s` (two numbers), both rows changed.
fn perturb(
    table: &Table,
    rows: &mut [Vec<Value>],
    (e, o): (usize, usize),
    (p, s): (f64, f64),
    rng: &mut StdRng,
) {
    let (re, ro) = if e < o {
        let (head, tail) = rows.split_at_mut(o);
        (&mut head[e], &mut tail[0])
    } else {
        let (head, tail) = rows.split_at_mut(e);
        (&mut tail[0], &mut head[o])
    };
    for (a, (x, y)) in re.iter_mut().zip(ro.iter_mut()).enumerate() {
        if rng.random_range(0.0..1.0) >= p {
            continue;
        }
        let (new_x, new_y) = match (*x, *y) {
            (Value::Num(u), Value::Num(v)) => {
                let sd = (u - v).abs() / s;
                let new_x = table.settle(a, v + sd * standard_normal(rng));
                let new_y = table.settle(a, u + sd * standard_normal(rng));
                (new_x, new_y)
            }
            (u, v) => (v, u),
        };
        *x = new_x;
        *y = new_y;
    }
}
