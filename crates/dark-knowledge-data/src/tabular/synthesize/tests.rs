use std::collections::HashSet;

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::model::{Table, parallel_map};
use super::*;
use crate::tabular::{CsvTable, TabularConfig, TabularEncoder};

/// A random table: a continuous column `f` (3 decimals), integers `i`, integers with missing
/// values `m`, categories `c` (with missing values) and `b`, binary target `y`.
fn random_table(seed: u64) -> (TabularEncoder, FeatureLayout, Vec<f32>, usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = rng.random_range(8..60);
    let mut csv = String::from("f,i,m,c,b,y\n");
    for r in 0..n {
        let f = rng.random_range(-5.0..50.0_f64);
        let i = rng.random_range(0..20);
        let m = match rng.random_range(0..5) {
            0 => "NA".to_string(),
            _ => rng.random_range(-1000..1000).to_string(),
        };
        let c = ["", "a", "b", "c", "d", "e"][rng.random_range(0..6)];
        let b = ["x", "y"][r % 2];
        // Row 0 makes `f` non-integer and row 1 gives `m` a present value.
        let f = if r == 0 { 0.125 } else { f };
        let m = if r == 1 { "7".to_string() } else { m };
        csv.push_str(&format!("{f:.3},{i},{m},{c},{b},{}\n", r % 3 == 0));
    }
    let table = CsvTable::parse(&csv).unwrap();
    let rows: Vec<usize> = (0..n).collect();
    let encoder = TabularEncoder::fit(&table, &rows, &TabularConfig::new("y")).unwrap();
    let x = encoder.encode_rows(&table, &rows).unwrap();
    let layout = encoder.feature_layout();
    (encoder, layout, x, n)
}

fn munge(multiple: f64, p: f64, s: f64) -> SynthesizerConfig {
    SynthesizerConfig {
        swap_probability: Some(p),
        spread: Some(s),
        ..SynthesizerConfig::new(Generator::Munge, multiple)
    }
}

fn gibbs(multiple: f64, k: usize, rounds: usize) -> SynthesizerConfig {
    SynthesizerConfig {
        neighbors: Some(k),
        rounds: Some(rounds),
        ..SynthesizerConfig::new(Generator::Gibbs, multiple)
    }
}

fn raw(layout: &ColumnLayout, z: f32) -> f64 {
    match layout.slots {
        ColumnSlots::Numeric { mean, std, .. } => f64::from(z) * std + mean,
        ColumnSlots::Categorical { .. } => unreachable!(),
    }
}

/// Asserts that every row of `synth` is a valid row of `layout` whose values keep the type
/// and range the training rows `train` give each column.
fn assert_valid(layout: &FeatureLayout, train: &[f32], synth: &[f32], context: &str) {
    let nf = layout.num_features();
    assert_eq!(synth.len() % nf, 0, "{context}");
    let integer_columns = ["i", "m"];
    for c in &layout.columns {
        let cells = |data: &[f32]| -> Vec<Vec<f32>> {
            data.chunks(nf)
                .map(|r| r[c.offset..c.offset + c.width()].to_vec())
                .collect()
        };
        let (seen, made) = (cells(train), cells(synth));
        match c.slots {
            ColumnSlots::Numeric {
                missing_indicator, ..
            } => {
                let present = |v: &Vec<f32>| !missing_indicator || v[1] == 0.0;
                let values: Vec<f32> = seen.iter().filter(|v| present(v)).map(|v| v[0]).collect();
                let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                for v in &made {
                    if missing_indicator {
                        assert!(
                            v[1] == 0.0 || v[1] == 1.0,
                            "{context}: {} flag {v:?}",
                            c.name
                        );
                        if v[1] == 1.0 {
                            assert_eq!(v[0], 0.0, "{context}: a missing {} is encoded 0", c.name);
                            continue;
                        }
                    }
                    assert!(
                        v[0] >= lo && v[0] <= hi,
                        "{context}: {} {} not in [{lo}, {hi}]",
                        c.name,
                        v[0]
                    );
                    if integer_columns.contains(&c.name.as_str()) {
                        let x = raw(c, v[0]);
                        assert!((x - x.round()).abs() < 1e-3, "{context}: {} = {x}", c.name);
                    }
                }
            }
            ColumnSlots::Categorical { .. } => {
                let slot = |v: &Vec<f32>| {
                    assert_eq!(
                        v.iter().filter(|&&x| x == 1.0).count(),
                        1,
                        "{context}: {v:?}"
                    );
                    assert_eq!(
                        v.iter().filter(|&&x| x == 0.0).count(),
                        v.len() - 1,
                        "{context}"
                    );
                    v.iter().position(|&x| x == 1.0).unwrap()
                };
                let levels: HashSet<usize> = seen.iter().map(slot).collect();
                for v in &made {
                    assert!(
                        levels.contains(&slot(v)),
                        "{context}: {} slot unseen",
                        c.name
                    );
                }
            }
        }
    }
}

#[test]
fn feature_layout_follows_the_feature_names() {
    let (encoder, layout, _, _) = random_table(3);
    let names = encoder.feature_names();
    assert_eq!(layout.num_features(), encoder.num_features());
    for c in &layout.columns {
        if let ColumnSlots::Numeric { .. } = c.slots {
            assert_eq!(names[c.offset], c.name);
        }
        assert!(names[c.offset].starts_with(&c.name));
        assert!(names[c.offset + c.width() - 1].starts_with(&c.name));
    }
    let m = layout.columns.iter().find(|c| c.name == "m").unwrap();
    assert_eq!(names[m.offset + 1], "m__missing");
    let c = layout.columns.iter().find(|c| c.name == "c").unwrap();
    assert_eq!(names[c.offset + c.width() - 1], "c=<missing>");
}

#[test]
fn munge_rows_keep_each_columns_type_and_range() {
    for seed in 0..10 {
        let (_, layout, x, n) = random_table(seed);
        for (p, s, multiple) in [(0.5, 1.0, 3.0), (1.0, 0.2, 2.0), (0.8, 5.0, 1.0)] {
            let synth = synthesize(&layout, &x, &munge(multiple, p, s), seed).unwrap();
            assert_eq!(synth.len(), multiple as usize * n * layout.num_features());
            assert_valid(
                &layout,
                &x,
                &synth,
                &format!("munge seed {seed} p {p} s {s}"),
            );
        }
    }
}

#[test]
fn gibbs_rows_keep_each_columns_type_and_range() {
    for seed in 0..10 {
        let (_, layout, x, n) = random_table(seed + 100);
        for (k, rounds, multiple) in [(10, 1, 3.0), (3, 4, 2.0), (100, 2, 0.5)] {
            let synth = synthesize(&layout, &x, &gibbs(multiple, k, rounds), seed).unwrap();
            let rows = ((multiple * n as f64).round() as usize).max(1);
            assert_eq!(synth.len(), rows * layout.num_features());
            assert_valid(&layout, &x, &synth, &format!("gibbs seed {seed} k {k}"));
        }
    }
}

#[test]
fn seeds_reproduce_and_other_seeds_differ() {
    for seed in 0..5 {
        let (_, layout, x, _) = random_table(seed + 200);
        for config in [munge(2.5, 0.5, 1.0), gibbs(2.5, 5, 2)] {
            let a = synthesize(&layout, &x, &config, seed).unwrap();
            assert_eq!(a, synthesize(&layout, &x, &config, seed).unwrap());
            assert_ne!(a, synthesize(&layout, &x, &config, seed + 1).unwrap());
            // A seed in the configuration wins over the one passed in.
            let fixed = SynthesizerConfig {
                seed: Some(seed),
                ..config.clone()
            };
            assert_eq!(a, synthesize(&layout, &x, &fixed, seed + 7).unwrap());
        }
    }
}

#[test]
fn munge_without_swaps_copies_the_training_rows() {
    for seed in 0..5 {
        let (_, layout, x, _) = random_table(seed + 300);
        let synth = synthesize(&layout, &x, &munge(3.0, 0.0, 1.0), seed).unwrap();
        assert_eq!(synth, [x.clone(), x.clone(), x.clone()].concat());
        // A fractional multiple: the last pass gives a sample of the training rows.
        let nf = layout.num_features();
        let rows: HashSet<Vec<u32>> = x
            .chunks(nf)
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        let synth = synthesize(&layout, &x, &munge(1.5, 0.0, 1.0), seed).unwrap();
        for r in synth.chunks(nf) {
            assert!(rows.contains(&r.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()));
        }
    }
}

#[test]
fn munge_with_certain_swaps_moves_the_numbers() {
    for seed in 0..5 {
        let (_, layout, x, n) = random_table(seed + 400);
        let nf = layout.num_features();
        let f = layout
            .columns
            .iter()
            .find(|c| c.name == "f")
            .unwrap()
            .offset;
        let seen: HashSet<u32> = x.chunks(nf).map(|r| r[f].to_bits()).collect();
        let synth = synthesize(&layout, &x, &munge(2.0, 1.0, 100.0), seed).unwrap();
        let new = synth
            .chunks(nf)
            .filter(|r| !seen.contains(&r[f].to_bits()))
            .count();
        assert!(
            new * 2 > 2 * n,
            "seed {seed}: only {new} of {} values of f are new",
            2 * n
        );
    }
}

#[test]
fn gibbs_with_one_neighbour_gives_training_rows() {
    let (_, layout, x, _) = random_table(500);
    let nf = layout.num_features();
    let rows: HashSet<Vec<u32>> = x
        .chunks(nf)
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    let synth = synthesize(&layout, &x, &gibbs(2.0, 1, 3), 1).unwrap();
    for r in synth.chunks(nf) {
        assert!(rows.contains(&r.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()));
    }
}

/// Rows in far-apart clusters: cluster g has numbers near 100·g and its own categories, so
/// a row's nearest neighbours on any other columns are rows of its own cluster.
#[test]
fn gibbs_values_come_from_the_neighbours() {
    for seed in 0..5 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut csv = String::from("u,v,c,y\n");
        let per = 12;
        for g in 0..4 {
            for r in 0..per {
                let u = 100.0 * g as f64 + rng.random_range(0.0..5.0);
                let v = 100.0 * g as f64 + rng.random_range(0.0..5.0);
                let c = format!("g{g}{}", r % 3);
                csv.push_str(&format!("{u:.3},{v:.3},{c},{}\n", r % 2));
            }
        }
        let table = CsvTable::parse(&csv).unwrap();
        let rows: Vec<usize> = (0..table.len()).collect();
        let encoder = TabularEncoder::fit(&table, &rows, &TabularConfig::new("y")).unwrap();
        let x = encoder.encode_rows(&table, &rows).unwrap();
        let layout = encoder.feature_layout();
        let names = encoder.feature_names();
        let synth = synthesize(&layout, &x, &gibbs(3.0, per / 2, 3), seed).unwrap();
        let nf = layout.num_features();
        let u = &layout.columns[0];
        for r in synth.chunks(nf) {
            let group = (raw(u, r[0]) / 100.0).round() as usize;
            let v = (raw(&layout.columns[1], r[1]) / 100.0).round() as usize;
            let slot = (2..nf).find(|&i| r[i] == 1.0).unwrap();
            let level = names[slot].strip_prefix("c=g").unwrap();
            assert_eq!(v, group, "seed {seed}: a row mixes clusters");
            assert_eq!(
                level[..1].parse::<usize>().unwrap(),
                group,
                "seed {seed}: {}",
                names[slot]
            );
        }
    }
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let message = |c: SynthesizerConfig| c.validate().unwrap_err().to_string();
    for m in [0.0, -1.0, f64::NAN, f64::INFINITY, 101.0] {
        assert!(
            message(munge(m, 0.5, 1.0)).contains("synthetic.multiple"),
            "{m}"
        );
    }
    assert!(message(munge(1.0, 1.5, 1.0)).contains("synthetic.swap_probability"));
    assert!(message(munge(1.0, 0.5, 0.0)).contains("synthetic.spread"));
    assert!(message(gibbs(1.0, 0, 1)).contains("synthetic.neighbors"));
    assert!(message(gibbs(1.0, 3, 0)).contains("synthetic.rounds"));
    let mixed = SynthesizerConfig {
        spread: Some(2.0),
        ..gibbs(1.0, 3, 1)
    };
    assert!(message(mixed).contains("generator = \"munge\""));
    let mixed = SynthesizerConfig {
        rounds: Some(2),
        ..munge(1.0, 0.5, 1.0)
    };
    assert!(message(mixed).contains("generator = \"gibbs\""));
    let err = serde_json::from_str::<SynthesizerConfig>(r#"{"generator":"smote","multiple":2}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("smote") && err.contains("munge"), "{err}");
    let err =
        serde_json::from_str::<SynthesizerConfig>(r#"{"generator":"munge","multiple":2,"k":3}"#)
            .unwrap_err()
            .to_string();
    assert!(err.contains("`k`"), "{err}");
    let big = munge(100.0, 0.5, 1.0)
        .num_rows(30_000)
        .unwrap_err()
        .to_string();
    assert!(big.contains("synthetic.multiple"), "{big}");
}

#[test]
fn rows_that_are_not_an_encoding_are_refused() {
    let (_, layout, mut x, _) = random_table(600);
    let c = layout
        .columns
        .iter()
        .find(|c| c.name == "c")
        .unwrap()
        .offset;
    x[c] = 1.0 - x[c];
    let err = synthesize(&layout, &x, &munge(1.0, 0.5, 1.0), 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("one-hot") && err.contains("\"c\""), "{err}");
    let err = synthesize(&layout, &x[..x.len() - 1], &munge(1.0, 0.5, 1.0), 0).unwrap_err();
    assert!(
        err.to_string().contains("synthesizer training rows"),
        "{err}"
    );
}

#[test]
fn results_do_not_depend_on_threads_and_pools_are_seeded_samples() {
    for n in [0, 1, 7, 64, 1000] {
        assert_eq!(
            parallel_map(n, |i| i * i),
            (0..n).map(|i| i * i).collect::<Vec<_>>()
        );
    }
    let (_, layout, x, n) = random_table(700);
    let table = Table::decode(&layout, &x).unwrap();
    let pool = table.pool(5, 1);
    assert_eq!(pool.rows.len(), 5);
    assert_eq!(pool.rows, table.pool(5, 1).rows);
    assert!(pool.rows.iter().all(|r| table.rows.contains(r)));
    assert_eq!(table.pool(n, 1).rows, table.rows);
}

#[test]
fn appended_rows_have_no_label_and_ids_past_the_data() {
    let device = Device::flex();
    let all = Dataset::new(
        vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        2,
        vec![0, 1, 1],
        2,
        &device,
    )
    .unwrap();
    let base = all.subset(&[2, 0]).unwrap().hide_labels(&[1]).unwrap();
    let rows = append_unlabeled(&all, &base, &[9.0, 9.5, 8.0, 8.5]).unwrap();
    assert_eq!(rows.row_ids(), [2, 0, 3, 4]);
    assert_eq!(rows.labeled_positions(), [0]);
    assert_eq!(rows.labels_host()[0], 1);
    let features = dark_knowledge_core::tensor_util::to_vec_f32(rows.features().clone());
    assert_eq!(features, [4.0, 5.0, 0.0, 1.0, 9.0, 9.5, 8.0, 8.5]);
    assert!(append_unlabeled(&all, &base, &[1.0]).is_err());
}

#[test]
fn gibbs_runs_that_would_take_too_long_are_refused() {
    let (_, layout, x, n) = random_table(800);
    let table = Table::decode(&layout, &x).unwrap();
    let config = gibbs(100.0, 10, 100);
    let too_many = (MAX_GIBBS_WORK / (n * layout.columns.len() * 100) as f64) as usize + 1;
    let err = check_gibbs_work(too_many, &table, &config)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("generator = \"gibbs\"") && err.contains("rounds"),
        "{err}"
    );
    assert!(check_gibbs_work(too_many - 2, &table, &config).is_ok());
}
