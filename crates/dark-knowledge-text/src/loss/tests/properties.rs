//! The identities and bounds of the divergences.

use burn::tensor::{Bool, Device, Tensor, TensorData};
use dark_knowledge_core::tensor_util::to_vec_f32;

use super::{Case, all_divergences, loss, matrix};
use crate::Error;
use crate::loss::TokenDivergence as D;

/// Values and gradient bits of `a` and `b` on the same case are equal.
fn assert_same(a: D, b: D, t: f64, case: &Case) {
    let (va, ga) = case.run(&loss(a, t));
    let (vb, gb) = case.run(&loss(b, t));
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&va), bits(&vb), "{a:?} vs {b:?} at T {t}");
    assert_eq!(bits(&ga), bits(&gb), "{a:?} vs {b:?} at T {t}: gradients");
}

#[test]
fn the_end_points_are_the_plain_kls_exactly() {
    for seed in 0..24 {
        let case = Case::random(seed);
        for t in [1.0, 2.0] {
            assert_same(D::Jsd { beta: 0.0 }, D::ForwardKl, t, &case);
            assert_same(D::Jsd { beta: 1.0 }, D::ReverseKl, t, &case);
            assert_same(D::SkewKl { lambda: 0.0 }, D::ForwardKl, t, &case);
            assert_same(D::SkewReverseKl { lambda: 0.0 }, D::ReverseKl, t, &case);
        }
    }
}

#[test]
fn a_tiny_skew_is_close_to_the_plain_kl() {
    // KL(p ‖ λp + (1−λ)q) is continuous at λ = 0 (unlike the JSD's end points): the general
    // (mixture) code path at λ = 1e-6 is within ~λ · max(p/q) of the plain KL.
    for seed in (1..40).step_by(4) {
        let mut case = Case::random(seed);
        case.zs.iter_mut().for_each(|z| *z = z.clamp(-4.0, 4.0));
        case.zt.iter_mut().for_each(|z| *z = z.clamp(-4.0, 4.0));
        for (skew, plain) in [
            (D::SkewKl { lambda: 1e-6 }, D::ForwardKl),
            (D::SkewReverseKl { lambda: 1e-6 }, D::ReverseKl),
        ] {
            let (a, _) = case.run(&loss(skew, 1.0));
            let (b, _) = case.run(&loss(plain, 1.0));
            for (a, b) in a.iter().zip(&b) {
                assert!(
                    (a - b).abs() <= 1e-3 * b.abs() + 1e-7,
                    "{skew:?} seed {seed}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn the_jsd_at_one_half_is_symmetric_and_at_most_ln_2() {
    for seed in 0..40 {
        let case = Case::random(seed);
        let swapped = Case {
            zs: case.zt.clone(),
            zt: case.zs.clone(),
            ..case.clone()
        };
        let kd = loss(D::Jsd { beta: 0.5 }, 1.0);
        let (a, _) = case.run(&kd);
        let (b, _) = swapped.run(&kd);
        for (a, b) in a.iter().zip(&b) {
            // Two float32 evaluations of the same value in different orders.
            assert!(
                (a - b).abs() <= 1e-5 * a.abs() + 1e-9,
                "seed {seed}: {a} vs {b}"
            );
            assert!(
                *a <= std::f32::consts::LN_2 * (1.0 + 1e-5),
                "seed {seed}: {a}"
            );
        }
    }
}

#[test]
fn every_divergence_is_non_negative_tv_at_most_one_and_zero_for_equal_rows() {
    for divergence in all_divergences() {
        for t in [1.0, 2.0, 0.5] {
            let kd = loss(divergence, t);
            for seed in 0..40 {
                let case = Case::random(seed);
                let (values, grad) = case.run(&kd);
                assert!(
                    values.iter().all(|v| *v >= 0.0),
                    "{divergence:?} seed {seed}: {values:?}"
                );
                assert!(
                    grad.iter().all(|g| g.is_finite()),
                    "{divergence:?} seed {seed}"
                );
                if divergence == D::TotalVariation {
                    let bound = (t * t) as f32;
                    assert!(
                        values.iter().all(|v| *v <= bound),
                        "seed {seed}: {values:?}"
                    );
                }
                let same = Case {
                    zs: case.zt.clone(),
                    ..case.clone()
                };
                let (values, grad) = same.run(&kd);
                assert!(
                    values.iter().all(|v| *v == 0.0),
                    "{divergence:?} seed {seed}: {values:?}"
                );
                assert!(
                    grad.iter().all(|g| g.abs() < 1e-6),
                    "{divergence:?} seed {seed}: {grad:?}"
                );
            }
        }
    }
}

#[test]
fn forward_is_the_mean_over_kept_tokens_and_checks_shapes() {
    let device = Device::flex();
    let case = Case::random(6);
    let (b, s) = (1, case.n);
    let kd = loss(D::Jsd { beta: 0.3 }, 2.0);
    let keep: Vec<bool> = (0..s).map(|i| i % 2 == 0).collect();
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(keep.clone(), [b, s]), &device);
    let student = matrix(&case.zs, [b, s, case.v], &device);
    let teacher = matrix(&case.zt, [b, s, case.v], &device);
    let got = to_vec_f32(kd.forward(student.clone(), teacher.clone(), &mask).unwrap());
    let rows = to_vec_f32(kd.forward_rows(
        matrix(&case.zs, [s, case.v], &device),
        matrix(&case.zt, [s, case.v], &device),
    ));
    let kept: Vec<f32> = rows
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(r, _)| *r)
        .collect();
    let want = kept.iter().sum::<f32>() / kept.len() as f32;
    assert!(
        (got[0] - want).abs() <= 1e-6 * want.abs(),
        "{got:?} vs {want}"
    );

    let shape_error = |r: crate::Result<Tensor<1>>| match r {
        Err(Error::ShapeMismatch {
            what,
            expected,
            got,
        }) => format!("{what}: {expected} / {got}"),
        other => panic!("expected a shape mismatch, got {other:?}"),
    };
    let wider = Tensor::<3>::zeros([b, s, case.v + 1], &device);
    let msg = shape_error(kd.forward(student.clone(), wider, &mask));
    assert!(
        msg.contains("token logits") && msg.contains(&format!("{}]", case.v + 1)),
        "{msg}"
    );
    let wrong =
        Tensor::<2, Bool>::from_data(TensorData::new(vec![true; s + 1], [1, s + 1]), &device);
    let msg = shape_error(kd.forward(student.clone(), teacher.clone(), &wrong));
    assert!(msg.contains("token mask"), "{msg}");
    let none = Tensor::<2, Bool>::from_data(TensorData::new(vec![false; s], [b, s]), &device);
    let msg = shape_error(kd.forward(student, teacher, &none));
    assert!(msg.contains("masked out"), "{msg}");
}
