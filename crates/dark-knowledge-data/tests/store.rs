//! End-to-end tests of the row store: round trips, crash safety, damaged files, refused rows,
//! burn's `Dataset` trait, the CSV path against the in-memory encoder, and memory use.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::data::dataset::Dataset as _;
use burn::tensor::Device;
use dark_knowledge_core::tensor_util::{to_vec_f32, to_vec_i64};
use dark_knowledge_data::store::{
    CsvPass, CsvProgress, CsvStoreOptions, HEADER_LEN, RowStore, RowStoreWriter, StoreError,
    write_csv_store, write_csv_store_with,
};
use dark_knowledge_data::tabular::{CsvTable, TabularConfig, TabularEncoder, TargetEncoding};
use dark_knowledge_data::{CHURN_CSV, UNLABELED};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A fresh, empty directory for one test under cargo's integration-test tmp dir.
fn test_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("store")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

type Rows = Vec<(Vec<f32>, Option<usize>)>;

/// Random rows, with awkward values (signed zeros, subnormals, extremes) mixed in.
fn random_rows(rng: &mut StdRng, n: usize, f: usize, c: usize) -> Rows {
    let special = [
        0.0,
        -0.0,
        f32::MIN_POSITIVE / 4.0,
        f32::MAX,
        f32::MIN,
        1.0,
        -1e-30,
    ];
    (0..n)
        .map(|_| {
            let features = (0..f)
                .map(|_| match rng.random_range(0..10) {
                    0 => special[rng.random_range(0..special.len())],
                    _ => rng.random_range(-1e6f32..1e6),
                })
                .collect();
            let label = (rng.random_range(0..4) != 0).then(|| rng.random_range(0..c));
            (features, label)
        })
        .collect()
}

fn write_rows(path: &Path, f: usize, c: usize, rows: &Rows) {
    let mut w = RowStoreWriter::create(path, f, c).unwrap();
    for (features, label) in rows {
        w.push(features, *label).unwrap();
    }
    let header = w.finish().unwrap();
    assert_eq!(header.num_rows, rows.len());
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn random_stores_round_trip_bit_for_bit() {
    let dir = test_dir("round_trip");
    for seed in 0..24u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (f, c) = (rng.random_range(1..18), rng.random_range(1..6));
        let n = [0, 1, 2, 97, 300][rng.random_range(0..5)];
        let rows = random_rows(&mut rng, n, f, c);
        let path = dir.join(format!("s{seed}.dkrs"));
        write_rows(&path, f, c, &rows);
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert_eq!(len, HEADER_LEN + 4 * n * f + 4 * n + 4, "seed {seed}");
        let store = RowStore::open(&path).unwrap();
        let unlabeled = rows.iter().filter(|r| r.1.is_none()).count();
        assert_eq!(
            (store.len(), store.num_features(), store.num_classes()),
            (n, f, c)
        );
        assert_eq!(store.num_unlabeled(), unlabeled);
        assert_eq!(store.is_partially_labeled(), unlabeled > 0);
        assert_eq!(store.is_empty(), n == 0);
        let mut buf = vec![9.0; 3];
        for (i, (features, label)) in rows.iter().enumerate() {
            let (got, got_label) = store.row(i).unwrap();
            assert_eq!(bits(&got), bits(features), "seed {seed} row {i}");
            assert_eq!(got_label, *label);
            assert_eq!(store.row_into(i, &mut buf), Some(*label));
            assert_eq!(bits(&buf), bits(features));
            assert_eq!(store.label(i), Some(*label));
            let item = store.get(i).unwrap();
            assert_eq!((bits(&item.features), item.label), (bits(features), *label));
        }
        assert_eq!(store.row(n), None);
        assert_eq!(store.row_into(n + 5, &mut buf), None);
        assert!(buf.is_empty());
        assert_eq!(store.label(usize::MAX), None);
        assert_eq!(store.iter().count(), n);
    }
}

#[test]
fn burn_dataset_get_out_of_range_is_an_error_not_a_panic() {
    let dir = test_dir("dataset_trait");
    let path = dir.join("d.dkrs");
    let rows = random_rows(&mut StdRng::seed_from_u64(7), 5, 3, 2);
    write_rows(&path, 3, 2, &rows);
    let store = RowStore::open(&path).unwrap();
    let shared: std::sync::Arc<dyn burn::data::dataset::Dataset<_>> = std::sync::Arc::new(store);
    assert_eq!(shared.len(), 5);
    for index in [5, 6, usize::MAX] {
        let err = shared.get(index).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("row {index} is out of range")) && msg.contains("has 5 rows"),
            "{msg}"
        );
    }
    let items: Vec<_> = shared.iter().map(Result::unwrap).collect();
    assert_eq!(items.len(), 5);
    assert_eq!(items[4].label, rows[4].1);
}

#[test]
fn to_dataset_matches_the_rows_and_hides_missing_labels() {
    let dir = test_dir("to_dataset");
    let path = dir.join("d.dkrs");
    let rows: Rows = vec![
        (vec![1.0, 2.0], Some(1)),
        (vec![3.0, -4.0], None),
        (vec![5.0, 6.0], Some(2)),
    ];
    write_rows(&path, 2, 3, &rows);
    let ds = RowStore::open(&path)
        .unwrap()
        .to_dataset(&Device::flex())
        .unwrap();
    assert_eq!((ds.len(), ds.num_features(), ds.num_classes()), (3, 2, 3));
    assert_eq!(
        to_vec_f32(ds.features().clone()),
        [1.0, 2.0, 3.0, -4.0, 5.0, 6.0]
    );
    assert_eq!(to_vec_i64(ds.labels().clone()), [1, UNLABELED, 2]);
    assert!(ds.is_partially_labeled() && !ds.is_labeled(1) && ds.is_labeled(2));
    // The dataset refuses what `Dataset::new` refuses: one class, no rows.
    let one = dir.join("one.dkrs");
    write_rows(&one, 2, 1, &vec![(vec![0.0, 0.0], Some(0))]);
    let err = RowStore::open(&one)
        .unwrap()
        .to_dataset(&Device::flex())
        .unwrap_err();
    assert!(matches!(err, StoreError::Data(_)), "{err}");
    assert!(err.to_string().contains("num_classes"), "{err}");
}

#[test]
fn refused_rows_name_the_row_and_leave_the_writer_usable() {
    let dir = test_dir("bad_rows");
    let path = dir.join("b.dkrs");
    let mut w = RowStoreWriter::create(&path, 3, 2).unwrap();
    w.push(&[1.0, 2.0, 3.0], Some(0)).unwrap();
    let err = w.push(&[1.0, 2.0], Some(0)).unwrap_err();
    assert!(matches!(
        err,
        StoreError::RowLength {
            row: 1,
            expected: 3,
            found: 2,
            ..
        }
    ));
    assert!(
        err.to_string().contains("row 1 has 2 feature values"),
        "{err}"
    );
    for (col, bad) in [(0, f32::NAN), (2, f32::INFINITY), (1, f32::NEG_INFINITY)] {
        let mut row = [0.5; 3];
        row[col] = bad;
        let err = w.push(&row, None).unwrap_err();
        assert!(
            matches!(err, StoreError::NonFinite { row: 1, column, .. } if column == col),
            "{err}"
        );
        assert!(
            err.to_string().contains(&format!("row 1, feature {col}")),
            "{err}"
        );
    }
    let err = w.push(&[0.0; 3], Some(2)).unwrap_err();
    assert!(matches!(
        err,
        StoreError::LabelOutOfRange {
            row: 1,
            label: 2,
            num_classes: 2,
            ..
        }
    ));
    assert!(err.to_string().contains("labels must be in 0..2"), "{err}");
    w.push(&[4.0, 5.0, 6.0], None).unwrap();
    assert_eq!(w.rows_written(), 2);
    w.finish().unwrap();
    let store = RowStore::open(&path).unwrap();
    assert_eq!(store.row(1), Some((vec![4.0, 5.0, 6.0], None)));
    assert_eq!(store.len(), 2);
    // Shapes and paths that cannot be used.
    for (f, c, what) in [(0, 2, "num_features"), (2, 0, "num_classes")] {
        let err = RowStoreWriter::create(&dir.join("x.dkrs"), f, c).unwrap_err();
        assert!(matches!(err, StoreError::InvalidShape { .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
    }
    let err = RowStoreWriter::create(Path::new("/"), 1, 2).unwrap_err();
    assert!(matches!(err, StoreError::InvalidPath { .. }), "{err}");
    assert_eq!(files_in(&dir), ["b.dkrs"]);
}

#[test]
fn unfinished_writers_leave_no_file_and_existing_files_untouched() {
    let dir = test_dir("crash_safety");
    let path = dir.join("s.dkrs");
    let rows = random_rows(&mut StdRng::seed_from_u64(1), 50, 4, 3);
    // Dropped without finish, with and without rows.
    for n in [0, 50] {
        let mut w = RowStoreWriter::create(&path, 4, 3).unwrap();
        for (features, label) in &rows[..n] {
            w.push(features, *label).unwrap();
        }
        assert_eq!(files_in(&dir).len(), 2, "two temporary files while writing");
        drop(w);
        assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
    }
    // A panic while writing unwinds through the writer's Drop.
    let result = std::panic::catch_unwind(|| {
        let mut w = RowStoreWriter::create(&path, 4, 3).unwrap();
        w.push(&[0.0; 4], None).unwrap();
        panic!("caller failed mid-write");
    });
    assert!(result.is_err());
    assert!(files_in(&dir).is_empty());
    // An existing store survives an unfinished rewrite, and is replaced by a finished one.
    write_rows(&path, 4, 3, &rows);
    let before = std::fs::read(&path).unwrap();
    let mut w = RowStoreWriter::create(&path, 4, 3).unwrap();
    w.push(&[1.0; 4], Some(0)).unwrap();
    drop(w);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(files_in(&dir), ["s.dkrs"]);
    // Two writers for the same path at once do not share temporary files.
    let mut a = RowStoreWriter::create(&path, 1, 2).unwrap();
    let mut b = RowStoreWriter::create(&path, 1, 2).unwrap();
    a.push(&[1.0], Some(1)).unwrap();
    b.push(&[2.0], Some(0)).unwrap();
    drop(b);
    a.finish().unwrap();
    assert_eq!(
        RowStore::open(&path).unwrap().row(0),
        Some((vec![1.0], Some(1)))
    );
    assert_eq!(files_in(&dir), ["s.dkrs"]);
}

/// Child half of `a_killed_writer_leaves_no_store`: writes rows, then aborts the process.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os("DK_STORE_CRASH_CHILD") else {
        return;
    };
    let mut w = RowStoreWriter::create(Path::new(&path), 8, 2).unwrap();
    for i in 0..100_000 {
        w.push(&[i as f32; 8], Some(i % 2)).unwrap();
    }
    std::process::abort();
}

#[test]
fn a_killed_writer_leaves_no_store() {
    let dir = test_dir("killed");
    let path = dir.join("k.dkrs");
    let run_child = || {
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env("DK_STORE_CRASH_CHILD", &path)
            .output()
            .unwrap()
            .status;
        assert!(!status.success(), "the child should have aborted");
    };
    run_child();
    assert!(!path.exists());
    write_rows(&path, 2, 2, &vec![(vec![1.0, 2.0], Some(1))]);
    let before = std::fs::read(&path).unwrap();
    run_child();
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // What a killed writer leaves are its hidden temporary files, never the store.
    let left = files_in(&dir);
    assert!(
        left.iter()
            .all(|n| n == "k.dkrs" || n.starts_with(".k.dkrs.")),
        "{left:?}"
    );
}

/// A small valid store, its bytes and its path.
fn small_store(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("ok.dkrs");
    let rows = random_rows(&mut StdRng::seed_from_u64(3), 9, 5, 3);
    write_rows(&path, 5, 3, &rows);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

/// Opens `bytes` written to a file; must fail (never panic) and name the file.
fn open_bytes(path: &Path, bytes: &[u8]) -> StoreError {
    std::fs::write(path, bytes).unwrap();
    let err = RowStore::open(path).expect_err("a damaged store must be refused");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    err
}

#[test]
fn every_flipped_byte_is_detected() {
    let dir = test_dir("flipped");
    let (_, bytes) = small_store(&dir);
    let bad = dir.join("bad.dkrs");
    for at in 0..bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= mask;
            let err = open_bytes(&bad, &b);
            let expected = match at {
                0..8 => matches!(err, StoreError::BadMagic { .. }),
                8..12 => matches!(err, StoreError::UnsupportedVersion { .. }),
                12..HEADER_LEN => matches!(err, StoreError::CorruptHeader { .. }),
                _ => matches!(err, StoreError::Checksum { .. }),
            };
            assert!(expected, "byte {at} ^ {mask:#x}: {err}");
        }
    }
}

#[test]
fn every_cut_and_every_extension_is_detected() {
    let dir = test_dir("cut");
    let (_, bytes) = small_store(&dir);
    let bad = dir.join("bad.dkrs");
    for len in 0..bytes.len() {
        let err = open_bytes(&bad, &bytes[..len]);
        assert!(
            matches!(&err, StoreError::FileLength(l) if l.is_truncated() && l.found == len as u64),
            "cut at {len}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    for extra in [1, 3, 4, 100] {
        let mut b = bytes.clone();
        b.extend(std::iter::repeat_n(0u8, extra));
        let err = open_bytes(&bad, &b);
        assert!(
            matches!(&err, StoreError::FileLength(l) if !l.is_truncated()),
            "{err}"
        );
        assert!(
            err.to_string().contains(&format!("{extra} trailing bytes")),
            "{err}"
        );
    }
    let err = open_bytes(&bad, b"name,age\n1,2\n");
    assert!(matches!(err, StoreError::BadMagic { .. }), "{err}");
    let missing = RowStore::open(&dir.join("none.dkrs")).unwrap_err();
    assert!(matches!(missing, StoreError::Io { .. }), "{missing}");
}

#[test]
fn random_garbage_never_panics() {
    let dir = test_dir("garbage");
    let (_, bytes) = small_store(&dir);
    let bad = dir.join("bad.dkrs");
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..300 {
        let mut b = bytes.clone();
        // Keep the magic most of the time so the deeper checks are reached.
        let from = if rng.random_range(0..4) == 0 { 0 } else { 8 };
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(from..b.len());
            b[at] = rng.random();
        }
        b.truncate(rng.random_range(0..b.len() + 1));
        if b != bytes {
            open_bytes(&bad, &b);
        }
    }
}

/// Rewrites the header and payload checksums of a store's bytes, as a forger would.
fn reseal(b: &mut [u8]) {
    let crc = crc32fast::hash(&b[..HEADER_LEN - 4]);
    b[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    let end = b.len() - 4;
    let crc = crc32fast::hash(&b[HEADER_LEN..end]);
    b[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn values_a_writer_never_writes_are_refused_even_with_valid_checksums() {
    let dir = test_dir("forged");
    let (_, bytes) = small_store(&dir);
    let bad = dir.join("bad.dkrs");
    let (n, f) = (9, 5);
    let labels_at = HEADER_LEN + 4 * n * f;
    // The header's count of unlabelled rows, off by one.
    let unlabeled = u32::from_le_bytes(bytes[40..44].try_into().unwrap());
    let wrong = if unlabeled < 9 {
        unlabeled + 1
    } else {
        unlabeled - 1
    };
    let cases: [(usize, [u8; 4], &str); 4] = [
        (
            HEADER_LEN + 4 * (2 * f + 3),
            f32::NAN.to_le_bytes(),
            "stored row 2 is invalid: feature 3",
        ),
        (
            labels_at + 4 * 4,
            3i32.to_le_bytes(),
            "stored row 4 is invalid: label 3",
        ),
        (
            labels_at + 4 * 8,
            (-2i32).to_le_bytes(),
            "stored row 8 is invalid: label -2",
        ),
        (
            40,
            wrong.to_le_bytes(),
            "rows without label, but the header says",
        ),
    ];
    for (at, value, expected) in cases {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&value);
        reseal(&mut b);
        let err = open_bytes(&bad, &b);
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    // A header whose sizes overflow is refused before anything is read.
    let mut b = bytes.clone();
    b[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal(&mut b);
    assert!(matches!(
        open_bytes(&bad, &b),
        StoreError::CorruptHeader { .. }
    ));
}

/// What the in-memory path gives for a CSV file: the encoder fitted on every row, the
/// encoded rows and the labels, or the error message. In strict mode every row needs a
/// label, checked first, as the CLI does with `TargetEncoding::fit`.
type InMemory = (TabularEncoder, Vec<f32>, Vec<Option<usize>>);

fn in_memory(
    path: &Path,
    config: &TabularConfig,
    options: &CsvStoreOptions,
) -> Result<InMemory, String> {
    let table = CsvTable::from_path(path).map_err(|e| e.to_string())?;
    if !options.missing_target_is_unlabeled {
        TargetEncoding::fit(&table, &config.target, config.positive.as_deref())
            .map_err(|e| e.to_string())?;
    }
    let all: Vec<usize> = (0..table.len()).collect();
    let encoder = TabularEncoder::fit(&table, &all, config).map_err(|e| e.to_string())?;
    let x = encoder
        .encode_rows(&table, &all)
        .map_err(|e| e.to_string())?;
    let y = encoder
        .target
        .labels_partial(&table)
        .map_err(|e| e.to_string())?;
    Ok((encoder, x, y))
}

/// Builds the store of `csv` and checks it against the in-memory path: the same encoder,
/// the same rows bit for bit and the same labels, or the same error and no store. Returns
/// the number of CSV passes, `None` on an error.
fn check_against_in_memory(
    csv: &Path,
    config: &TabularConfig,
    options: &CsvStoreOptions,
    out: &Path,
) -> Option<usize> {
    let _ = std::fs::remove_file(out);
    let expected = in_memory(csv, config, options);
    let mut reports: Vec<CsvProgress> = Vec::new();
    let got = write_csv_store_with(csv, config, options, out, |p| reports.push(p));
    let ((encoder, x, y), summary) = match (expected, got) {
        (Err(want), Err(err)) => {
            assert_eq!(err.to_string(), want);
            assert!(!out.exists(), "no store after an error");
            return None;
        }
        (Ok(_), Err(err)) => panic!("streaming failed where in-memory did not: {err}"),
        (Err(want), Ok(_)) => panic!("streaming succeeded where in-memory failed: {want}"),
        (Ok(expected), Ok((encoder, summary))) => {
            assert_eq!(encoder, expected.0);
            (expected, summary)
        }
    };
    assert_eq!(summary.header.num_rows, y.len());
    assert_eq!(summary.file_bytes, std::fs::metadata(out).unwrap().len());
    // Progress: passes in order, each ending with a report of every row.
    let order = |p: CsvPass| {
        [CsvPass::Scan, CsvPass::Statistics, CsvPass::Encode]
            .iter()
            .position(|&q| q == p)
    };
    assert!(
        reports
            .windows(2)
            .all(|w| order(w[0].pass) <= order(w[1].pass))
    );
    let ends = reports.iter().filter(|r| r.rows_done == y.len()).count();
    assert!(ends >= summary.csv_passes, "{reports:?}");
    let last = reports.last().unwrap();
    assert_eq!(
        (last.pass, last.rows_done, last.total_rows),
        (CsvPass::Encode, y.len(), Some(y.len()))
    );
    let store = RowStore::open(out).unwrap();
    let f = encoder.num_features();
    assert_eq!((store.len(), store.num_features()), (y.len(), f));
    assert_eq!(store.num_classes(), encoder.target.num_classes());
    assert_eq!(
        store.num_unlabeled(),
        y.iter().filter(|l| l.is_none()).count()
    );
    for (i, label) in y.iter().enumerate() {
        let (row, got) = store.row(i).unwrap();
        assert_eq!(bits(&row), bits(&x[i * f..(i + 1) * f]), "row {i}");
        assert_eq!(got, *label, "label of row {i}");
    }
    Some(summary.csv_passes)
}

fn write_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn churn_store_equals_the_in_memory_encoding() {
    let dir = test_dir("churn");
    let csv = write_text(&dir, "churn.csv", CHURN_CSV);
    let out = dir.join("churn.dkrs");
    let mut config = TabularConfig::new("churn");
    config.positive = Some("yes".into());
    check_against_in_memory(&csv, &config, &CsvStoreOptions::default(), &out);
    let (encoder, summary) = write_csv_store(&csv, &config, &out, |_| {}).unwrap();
    assert_eq!((summary.header.num_rows, summary.csv_passes), (5000, 3));
    assert_eq!(encoder.target.classes, ["no", "yes"]);
    // Other settings: forced kinds, dropped and id-like columns.
    config.columns.categorical_columns = vec!["number_customer_service_calls".into()];
    config.columns.numeric_columns = vec!["total_day_calls".into()];
    config.columns.drop_columns = vec!["area_code".into()];
    config.columns.drop_id_like = true;
    config.columns.drop_constant = false;
    check_against_in_memory(&csv, &config, &CsvStoreOptions::default(), &out);
    // The store loads into the dataset the in-memory path builds.
    let table = CsvTable::parse(CHURN_CSV).unwrap();
    let all: Vec<usize> = (0..table.len()).collect();
    let enc = TabularEncoder::fit(&table, &all, &config).unwrap();
    let ds = RowStore::open(&out)
        .unwrap()
        .to_dataset(&Device::flex())
        .unwrap();
    let expected = enc.encode_rows(&table, &all).unwrap();
    assert_eq!(bits(&to_vec_f32(ds.features().clone())), bits(&expected));
    let labels: Vec<i64> = enc
        .target
        .labels(&table)
        .unwrap()
        .iter()
        .map(|&l| l as i64)
        .collect();
    assert_eq!(to_vec_i64(ds.labels().clone()), labels);
}

/// A random CSV cell generator for one column.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Float,
    Huge,
    Int,
    Levels,
    MostlyNumbers,
    Constant,
    Id,
    NanSpellings,
}

const KINDS: [Kind; 8] = [
    Kind::Float,
    Kind::Huge,
    Kind::Int,
    Kind::Levels,
    Kind::MostlyNumbers,
    Kind::Constant,
    Kind::Id,
    Kind::NanSpellings,
];

fn cell(rng: &mut StdRng, kind: Kind, row: usize) -> String {
    let x: f64 = rng.random_range(-1e3..1e3);
    match kind {
        Kind::Float => match rng.random_range(0..4) {
            0 => format!("{x:e}"),
            1 => format!("{x:.3}"),
            2 => "-0".into(),
            _ => format!("{x}"),
        },
        Kind::Huge => format!("{:e}", x * 1e200),
        Kind::Int => rng.random_range(0..5).to_string(),
        Kind::Levels => {
            ["a", "b", "KS", "x y", "comma,here", "say \"hi\"", "ü"][rng.random_range(0..7)].into()
        }
        Kind::MostlyNumbers if rng.random_range(0..40) == 0 => "?".into(),
        Kind::MostlyNumbers => format!("{}", rng.random_range(0..30)),
        Kind::Constant => "7".into(),
        Kind::Id => format!("id{row}"),
        Kind::NanSpellings => ["nan", "-nan", "NaN", "1.5", "2"][rng.random_range(0..5)].into(),
    }
}

fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A random table, its configuration and options; sometimes with a defect the two paths
/// must report identically (an infinite number, a text in a forced-numeric column, a ragged
/// row, a missing label in strict mode, an unknown positive label, no rows, one class).
fn random_case(seed: u64) -> (String, TabularConfig, CsvStoreOptions) {
    let mut rng = StdRng::seed_from_u64(seed);
    let num_cols = rng.random_range(1..7);
    let kinds: Vec<Kind> = (0..num_cols)
        .map(|_| KINDS[rng.random_range(0..KINDS.len())])
        .collect();
    let missing: Vec<f64> = (0..num_cols)
        .map(|_| [0.0, 0.0, 0.1, 0.5, 1.0][rng.random_range(0..5)])
        .collect();
    let target_at = rng.random_range(0..num_cols + 1);
    let classes: &[&str] = match rng.random_range(0..10) {
        0 => &["only"],
        1..5 => &["1", "2", "10"],
        _ => &["no", "yes", "maybe"],
    };
    let partial = rng.random_range(0..2) == 0;
    let rows = [0, 1, 2, 5, 60, 150, 150, 150, 150, 150][rng.random_range(0..10)];
    let eol = ["\n", "\r\n"][rng.random_range(0..2)];
    let mut names: Vec<String> = (0..num_cols).map(|c| format!("c{c}")).collect();
    names.insert(target_at, " y ".into());
    let mut text = names.join(",") + eol;
    let defect = rng.random_range(0..16);
    for row in 0..rows {
        let mut cells: Vec<String> = kinds
            .iter()
            .zip(&missing)
            .map(|(&kind, &p)| {
                if rng.random_bool(p) {
                    ["", "NA", "n/a", "null", " NaN "][rng.random_range(0..5)].into()
                } else if rng.random_range(0..6) == 0 {
                    format!(" {} ", cell(&mut rng, kind, row))
                } else {
                    cell(&mut rng, kind, row)
                }
            })
            .collect();
        let label = if rng.random_range(0..10) == 0 && (partial || defect == 0) {
            String::new()
        } else {
            classes[rng.random_range(0..classes.len())].to_string()
        };
        cells.insert(target_at, label);
        if defect == 1 && row == rows / 2 && num_cols > 0 {
            cells[(target_at + 1) % (num_cols + 1)] = "inf".into();
        }
        if defect == 2 && row == rows * 2 / 3 {
            cells.pop();
        }
        let line: Vec<String> = cells.iter().map(|c| quoted(c)).collect();
        text += &line.join(",");
        text += eol;
        if rng.random_range(0..15) == 0 {
            text += eol; // a blank line
        }
    }
    let mut config = TabularConfig::new("y");
    config.columns.drop_constant = rng.random_bool(0.7);
    config.columns.drop_id_like = rng.random_bool(0.5);
    config.positive = match rng.random_range(0..4) {
        0 => Some(classes[0].to_string()),
        1 if defect == 3 => Some("nope".into()),
        _ => None,
    };
    for (c, kind) in kinds.iter().enumerate() {
        let name = format!("c{c}");
        match rng.random_range(0..8) {
            0 => config.columns.drop_columns.push(name),
            1 => config.columns.categorical_columns.push(name),
            2 if matches!(kind, Kind::Float | Kind::Int) || defect == 4 => {
                config.columns.numeric_columns.push(name)
            }
            _ => {}
        }
    }
    let options = CsvStoreOptions {
        missing_target_is_unlabeled: partial,
    };
    (text, config, options)
}

#[test]
fn random_tables_give_the_in_memory_encoder_and_rows() {
    let dir = test_dir("random_tables");
    let out = dir.join("t.dkrs");
    let (mut ok, mut failed) = (0, 0);
    for seed in 0..300 {
        let (text, config, options) = random_case(seed);
        let csv = write_text(&dir, "t.csv", &text);
        match check_against_in_memory(&csv, &config, &options, &out) {
            None => failed += 1,
            Some(_) => ok += 1,
        }
    }
    // Both outcomes are exercised, many times.
    assert!(ok > 100 && failed > 30, "{ok} stores, {failed} errors");
}

#[test]
fn statistics_passes_follow_what_the_columns_need() {
    let dir = test_dir("passes");
    let out = dir.join("p.dkrs");
    let opts = CsvStoreOptions::default();
    let config = TabularConfig::new("y");
    let mut categorical = String::from("c,y\n");
    let mut numeric = String::from("c,x,y\n");
    let mut huge = String::from("x,y\n");
    // More distinct numbers than a numeric-looking column keeps as levels, then a text: the
    // column is categorical and its levels are gathered in a second pass.
    let mut flips = String::from("z,y\n");
    for i in 0..1500 {
        let y = ["a", "b"][i % 2];
        categorical += &format!("{},{y}\n", ["u", "v", "w"][i % 3]);
        numeric += &format!("{},{},{y}\n", ["u", "v"][i % 2], i as f64 * 0.37 - 100.0);
        huge += &format!("{:e},{y}\n", (i as f64 - 700.3) * 1e250);
        flips += &format!("{},{y}\n", (i * 7919) % 100_003);
    }
    flips += "unknown,a\n";
    let cases = [(categorical, 2), (numeric, 3), (huge, 4), (flips, 3)];
    for (i, (text, passes)) in cases.iter().enumerate() {
        let csv = write_text(&dir, &format!("{i}.csv"), text);
        assert_eq!(
            check_against_in_memory(&csv, &config, &opts, &out),
            Some(*passes),
            "case {i}"
        );
    }
    let (encoder, _) = write_csv_store(&dir.join("3.csv"), &config, &out, |_| {}).unwrap();
    assert_eq!(encoder.num_features(), 1501 + 2);
}

#[test]
fn csv_errors_name_the_line_and_leave_an_existing_store_alone() {
    let dir = test_dir("csv_errors");
    let out = dir.join("e.dkrs");
    write_rows(&out, 1, 2, &vec![(vec![1.0], Some(0))]);
    let before = std::fs::read(&out).unwrap();
    let config = TabularConfig::new("y");
    let strict = CsvStoreOptions::default();
    let cases = [
        // A quoted line break and a blank line come before the ragged record on line 6.
        (
            "x,c,y\n1,\"a\nb\",p\n\n2,b,q\n3,q\n",
            "line 6: expected 3 fields",
        ),
        (
            "x,y\r\n1,p\r\n-inf,q\r\n",
            "line 3, column \"x\": \"-inf\" is infinite",
        ),
        (
            "x,y\n1,p\n2,\n3,q\n",
            "line 3, column \"y\": the target value is missing",
        ),
        ("x,y\n1,p\n2,p\n", "has only one class"),
        ("x,y\n", "header line but no data rows"),
        ("", "the CSV input is empty"),
    ];
    for (i, (text, message)) in cases.iter().enumerate() {
        let csv = write_text(&dir, &format!("{i}.csv"), text);
        let err = write_csv_store(&csv, &config, &out, |_| {}).unwrap_err();
        assert!(err.to_string().contains(message), "case {i}: {err}");
        assert_eq!(
            check_against_in_memory(&csv, &config, &strict, &dir.join("n.dkrs")),
            None
        );
        assert_eq!(std::fs::read(&out).unwrap(), before, "case {i}");
    }
    // The CSV itself is refused as the output path.
    let csv = dir.join("0.csv");
    let text = std::fs::read(&csv).unwrap();
    let err = write_csv_store(&csv, &config, &dir.join(".").join("0.csv"), |_| {}).unwrap_err();
    assert!(matches!(err, StoreError::InvalidPath { .. }), "{err}");
    assert_eq!(std::fs::read(&csv).unwrap(), text);
    // The missing label is allowed when asked for, and the row is stored without label.
    let partial = CsvStoreOptions {
        missing_target_is_unlabeled: true,
    };
    let csv = write_text(&dir, "partial.csv", "x,y\n1,p\n2,\n3,q\n");
    let (_, summary) = write_csv_store_with(&csv, &config, &partial, &out, |_| {}).unwrap();
    assert_eq!(summary.header.num_unlabeled, 1);
    assert_eq!(RowStore::open(&out).unwrap().label(1), Some(None));
    assert_eq!(
        check_against_in_memory(&csv, &config, &partial, &out),
        Some(3)
    );
    assert_eq!(
        files_in(&dir).iter().filter(|n| n.starts_with('.')).count(),
        0
    );
}

#[test]
fn header_errors_come_before_reading_the_rows() {
    let dir = test_dir("header_errors");
    // A ragged row the in-memory path would report first.
    let csv = write_text(&dir, "h.csv", "x,y\n1,p\n2\n");
    let out = dir.join("h.dkrs");
    let mut config = TabularConfig::new("label");
    let err = write_csv_store(&csv, &config, &out, |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("no column named \"label\""),
        "{err}"
    );
    config.target = "y".into();
    config.columns.drop_columns = vec!["z".into()];
    let err = write_csv_store(&csv, &config, &out, |_| {}).unwrap_err();
    assert!(
        err.to_string()
            .contains("config field drop_columns names column \"z\""),
        "{err}"
    );
    config.columns.drop_columns.clear();
    config.columns.categorical_columns = vec!["x".into()];
    config.columns.numeric_columns = vec!["x".into()];
    let err = write_csv_store(&csv, &config, &out, |_| {}).unwrap_err();
    assert!(err.to_string().contains("listed in both"), "{err}");
    assert!(!out.exists());
}

#[test]
fn a_csv_changed_between_passes_is_an_error() {
    let dir = test_dir("changed");
    let csv = write_text(&dir, "c.csv", "x,y\n1,p\n2,q\n3,p\n");
    let out = dir.join("c.dkrs");
    let config = TabularConfig::new("y");
    let edits: [(&str, &str); 3] = [
        ("x,y\n1,p\n2,q\n3,p\n4,q\n", "it has more than 3 data rows"),
        ("x,y\n1,p\n2,q\n", "it has 2 data rows, not 3"),
        ("z,y\n1,p\n2,q\n3,p\n", "its header line is different"),
    ];
    for (edit, message) in edits {
        std::fs::write(&csv, "x,y\n1,p\n2,q\n3,p\n").unwrap();
        let err = write_csv_store(&csv, &config, &out, |p| {
            if p.pass == CsvPass::Scan && p.rows_done == 3 {
                std::fs::write(&csv, edit).unwrap();
            }
        })
        .unwrap_err();
        assert!(matches!(err, StoreError::CsvChanged { .. }), "{err}");
        assert!(err.to_string().contains(message), "{err}");
        assert!(!out.exists());
    }
}

/// `VmHWM` / `RssAnon` of this process, in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Child half of the memory tests, run in its own process so that its peak memory is its
/// own: with `DK_STORE_MEMORY_MODE=rows`, writes then reads every row of a store of
/// `DK_STORE_MEMORY_ROWS` rows of 64 features; with `csv`, writes a CSV of that many rows,
/// then builds its store with `write_csv_store`. Prints its memory (kB) after `DKMEM`.
#[test]
fn memory_child() {
    let (Some(path), Ok(rows), Ok(mode)) = (
        std::env::var_os("DK_STORE_MEMORY_CHILD"),
        std::env::var("DK_STORE_MEMORY_ROWS"),
        std::env::var("DK_STORE_MEMORY_MODE"),
    ) else {
        return;
    };
    let (path, rows): (PathBuf, usize) = (path.into(), rows.parse().unwrap());
    let report = match mode.as_str() {
        "rows" => rows_memory(&path, rows),
        _ => csv_memory(&path, rows),
    };
    std::fs::remove_file(&path).unwrap();
    let report: Vec<String> = report.iter().map(u64::to_string).collect();
    println!("DKMEM {}", report.join(" "));
}

/// Peak resident memory at the start, after writing and after opening; anonymous (heap)
/// memory at the start and its peak while reading every row; peak resident memory after
/// reading (which counts the pages of the mapped file that the reads brought in).
fn rows_memory(path: &Path, rows: usize) -> Vec<u64> {
    let (start, anon_start) = (status_kb("VmHWM"), status_kb("RssAnon"));
    let mut w = RowStoreWriter::create(path, 64, 10).unwrap();
    let mut row = vec![0.5f32; 64];
    for i in 0..rows {
        row[i % 64] = i as f32;
        w.push(&row, (i % 7 != 0).then_some(i % 10)).unwrap();
    }
    w.finish().unwrap();
    let written = status_kb("VmHWM");
    let store = RowStore::open(path).unwrap();
    let opened = status_kb("VmHWM");
    let (mut anon, mut sum, mut buf) = (anon_start, 0.0f64, Vec::new());
    for i in 0..store.len() {
        store.row_into(i, &mut buf).unwrap();
        sum += f64::from(buf[i % 64]);
        if i % 8192 == 0 {
            anon = anon.max(status_kb("RssAnon"));
        }
    }
    assert!(sum > 0.0);
    let read = status_kb("VmHWM");
    vec![start, written, opened, anon_start, anon, read]
}

/// Peak resident memory before and after building the store of a generated CSV.
fn csv_memory(path: &Path, rows: usize) -> Vec<u64> {
    use std::io::Write as _;
    let csv = path.with_extension("csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(out, "x,n,c,t,y").unwrap();
    for i in 0..rows {
        let (x, c) = (
            (i as f64 * 0.618).fract() * 100.0,
            ["a", "b", "c", "d"][i % 4],
        );
        let t = if i % 11 == 0 {
            "NA".to_string()
        } else {
            (i % 97).to_string()
        };
        writeln!(out, "{x},{},{c},{t},{}", i % 13, ["no", "yes"][i % 3 / 2]).unwrap();
    }
    drop(out);
    let start = status_kb("VmHWM");
    let config = TabularConfig::new("y");
    let (encoder, summary) = write_csv_store(&csv, &config, path, |_| {}).unwrap();
    assert_eq!(
        (summary.header.num_rows, encoder.num_features()),
        (rows, 10)
    );
    let after = status_kb("VmHWM");
    std::fs::remove_file(&csv).unwrap();
    vec![start, after]
}

/// Runs `memory_child` in a child process; returns what it printed.
fn child_memory(path: &Path, mode: &str, rows: usize) -> Vec<u64> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "memory_child", "--nocapture", "--test-threads=1"])
        .env("DK_STORE_MEMORY_CHILD", path)
        .env("DK_STORE_MEMORY_ROWS", rows.to_string())
        .env("DK_STORE_MEMORY_MODE", mode)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest prints `test memory_child ... ` before the child's own output.
    let line = stdout
        .lines()
        .find_map(|l| Some(&l[l.find("DKMEM ")? + 6..]))
        .unwrap();
    line.split(' ').map(|x| x.parse().unwrap()).collect()
}

#[test]
fn memory_does_not_grow_with_the_rows() {
    let dir = test_dir("memory");
    // 260 bytes a row: ~8 MB and ~100 MB stores.
    let small = child_memory(&dir.join("small.dkrs"), "rows", 32_000);
    let large = child_memory(&dir.join("large.dkrs"), "rows", 400_000);
    let growth = |m: &[u64], what: &str| match what {
        "writing" => m[1] - m[0],
        "opening" => m[2] - m[0],
        _ => m[4].saturating_sub(m[3]),
    };
    for what in ["writing", "opening", "reading"] {
        let (s, l) = (growth(&small, what), growth(&large, what));
        // Holding the rows would add ~90 MB to the large run.
        assert!(
            l < s + 8_000,
            "{what}: +{s} kB for 8 MB, +{l} kB for 100 MB"
        );
    }
    eprintln!("memory (kB) for 8 MB: {small:?}; for 100 MB: {large:?}");
}

#[test]
fn csv_path_memory_does_not_grow_with_the_rows() {
    let dir = test_dir("csv_memory");
    // ~1 MB and ~12 MB of CSV; the in-memory table of the larger would take ~60 MB.
    let small = child_memory(&dir.join("small.dkrs"), "csv", 25_000);
    let large = child_memory(&dir.join("large.dkrs"), "csv", 300_000);
    let (s, l) = (small[1] - small[0], large[1] - large[0]);
    assert!(
        l < s + 8_000,
        "+{s} kB for 25 000 rows, +{l} kB for 300 000"
    );
    eprintln!("csv memory (kB) for 25 000 rows: {small:?}; for 300 000: {large:?}");
}
