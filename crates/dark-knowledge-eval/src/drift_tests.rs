use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() < tol
}

/// SplitMix64: a seeded, dependency-free source of uniform `[0, 1)` values.
fn uniform(seed: u64, n: usize) -> Vec<Option<f64>> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            Some((z >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

fn numeric(name: &str, profile: &ColumnProfile, values: &[Option<f64>]) -> ColumnDrift {
    column_drift(name, profile, CurrentColumn::Numeric(values)).unwrap()
}

#[test]
fn identical_samples_do_not_drift() {
    let reference = uniform(1, 5000);
    let profile = ColumnProfile::numeric(&reference, 10).unwrap();
    let d = numeric("x", &profile, &reference);
    assert_eq!(d.psi, 0.0);
    // Interpolating between percentiles of the same sample: off by about 1/n at most.
    let ks = d.ks.unwrap();
    assert!(ks < 0.005, "{ks}");
    assert_eq!(d.level, DriftLevel::Stable);
    assert_eq!((d.rows, d.kind.as_str()), (5000, "numeric"));
    assert_eq!((d.chi_square, d.p_value), (None, None));
}

#[test]
fn numeric_profile_bins_at_quantiles() {
    // [0, 0, 1, 1]: median 0.5 → edges [0.5]; 0.0 and 1.0 quantiles are the extremes.
    let p = ColumnProfile::numeric(&[Some(0.0), Some(0.0), Some(1.0), Some(1.0)], 2).unwrap();
    let ColumnProfile::Numeric {
        edges,
        shares,
        quantiles,
        missing_share,
    } = &p
    else {
        panic!("numeric profile expected");
    };
    assert_eq!(
        (edges.as_slice(), shares.as_slice()),
        (&[0.5][..], &[0.5, 0.5][..])
    );
    assert_eq!(quantiles.len(), KS_QUANTILES);
    assert_eq!(
        (quantiles[0], quantiles[100], *missing_share),
        (0.0, 1.0, 0.0)
    );
    // Repeated values: the cut points collapse to one, so fewer bins.
    let flat = ColumnProfile::numeric(&[Some(3.0); 8], 4).unwrap();
    assert!(matches!(flat, ColumnProfile::Numeric { ref edges, .. } if edges == &[3.0]));
}

#[test]
fn two_bin_psi_by_hand() {
    // e = (0.5, 0.5), a = (0.8, 0.2):
    // PSI = 0.3·ln 1.6 + (−0.3)·ln 0.4 = 0.1410011 + 0.2748872 = 0.4158883
    let expect = 0.3 * 1.6f64.ln() - 0.3 * 0.4f64.ln();
    assert!(close(expect, 0.415_888_3, 1e-7));
    assert!(close(psi(&[0.5, 0.5], &[0.8, 0.2]).unwrap(), expect, 1e-12));
    // The same through a profile: reference [0, 0, 1, 1] (edge 0.5), current 4 × 0, 1 × 1;
    // the missing bin is empty on both sides and adds 0.
    let p = ColumnProfile::numeric(&[Some(0.0), Some(0.0), Some(1.0), Some(1.0)], 2).unwrap();
    let current = [Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(1.0)];
    let d = numeric("x", &p, &current);
    assert!(close(d.psi, expect, 1e-12), "{}", d.psi);
    assert_eq!(d.level, DriftLevel::Act);
    // An empty bin on one side is floored at PSI_EPS: finite.
    let floored = psi(&[1.0, 0.0], &[0.0, 1.0]).unwrap();
    let by_hand = 2.0 * (1.0 - PSI_EPS) * (1.0 / PSI_EPS).ln();
    assert!(
        floored.is_finite() && close(floored, by_hand, 1e-9),
        "{floored}"
    );
}

#[test]
fn shifted_uniform_has_ks_near_shift_and_is_acted_on() {
    let n = 20_000;
    let reference = uniform(7, n);
    let profile = ColumnProfile::numeric(&reference, 10).unwrap();
    let shifted: Vec<Option<f64>> = uniform(8, n).iter().map(|v| v.map(|x| x + 0.3)).collect();
    let d = numeric("shifted", &profile, &shifted);
    // True KS of U(0,1) vs U(0.3,1.3) is 0.3; the two-sample sampling error is about
    // 1.36·sqrt(2/n) ≈ 0.014 at 95%, plus ≤ 0.01 from the percentile interpolation.
    let ks = d.ks.unwrap();
    assert!(close(ks, 0.3, 0.03), "{ks}");
    assert_eq!(d.level, DriftLevel::Act);

    let same = numeric("unshifted", &profile, &uniform(9, n));
    assert!(same.psi < 0.01 && same.ks.unwrap() < 0.03, "{same:?}");
    assert_eq!(same.level, DriftLevel::Stable);

    let report = DriftReport::new(vec![same, d]);
    assert_eq!(report.columns[0].column, "shifted");
    assert_eq!(report.columns[1].level, DriftLevel::Stable);
    let md = report.to_markdown();
    assert!(md.contains("| shifted | numeric | 20000 |"), "{md}");
    assert!(md.contains("**Verdict:** act on `shifted` ("), "{md}");
}

fn repeat(levels: &[(&'static str, usize)]) -> Vec<Option<&'static str>> {
    levels
        .iter()
        .flat_map(|&(l, n)| std::iter::repeat_n(Some(l), n))
        .collect()
}

#[test]
fn categorical_chi_square_by_hand() {
    // Reference a 10, b 6, c 4 → e = (0.5, 0.3, 0.2); current a 3, b 4, c 3 → (0.3, 0.4, 0.3).
    let profile = ColumnProfile::categorical(&repeat(&[("c", 4), ("a", 10), ("b", 6)])).unwrap();
    let ColumnProfile::Categorical { levels, .. } = &profile else {
        panic!("categorical profile expected");
    };
    let names: Vec<&str> = levels.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let current = repeat(&[("a", 3), ("b", 4), ("c", 3)]);
    let d = column_drift("cat", &profile, CurrentColumn::Categorical(&current)).unwrap();
    // χ² = 10·(0.2²/0.5 + 0.1²/0.3 + 0.1²/0.2) = 10·(0.08 + 0.0333… + 0.05) = 1.6333…
    // other and missing are empty on both sides → 3 bins, 2 dof: p = exp(−χ²/2) = 0.44191.
    let chi = d.chi_square.unwrap();
    assert!(close(chi, 49.0 / 30.0, 1e-9), "{chi}");
    assert!(close(d.p_value.unwrap(), (-chi / 2.0).exp(), 1e-9));
    assert!(close(d.p_value.unwrap(), 0.441_91, 1e-5));
    // PSI = −0.2·ln 0.6 + 0.1·ln(4/3) + 0.1·ln 1.5 = 0.1021651 + 0.0287682 + 0.0405465
    assert!(close(d.psi, 0.171_479_8, 1e-6), "{}", d.psi);
    assert_eq!(d.level, DriftLevel::Watch);
    assert_eq!(d.ks, None);
}

#[test]
fn categorical_caps_levels_and_pools_unseen_ones() {
    let names: Vec<String> = (0..60).map(|i| format!("l{i:02}")).collect();
    let values: Vec<Option<&str>> = names.iter().map(|s| Some(s.as_str())).collect();
    let p = ColumnProfile::categorical(&values).unwrap();
    let ColumnProfile::Categorical {
        levels,
        other_share,
        ..
    } = &p
    else {
        panic!("categorical profile expected");
    };
    assert_eq!(levels.len(), MAX_LEVELS);
    assert_eq!(levels[0].0, "l00"); // all tied: by name
    assert!(close(*other_share, 10.0 / 60.0, 1e-12));
    // Unseen levels fall into "other".
    let d = column_drift("c", &p, CurrentColumn::Categorical(&[Some("new")])).unwrap();
    assert_eq!(d.level, DriftLevel::Act);
}

#[test]
fn missing_values_are_their_own_bin() {
    // Reference [1, 2, −, −], 1 bin: shares [0.5], missing 0.5.
    // Current [−, −, −, 1]: a = (0.25, 0.75).
    // PSI = (0.25 − 0.5)·ln 0.5 + (0.75 − 0.5)·ln 1.5 = 0.1732868 + 0.1013663 = 0.2746531
    let p = ColumnProfile::numeric(&[Some(1.0), Some(2.0), None, None], 1).unwrap();
    let d = numeric("m", &p, &[None, None, None, Some(1.0)]);
    assert!(close(d.psi, 0.274_653_1, 1e-6), "{}", d.psi);
    // KS over present values only: reference F(1) = 0, current jumps to 1 at 1.
    assert!(close(d.ks.unwrap(), 1.0, 1e-12));
    assert_eq!(numeric("m", &p, &[None, None]).ks, None);
    // Categorical: a rise in missing values is drift; χ² over the bins seen.
    let c = ColumnProfile::categorical(&[Some("a"), Some("a"), Some("b"), None]).unwrap();
    let d = column_drift("c", &c, CurrentColumn::Categorical(&[None, None])).unwrap();
    // e = (0.5, 0.25, 0.25), a = (0, 0, 1): χ² = 2·(0.5 + 0.25 + 0.75²/0.25) = 6, 2 dof.
    assert!(close(d.chi_square.unwrap(), 6.0, 1e-9));
    assert!(close(d.p_value.unwrap(), (-3.0f64).exp(), 1e-9));
}

#[test]
fn chi_square_p_values_match_tables() {
    // Critical values at 5%: dof 1 → 3.841, dof 10 → 18.307; at 1%: dof 5 → 15.086.
    assert!(close(chi_square_p_value(3.841, 1.0), 0.05, 2e-4));
    assert!(close(chi_square_p_value(18.307, 10.0), 0.05, 2e-5));
    assert!(close(chi_square_p_value(15.086, 5.0), 0.01, 2e-5));
    // dof 2 is exp(−x/2) exactly; P(χ²_10 > 1) = 0.999828 (series branch).
    assert!(close(chi_square_p_value(5.0, 2.0), (-2.5f64).exp(), 1e-10));
    assert!(close(chi_square_p_value(1.0, 10.0), 0.999_828, 1e-6));
    // Q(1, x) = e^−x on both branches; edges.
    assert!(close(gamma_q(1.0, 0.5), (-0.5f64).exp(), 1e-10));
    assert!(close(gamma_q(1.0, 3.0), (-3.0f64).exp(), 1e-10));
    assert_eq!(chi_square_p_value(0.0, 3.0), 1.0);
    assert!(chi_square_p_value(1e4, 3.0) < 1e-100);
    assert!(chi_square_p_value(f64::NAN, 3.0).is_nan());
    assert!(chi_square_p_value(1.0, 0.0).is_nan());
}

#[test]
fn report_sorts_and_states_verdict() {
    let col = |name: &str, psi: f64| ColumnDrift {
        column: name.into(),
        kind: "numeric".into(),
        psi,
        ks: None,
        chi_square: None,
        p_value: None,
        rows: 1,
        level: DriftLevel::from_psi(psi),
    };
    let r = DriftReport::new(vec![
        col("b", 0.15),
        col("a", 0.15),
        col("z", 0.3),
        col("c", 0.0),
    ]);
    let order: Vec<&str> = r.columns.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(order, ["z", "a", "b", "c"]);
    assert!(
        r.to_markdown()
            .contains("**Verdict:** act on `z`; watch `a`, `b` (")
    );
    let stable = DriftReport::new(vec![col("c", 0.01)]);
    assert!(stable.to_markdown().contains("all 1 columns stable"));
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<DriftReport>(&json).unwrap(), r);
    assert!(json.contains("\"level\":\"act\""), "{json}");
}

#[test]
fn profile_round_trips_through_json() {
    let p = ColumnProfile::numeric(&uniform(3, 100), 5).unwrap();
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.starts_with("{\"kind\":\"numeric\""), "{json}");
    assert_eq!(serde_json::from_str::<ColumnProfile>(&json).unwrap(), p);
    let c = ColumnProfile::categorical(&[Some("x"), None]).unwrap();
    let back: ColumnProfile = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn scores_are_profiled_as_numeric_with_kind_score() {
    let p = ColumnProfile::scores(&[0.1, 0.2, 0.3, 0.4], 2).unwrap();
    let d = score_drift("p(churn)", &p, &[0.1, 0.2, 0.3, 0.4]).unwrap();
    assert_eq!((d.kind.as_str(), d.psi), ("score", 0.0));
}

#[test]
fn bad_input_is_an_error() {
    assert_eq!(
        ColumnProfile::numeric(&[], 10).unwrap_err(),
        MetricsError::Empty { what: "values" }
    );
    assert_eq!(
        ColumnProfile::categorical(&[]).unwrap_err(),
        MetricsError::Empty { what: "values" }
    );
    assert!(matches!(
        ColumnProfile::numeric(&[Some(1.0)], 0).unwrap_err(),
        MetricsError::InvalidArgument { what: "bins", .. }
    ));
    assert!(matches!(
        ColumnProfile::numeric(&[Some(1.0), Some(f64::NAN)], 2).unwrap_err(),
        MetricsError::NonFinite { index: 1, .. }
    ));
    let p = ColumnProfile::numeric(&[Some(1.0), Some(2.0)], 2).unwrap();
    assert_eq!(
        column_drift("x", &p, CurrentColumn::Numeric(&[])).unwrap_err(),
        MetricsError::Empty { what: "current" }
    );
    assert!(matches!(
        column_drift("x", &p, CurrentColumn::Numeric(&[Some(f64::INFINITY)])).unwrap_err(),
        MetricsError::NonFinite {
            what: "current",
            ..
        }
    ));
    let err = column_drift("x", &p, CurrentColumn::Categorical(&[Some("a")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid current: column x is profiled as numeric but the current values are not"
    );
    assert!(matches!(
        psi(&[0.5, 0.5], &[1.0]).unwrap_err(),
        MetricsError::LengthMismatch { .. }
    ));
}
