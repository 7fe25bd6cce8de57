use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

// Ten rows in shuffled order. Ranked by descending score:
//   rank  score  positive   row
//    1    0.95     ✓         1
//    2    0.9      ✓         4
//    3    0.8      ✗         6
//    4    0.7      ✓         8
//    5    0.6      ✗         2
//    6    0.5      ✗         9
//    7    0.4      ✓         5
//    8    0.3      ✗         0
//    9    0.2      ✗         7
//   10    0.1      ✗         3
// 4 positives, base rate 0.4.
const SCORES: [f32; 10] = [0.3, 0.95, 0.6, 0.1, 0.9, 0.4, 0.8, 0.2, 0.7, 0.5];
const POSITIVES: [bool; 10] = [
    false, true, false, false, true, true, false, false, true, false,
];

/// SplitMix64, for seeded property tests.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn deciles_by_hand() {
    // Deciles of 10 rows: top k rows for k = 1..10. Positives captured (cumulative):
    //   k    : 1    2    3     4     5    6     7     8    9     10
    //   TP   : 1    2    2     3     3    3     4     4    4     4
    //   gain : .25  .5   .5    .75   .75  .75   1     1    1     1
    //   lift : 2.5  2.5  5/3   1.875 1.5  1.25  10/7  1.25 10/9  1
    //   prec : 1    1    2/3   .75   .6   .5    4/7   .5   4/9   .4
    let table = gains(&SCORES, &POSITIVES, 10).unwrap();
    let tp = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4];
    let lift = [
        2.5,
        2.5,
        5.0 / 3.0,
        1.875,
        1.5,
        1.25,
        10.0 / 7.0,
        1.25,
        10.0 / 9.0,
        1.0,
    ];
    assert_eq!(table.len(), 10);
    for (k, row) in table.iter().enumerate() {
        let rows = k + 1;
        assert_eq!(row.rows, rows);
        assert_eq!(row.positives, tp[k], "k {rows}");
        assert!(close(row.fraction, rows as f64 / 10.0), "{row:?}");
        assert!(close(row.gain, tp[k] as f64 / 4.0), "{row:?}");
        assert!(close(row.lift, lift[k]), "{row:?}");
        assert!(close(row.precision, tp[k] as f64 / rows as f64), "{row:?}");
    }
}

#[test]
fn quartiles_round_row_counts_up() {
    // 4 bins of 10 rows: ceil(10k/4) = 3, 5, 8, 10 rows → TP 2, 3, 4, 4.
    //   k 1: fraction .3, gain .5,  lift 5/3,  precision 2/3
    //   k 2: fraction .5, gain .75, lift 1.5,  precision .6
    //   k 3: fraction .8, gain 1,   lift 1.25, precision .5
    //   k 4: fraction 1,  gain 1,   lift 1,    precision .4
    let table = gains(&SCORES, &POSITIVES, 4).unwrap();
    let rows: Vec<usize> = table.iter().map(|r| r.rows).collect();
    assert_eq!(rows, [3, 5, 8, 10]);
    let tp: Vec<usize> = table.iter().map(|r| r.positives).collect();
    assert_eq!(tp, [2, 3, 4, 4]);
    assert!(close(table[0].fraction, 0.3) && close(table[0].lift, 5.0 / 3.0));
    assert!(close(table[1].gain, 0.75) && close(table[1].precision, 0.6));
    assert!(close(table[2].lift, 1.25) && close(table[3].lift, 1.0));
}

#[test]
fn ties_are_ranked_by_row_index() {
    // All scores tied: the ranking is rows 0, 1, 2, 3 (F, T, F, T).
    let table = gains(&[0.5; 4], &[false, true, false, true], 4).unwrap();
    let tp: Vec<usize> = table.iter().map(|r| r.positives).collect();
    assert_eq!(tp, [0, 1, 1, 2]);
    // Reversing the targets reverses which tied rows come first.
    let table = gains(&[0.5; 4], &[true, false, true, false], 4).unwrap();
    let tp: Vec<usize> = table.iter().map(|r| r.positives).collect();
    assert_eq!(tp, [1, 1, 2, 2]);
}

#[test]
fn top_share_by_hand() {
    // Top 30 % = 3 rows: TP 2 → precision 2/3, recall (gain) 0.5.
    let top = top_share(&SCORES, &POSITIVES, 0.3).unwrap();
    assert_eq!((top.rows, top.positives), (3, 2));
    assert!(close(top.precision, 2.0 / 3.0) && close(top.gain, 0.5));
    // 0.25 of 10 rows rounds up to 3 rows; 1.0 is every row.
    assert_eq!(top_share(&SCORES, &POSITIVES, 0.25).unwrap().rows, 3);
    assert_eq!(top_share(&SCORES, &POSITIVES, 1.0).unwrap().rows, 10);
    // A tiny share is still one row.
    assert_eq!(top_share(&SCORES, &POSITIVES, 1e-9).unwrap().rows, 1);
    // 0.1 of 30 rows is 3 rows, although 0.1 · 30 = 3.0000000000000004 in f64.
    let mut positives = [false; 30];
    positives[0] = true;
    assert_eq!(top_share(&[0.5; 30], &positives, 0.1).unwrap().rows, 3);
    assert_eq!(top_share(&[0.5; 30], &positives, 0.7).unwrap().rows, 21);
}

#[test]
fn campaign_metrics_reject_bad_input() {
    let err = gains(&[0.2, 0.7], &[false, false], 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "gains is undefined: positives contains no positive examples"
    );
    for fraction in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let err = top_share(&SCORES, &POSITIVES, fraction).unwrap_err();
        assert!(
            matches!(
                err,
                MetricsError::InvalidArgument {
                    what: "fraction",
                    ..
                }
            ),
            "{err}"
        );
    }
    assert_eq!(
        top_share(&SCORES, &POSITIVES, 1.5).unwrap_err().to_string(),
        "invalid fraction: must be in (0, 1], got 1.5"
    );
    assert!(matches!(
        gains(&[0.1, f32::NAN], &[true, false], 2).unwrap_err(),
        MetricsError::NonFinite { index: 1, .. }
    ));
    assert!(matches!(
        top_share(&[0.1, 0.2], &[true], 0.5).unwrap_err(),
        MetricsError::LengthMismatch { .. }
    ));
    assert!(matches!(
        choose_threshold(&[0.1], &[true, false], ThresholdGoal::MaxF1).unwrap_err(),
        MetricsError::LengthMismatch { .. }
    ));
    assert_eq!(
        gains(&[], &[], 2).unwrap_err(),
        MetricsError::Empty { what: "positives" }
    );
    assert!(matches!(
        gains(&SCORES, &POSITIVES, 0).unwrap_err(),
        MetricsError::InvalidArgument { what: "bins", .. }
    ));
    assert!(matches!(
        choose_threshold(&[0.1, 0.2], &[false, false], ThresholdGoal::MaxF1).unwrap_err(),
        MetricsError::MissingClass { .. }
    ));
}

#[test]
fn gain_is_monotone_and_complete_on_random_inputs() {
    let mut state = 0xC0FFEE;
    for case in 0..200 {
        let n = 1 + (splitmix(&mut state) % 60) as usize;
        let bins = 1 + (splitmix(&mut state) % 25) as usize;
        // Few distinct scores, to exercise ties.
        let scores: Vec<f32> = (0..n)
            .map(|_| (splitmix(&mut state) % 8) as f32 / 8.0)
            .collect();
        let mut positives: Vec<bool> = (0..n)
            .map(|_| splitmix(&mut state).is_multiple_of(3))
            .collect();
        positives[(splitmix(&mut state) % n as u64) as usize] = true;
        let table = gains(&scores, &positives, bins).unwrap();
        assert_eq!(table.len(), bins);
        for pair in table.windows(2) {
            assert!(pair[1].gain >= pair[0].gain, "case {case}: {pair:?}");
            assert!(pair[1].rows >= pair[0].rows, "case {case}: {pair:?}");
        }
        let last = table.last().unwrap();
        assert_eq!(last.rows, n, "case {case}");
        assert_eq!(last.gain, 1.0, "case {case}");
        assert!(close(last.lift, 1.0), "case {case}");
    }
}

#[test]
fn max_f1_by_hand() {
    // Thresholds on the ranked list (flagged, TP, F1 = 2TP / (flagged + 4)):
    //   .95 (1,1) 2/5   .9 (2,2) 4/6   .8 (3,2) 4/7   .7 (4,3) 6/8 = .75
    //   .6 (5,3) 6/9    .5 (6,3) 6/10  .4 (7,4) 8/11  .3 (8,4) 8/12 ...
    // Best: 0.7 with precision 3/4, recall 3/4, F1 3/4, 40 % flagged.
    let t = choose_threshold(&SCORES, &POSITIVES, ThresholdGoal::MaxF1).unwrap();
    assert_eq!(t.threshold, 0.7);
    assert!(close(t.precision, 0.75) && close(t.recall, 0.75) && close(t.f1, 0.75));
    assert!(close(t.flagged, 0.4));
    assert_eq!(
        apply_threshold(&SCORES, t.threshold),
        [
            false, true, false, false, true, false, true, false, true, false
        ]
    );
    // F1 tie: scores .9 ✓, .5 ✗, .4 ✗, .3 ✓ → F1 at .9 = 2/3, at .3 = 4/6 → the higher.
    let t = choose_threshold(
        &[0.9, 0.5, 0.4, 0.3],
        &[true, false, false, true],
        ThresholdGoal::MaxF1,
    )
    .unwrap();
    assert_eq!(t.threshold, 0.9);
    assert!(close(t.f1, 2.0 / 3.0) && close(t.recall, 0.5));
}

#[test]
fn target_precision_by_hand() {
    // Precision by threshold: .95 1, .9 1, .8 2/3, .7 3/4, .6 3/5, .5 1/2, .4 4/7,
    // .3 1/2, .2 4/9, .1 2/5.
    let goal = |p| choose_threshold(&SCORES, &POSITIVES, ThresholdGoal::TargetPrecision(p));
    // ≥ 0.75: lowest is 0.7 (recall 3/4).
    let t = goal(0.75).unwrap();
    assert_eq!(t.threshold, 0.7);
    assert!(close(t.recall, 0.75));
    // ≥ 0.6: 0.6 reaches exactly 3/5 = 0.6; nothing lower does.
    assert_eq!(goal(0.6).unwrap().threshold, 0.6);
    // ≥ 0.5: 0.3 (4 of 8), recall 1.
    let t = goal(0.5).unwrap();
    assert_eq!(t.threshold, 0.3);
    assert!(close(t.recall, 1.0) && close(t.flagged, 0.8));
    // ≥ 1: 0.9 (both top rows positive).
    assert_eq!(goal(1.0).unwrap().threshold, 0.9);
    // Unreachable: the top row is negative, the best precision is 1/2 (at 0.8).
    let err = choose_threshold(
        &[0.9, 0.8, 0.1],
        &[false, true, false],
        ThresholdGoal::TargetPrecision(0.9),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid goal: no threshold reaches precision 0.9: the best reachable is 0.5"
    );
}

#[test]
fn budget_by_hand_with_ties() {
    let goal = |b| choose_threshold(&SCORES, &POSITIVES, ThresholdGoal::Budget(b));
    // At most 3 of 10 rows: 0.8 (3 rows, TP 2).
    let t = goal(0.3).unwrap();
    assert_eq!(t.threshold, 0.8);
    assert!(close(t.flagged, 0.3) && close(t.precision, 2.0 / 3.0));
    // 0.35 → at most 3.5 rows → still 3.
    assert_eq!(goal(0.35).unwrap().threshold, 0.8);
    assert_eq!(goal(1.0).unwrap().threshold, 0.1);
    // Ties are flagged together: scores .9, .5, .5, .5, .1 with a budget of 2 rows can
    // not take the three tied .5s, so only the .9 is flagged (20 %).
    let scores = [0.5, 0.9, 0.5, 0.1, 0.5];
    let positives = [true, false, true, false, false];
    let t = choose_threshold(&scores, &positives, ThresholdGoal::Budget(0.4)).unwrap();
    assert_eq!(t.threshold, 0.9);
    assert!(close(t.flagged, 0.2) && close(t.recall, 0.0));
    // 0.8 of 5 = 4 rows: .5 flags 4.
    let t = choose_threshold(&scores, &positives, ThresholdGoal::Budget(0.8)).unwrap();
    assert_eq!(t.threshold, 0.5);
    // Budget below one row: even the top score flags too many.
    let err = choose_threshold(&scores, &positives, ThresholdGoal::Budget(0.1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid goal: budget:0.1 allows at most 0 of 5 rows to be flagged, but the \
         highest score alone flags 1"
    );
}

#[test]
fn goal_parsing_and_serde() {
    assert_eq!("max-f1".parse::<ThresholdGoal>(), Ok(ThresholdGoal::MaxF1));
    assert_eq!(
        "precision:0.8".parse::<ThresholdGoal>(),
        Ok(ThresholdGoal::TargetPrecision(0.8))
    );
    assert_eq!(
        " budget: 0.1 ".parse::<ThresholdGoal>(),
        Ok(ThresholdGoal::Budget(0.1))
    );
    for goal in [
        ThresholdGoal::MaxF1,
        ThresholdGoal::TargetPrecision(0.8),
        ThresholdGoal::Budget(0.1),
    ] {
        assert_eq!(goal.to_string().parse::<ThresholdGoal>(), Ok(goal));
    }
    let err = "recall:0.5".parse::<ThresholdGoal>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid goal: `recall:0.5`: expected `max-f1`, `precision:P` or `budget:B` with P, \
         B in (0, 1]"
    );
    for bad in ["", "max_f1", "precision", "precision:x", "budget:"] {
        assert!(bad.parse::<ThresholdGoal>().is_err(), "{bad}");
    }
    let err = "budget:1.5".parse::<ThresholdGoal>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid goal: budget:1.5 is out of range: 1.5 is not in (0, 1]"
    );
    assert!(matches!(
        choose_threshold(&SCORES, &POSITIVES, ThresholdGoal::TargetPrecision(0.0)).unwrap_err(),
        MetricsError::InvalidArgument { what: "goal", .. }
    ));
    // Serde forms.
    let json = serde_json::to_string(&[
        ThresholdGoal::MaxF1,
        ThresholdGoal::TargetPrecision(0.8),
        ThresholdGoal::Budget(0.1),
    ])
    .unwrap();
    assert_eq!(json, r#"["max-f1",{"precision":0.8},{"budget":0.1}]"#);
    let t = choose_threshold(&SCORES, &POSITIVES, ThresholdGoal::Budget(0.3)).unwrap();
    let back: Threshold = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(back, t);
}

#[test]
fn gains_chart_has_models_and_random_baseline() {
    let table = gains(&SCORES, &POSITIVES, 10).unwrap();
    let svg = gains_svg(&[("student", &table), ("teacher", &table)]);
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(svg.contains("Cumulative gains"));
    assert!(svg.contains("student") && svg.contains("teacher") && svg.contains("random"));
    assert!(svg.contains("share contacted"));
    assert_eq!(svg.matches("class=\"series\"").count(), 3);
    // No model still draws the baseline.
    let svg = gains_svg(&[]);
    assert!(svg.contains("class=\"series\""), "{svg}");
}
