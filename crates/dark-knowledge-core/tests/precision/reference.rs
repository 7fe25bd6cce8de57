//! The formulas of `data/parity/README.md` (and of the top-k loss), written out in f64 over
//! dual numbers: the reference the float32 losses are held to. Log-probabilities come from a
//! max-shifted log-sum-exp, whose f64 rounding (~1e-16 · |z/T|) is far below the tolerance.

use super::dual::{D, sum};

pub type Rows = Vec<Vec<D>>;

fn log_sum_exp(row: &[D]) -> D {
    let m = row.iter().map(|x| x.v).fold(f64::NEG_INFINITY, f64::max);
    sum(row.iter().map(|&x| (x - D::c(m)).exp())).ln() + D::c(m)
}

fn log_softmax(row: &[D], t: f64) -> Vec<D> {
    let scaled: Vec<D> = row.iter().map(|&x| x / t).collect();
    let lse = log_sum_exp(&scaled);
    scaled.into_iter().map(|x| x - lse).collect()
}

/// KL(p ‖ q) from log-probabilities.
fn kl(log_p: &[D], log_q: &[D]) -> D {
    sum(log_p.iter().zip(log_q).map(|(&a, &b)| a.exp() * (a - b)))
}

fn batch_mean(values: impl IntoIterator<Item = D>, n: usize) -> D {
    sum(values) / n as f64
}

pub fn cross_entropy(zs: &Rows, y: &[usize]) -> D {
    batch_mean(
        zs.iter().zip(y).map(|(row, &y)| -log_softmax(row, 1.0)[y]),
        zs.len(),
    )
}

/// `T² · batchmean KL(p(zt;T) ‖ p(zs;T))`.
pub fn kd_term(zs: &Rows, zt: &Rows, t: f64) -> D {
    let per_row = zs
        .iter()
        .zip(zt)
        .map(|(s, tt)| kl(&log_softmax(tt, t), &log_softmax(s, t)));
    batch_mean(per_row, zs.len()) * (t * t)
}

pub fn kd(zs: &Rows, zt: &Rows, y: &[usize], t: f64, ce_weight: f64, kd_weight: f64) -> D {
    cross_entropy(zs, y) * ce_weight + kd_term(zs, zt, t) * kd_weight
}

pub fn dkd(zs: &Rows, zt: &Rows, y: &[usize], t: f64, alpha: f64, beta: f64) -> D {
    let binary = |row: &[D], y: usize| {
        let scaled: Vec<D> = row.iter().map(|&x| x / t).collect();
        let all = log_sum_exp(&scaled);
        let others: Vec<D> = (0..row.len())
            .filter(|&c| c != y)
            .map(|c| scaled[c])
            .collect();
        vec![scaled[y] - all, log_sum_exp(&others) - all]
    };
    let masked = |row: &[D], y: usize| {
        let shifted: Vec<D> = row
            .iter()
            .enumerate()
            .map(|(c, &x)| if c == y { x - D::c(1000.0 * t) } else { x })
            .collect();
        log_softmax(&shifted, t)
    };
    let n = zs.len();
    let tckd = batch_mean(
        (0..n).map(|i| kl(&binary(&zt[i], y[i]), &binary(&zs[i], y[i]))),
        n,
    );
    let nckd = batch_mean(
        (0..n).map(|i| kl(&masked(&zt[i], y[i]), &masked(&zs[i], y[i]))),
        n,
    );
    (tckd * alpha + nckd * beta) * (t * t)
}

/// Pearson correlation with each norm clamped below at 1e-8 in value only.
fn pearson(a: &[D], b: &[D]) -> D {
    let centre = |x: &[D]| {
        let mean = sum(x.iter().copied()) / x.len() as f64;
        x.iter().map(|&v| v - mean).collect::<Vec<_>>()
    };
    let (a, b) = (centre(a), centre(b));
    let norm = |x: &[D]| sum(x.iter().map(|&v| v * v)).sqrt_norm().lift(1e-8);
    sum(a.iter().zip(&b).map(|(&p, &q)| p * q)) / (norm(&a) * norm(&b))
}

pub fn dist(zs: &Rows, zt: &Rows, tau: f64, beta: f64, gamma: f64) -> D {
    let probs = |rows: &Rows| -> Rows {
        rows.iter()
            .map(|r| log_softmax(r, tau).into_iter().map(D::exp).collect())
            .collect()
    };
    let (ys, yt) = (probs(zs), probs(zt));
    let (n, c) = (ys.len(), ys[0].len());
    let inter = batch_mean((0..n).map(|i| pearson(&ys[i], &yt[i])), n);
    let column = |m: &Rows, j: usize| m.iter().map(|r| r[j]).collect::<Vec<_>>();
    let intra = batch_mean((0..c).map(|j| pearson(&column(&ys, j), &column(&yt, j))), c);
    let scale = tau * tau;
    (D::c(1.0) - inter) * (beta * scale) + (D::c(1.0) - intra) * (gamma * scale)
}

fn standardize(row: &[D]) -> Vec<D> {
    let c = row.len();
    let mean = sum(row.iter().copied()) / c as f64;
    let centred: Vec<D> = row.iter().map(|&x| x - mean).collect();
    let std = (sum(centred.iter().map(|&x| x * x)) / (c - 1) as f64).sqrt();
    centred
        .into_iter()
        .map(|x| x / (std + D::c(1e-7)))
        .collect()
}

pub fn lskd(zs: &Rows, zt: &Rows, t: f64) -> D {
    let (s, tt): (Rows, Rows) = (
        zs.iter().map(|r| standardize(r)).collect(),
        zt.iter().map(|r| standardize(r)).collect(),
    );
    kd_term(&s, &tt, t)
}

/// Top-k KD: `T² · batchmean KL` over the teacher's k most likely classes plus one bin.
pub fn top_k(zs: &Rows, zt: &Rows, k: usize, t: f64) -> D {
    let per_row = zs.iter().zip(zt).map(|(s, tt)| {
        let mut order: Vec<usize> = (0..tt.len()).collect();
        order.sort_by(|&a, &b| tt[b].v.total_cmp(&tt[a].v));
        let (top, rest) = order.split_at(k);
        let bins = |z: &[D]| {
            let mut b: Vec<D> = top.iter().map(|&i| z[i]).collect();
            let r: Vec<D> = rest.iter().map(|&i| z[i] / t).collect();
            b.push(log_sum_exp(&r) * t);
            log_softmax(&b, t)
        };
        kl(&bins(tt), &bins(s))
    });
    batch_mean(per_row, zs.len()) * (t * t)
}
