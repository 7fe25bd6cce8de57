//! The divergences and their gradients in f64 on the host, from their definitions.
//!
//! Log-probabilities are `d − ln_1p(Σ_{c≠top} e^{d_c})` with `d = (z − z_top) / T` (exact in
//! f64 for float32 logits), and every KL is `Σ_c a_c φ(log b_c − log a_c)` with
//! `φ(x) = e^x − 1 − x ≥ 0` — the textbook `Σ a log(a / b)` rearranged with `Σ b = 1`, so
//! nothing cancels and a KL of 1e-12 keeps its f64 digits. The gradients with respect to
//! the student's logits are analytic: for `D(p, q)` with `g = ∂D/∂q`,
//! `∂(T² D)/∂z_s,j = T · q_j (g_j − Σ_c q_c g_c)`; [`super::values`] checks them against
//! central differences.

use crate::loss::TokenDivergence;

/// `log softmax(z / T)`, exact for confident rows.
pub fn log_softmax(z: &[f64], t: f64) -> Vec<f64> {
    let top = (0..z.len()).fold(0, |best, c| if z[c] > z[best] { c } else { best });
    let d: Vec<f64> = z.iter().map(|&x| (x - z[top]) / t).collect();
    let rest: f64 = (0..z.len()).filter(|&c| c != top).map(|c| d[c].exp()).sum();
    d.iter().map(|x| x - rest.ln_1p()).collect()
}

/// `e^x − 1 − x`.
fn phi(x: f64) -> f64 {
    if x.abs() < 1e-3 {
        x * x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x / 120.0)))
    } else {
        x.exp_m1() - x
    }
}

/// `KL(a ‖ b)` from `log a` and the offsets `log b − log a`.
fn kl(log_a: &[f64], offsets: &[f64]) -> f64 {
    log_a
        .iter()
        .zip(offsets)
        .map(|(la, o)| la.exp() * phi(*o))
        .sum()
}

/// `ln(w + (1 − w) e^r)`: `log m − log a` for `m = w a + (1 − w) b`, `r = log b − log a`.
fn mix(r: f64, w: f64) -> f64 {
    if r.abs() < 1.0 {
        ((1.0 - w) * r.exp_m1()).ln_1p()
    } else {
        let (a, b) = (w.ln(), (1.0 - w).ln() + r);
        a.max(b) + (a.min(b) - a.max(b)).exp().ln_1p()
    }
}

/// The two log-softmaxes and `r = log q − log p`.
fn parts(zs: &[f64], zt: &[f64], t: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (lp, lq) = (log_softmax(zt, t), log_softmax(zs, t));
    let r = lq.iter().zip(&lp).map(|(q, p)| q - p).collect();
    (lp, lq, r)
}

fn neg(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| -v).collect()
}

/// `T² · D(softmax(zt / T), softmax(zs / T))`.
pub fn value(divergence: TokenDivergence, zs: &[f64], zt: &[f64], t: f64) -> f64 {
    use TokenDivergence as D;
    let (lp, lq, r) = parts(zs, zt, t);
    let mixed = |x: &[f64], w: f64| x.iter().map(|&x| mix(x, w)).collect::<Vec<_>>();
    let d = match divergence {
        D::ForwardKl | D::Jsd { beta: 0.0 } | D::SkewKl { lambda: 0.0 } => kl(&lp, &r),
        D::ReverseKl | D::Jsd { beta: 1.0 } | D::SkewReverseKl { lambda: 0.0 } => kl(&lq, &neg(&r)),
        D::Jsd { beta } => {
            beta * kl(&lp, &mixed(&r, beta)) + (1.0 - beta) * kl(&lq, &mixed(&neg(&r), 1.0 - beta))
        }
        D::SkewKl { lambda } => kl(&lp, &mixed(&r, lambda)),
        D::SkewReverseKl { lambda } => kl(&lq, &mixed(&neg(&r), lambda)),
        D::TotalVariation => {
            0.5 * lp
                .iter()
                .zip(&r)
                .map(|(lp, r)| (lp.exp() * r.exp_m1()).abs())
                .sum::<f64>()
        }
    };
    t * t * d
}

/// `∂(T² D)/∂zs`, analytic.
pub fn gradient(divergence: TokenDivergence, zs: &[f64], zt: &[f64], t: f64) -> Vec<f64> {
    use TokenDivergence as D;
    let (lp, lq, r) = parts(zs, zt, t);
    let q: Vec<f64> = lq.iter().map(|x| x.exp()).collect();
    // Forward KL: T (q − p) = T p expm1(r), without the cancellation of q − p.
    if matches!(
        divergence,
        D::ForwardKl | D::Jsd { beta: 0.0 } | D::SkewKl { lambda: 0.0 }
    ) {
        return lp
            .iter()
            .zip(&r)
            .map(|(lp, r)| t * lp.exp() * r.exp_m1())
            .collect();
    }
    // g = ∂D/∂q up to a constant (which cancels).
    let g: Vec<f64> = match divergence {
        D::ReverseKl | D::Jsd { beta: 1.0 } | D::SkewReverseKl { lambda: 0.0 } => r.clone(),
        // (1 − β) log(q / m)
        D::Jsd { beta } => r
            .iter()
            .map(|&r| -(1.0 - beta) * mix(-r, 1.0 - beta))
            .collect(),
        // −(1 − λ) p / m
        D::SkewKl { lambda } => r
            .iter()
            .map(|&r| -(1.0 - lambda) * (-mix(r, lambda)).exp())
            .collect(),
        // log(q / m) − λ q / m
        D::SkewReverseKl { lambda } => r
            .iter()
            .map(|&r| {
                let h = -mix(-r, lambda);
                h - lambda * h.exp()
            })
            .collect(),
        // ½ sign(q − p)
        D::TotalVariation => r.iter().map(|r| 0.5 * r.signum()).collect(),
        D::ForwardKl => unreachable!(),
    };
    let mean: f64 = q.iter().zip(&g).map(|(q, g)| q * g).sum();
    q.iter().zip(&g).map(|(q, g)| t * q * (g - mean)).collect()
}

/// The textbook definition, `Σ a log(a / b)` with plain probabilities, for moderate rows.
pub fn textbook(divergence: TokenDivergence, zs: &[f64], zt: &[f64], t: f64) -> f64 {
    use TokenDivergence as D;
    let softmax = |z: &[f64]| {
        log_softmax(z, t)
            .iter()
            .map(|x| x.exp())
            .collect::<Vec<_>>()
    };
    let (p, q) = (softmax(zt), softmax(zs));
    let kl = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * (a / b).ln()).sum::<f64>();
    let mixture = |w: f64, a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(a, b)| w * a + (1.0 - w) * b)
            .collect::<Vec<_>>()
    };
    let d = match divergence {
        D::ForwardKl => kl(&p, &q),
        D::ReverseKl => kl(&q, &p),
        D::Jsd { beta: 0.0 } => kl(&p, &q),
        D::Jsd { beta: 1.0 } => kl(&q, &p),
        D::Jsd { beta } => {
            let m = mixture(beta, &p, &q);
            beta * kl(&p, &m) + (1.0 - beta) * kl(&q, &m)
        }
        D::SkewKl { lambda } => kl(&p, &mixture(lambda, &p, &q)),
        D::SkewReverseKl { lambda } => kl(&q, &mixture(lambda, &q, &p)),
        D::TotalVariation => 0.5 * p.iter().zip(&q).map(|(p, q)| (p - q).abs()).sum::<f64>(),
    };
    t * t * d
}
