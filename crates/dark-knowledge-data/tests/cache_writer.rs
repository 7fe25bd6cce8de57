//! Writer validation, atomicity and temp-file cleanup.

#[path = "cache_common/mod.rs"]
mod common;

use std::path::Path;

use common::{Rng, header, test_dir};
use dark_knowledge_data::cache::{CacheDtype, CacheError, CacheWriter, TeacherCache};

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn nan_logit_is_rejected_naming_the_row_and_nothing_is_written() {
    let dir = test_dir("nan");
    let path = dir.join("c.dktc");
    let mut rng = Rng(20);
    for top_k in [None, Some(2)] {
        let mut w = CacheWriter::create(&path, header(6, 4, CacheDtype::F32, top_k)).unwrap();
        w.push(&rng.logits(3 * 4, 3.0)).unwrap();
        let mut batch = rng.logits(3 * 4, 3.0);
        batch[2 * 4 + 1] = f32::NAN; // third row of the batch = global row 5
        let err = w.push(&batch).unwrap_err();
        assert!(
            matches!(
                err,
                CacheError::NonFiniteLogit {
                    row: 5,
                    class: 1,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("row 5"), "{err}");
        batch[2 * 4 + 1] = f32::INFINITY;
        assert!(matches!(
            w.push(&batch),
            Err(CacheError::NonFiniteLogit { row: 5, .. })
        ));
        // The rejected batch left no trace: a good batch still completes the file.
        assert_eq!(w.rows_written(), 3);
        batch[2 * 4 + 1] = 0.5;
        w.push(&batch).unwrap();
        w.finish().unwrap();
        assert_eq!(TeacherCache::open(&path).unwrap().num_rows(), 6);
    }
}

#[test]
fn finish_with_too_few_rows_fails_and_leaves_no_file() {
    let dir = test_dir("too_few");
    let path = dir.join("c.dktc");
    let mut w = CacheWriter::create(&path, header(4, 3, CacheDtype::F16, None)).unwrap();
    w.push(&[1.0; 9]).unwrap();
    let err = w.finish().unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::RowCount {
                expected: 4,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("c.dktc"));
    assert!(!path.exists());
    assert_eq!(dir_entries(&dir), Vec::<String>::new());
}

#[test]
fn dropped_writer_removes_its_temp_file() {
    let dir = test_dir("dropped");
    let path = dir.join("c.dktc");
    let mut w = CacheWriter::create(&path, header(2, 3, CacheDtype::F32, None)).unwrap();
    w.push(&[1.0, 2.0, 3.0]).unwrap();
    let tmp = format!(".c.dktc.tmp-{}", std::process::id());
    assert_eq!(dir_entries(&dir), vec![tmp], "writes go to the temp file");
    drop(w);
    assert_eq!(dir_entries(&dir), Vec::<String>::new());
}

#[test]
fn finish_replaces_existing_file_atomically() {
    let dir = test_dir("replace");
    let path = dir.join("c.dktc");
    std::fs::write(&path, b"old contents").unwrap();
    let mut w = CacheWriter::create(&path, header(1, 2, CacheDtype::F32, None)).unwrap();
    w.push(&[4.0, 5.0]).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
    w.finish().unwrap();
    let mut out = [0.0; 2];
    TeacherCache::open(&path)
        .unwrap()
        .dense_row(0, &mut out)
        .unwrap();
    assert_eq!(out, [4.0, 5.0]);
    assert_eq!(dir_entries(&dir), vec!["c.dktc".to_string()]);
}

#[test]
fn push_shape_and_count_errors() {
    let dir = test_dir("shape");
    let path = dir.join("c.dktc");
    let mut w = CacheWriter::create(&path, header(2, 3, CacheDtype::F32, None)).unwrap();
    let err = w.push(&[1.0; 4]).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::PartialRow {
                len: 4,
                num_classes: 3,
                ..
            }
        ),
        "{err}"
    );
    let err = w.push(&[1.0; 9]).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::TooManyRows {
                pushing: 3,
                num_rows: 2,
                ..
            }
        ),
        "{err}"
    );
    w.push(&[]).unwrap();
    w.push(&[1.0; 6]).unwrap();
    assert!(matches!(
        w.push(&[1.0; 3]),
        Err(CacheError::TooManyRows { .. })
    ));
    w.finish().unwrap();
}

#[test]
fn f16_overflow_is_rejected() {
    let dir = test_dir("f16_overflow");
    let path = dir.join("c.dktc");
    for top_k in [None, Some(1)] {
        let mut w = CacheWriter::create(&path, header(1, 2, CacheDtype::F16, top_k)).unwrap();
        let err = w.push(&[1e5, 0.0]).unwrap_err();
        assert!(
            matches!(err, CacheError::Unrepresentable { row: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("f16"));
    }
    // The rest log-sum-exp can overflow f16 even when every logit fits
    // (65519 rounds to the f16 maximum 65504; 65519 + ln 3 rounds to inf).
    let mut w = CacheWriter::create(&path, header(1, 4, CacheDtype::F16, Some(1))).unwrap();
    w.push(&[65519.0, 0.0, 0.0, 0.0]).unwrap();
    let mut w = CacheWriter::create(&path, header(1, 4, CacheDtype::F16, Some(1))).unwrap();
    let err = w.push(&[65519.0; 4]).unwrap_err();
    assert!(matches!(err, CacheError::Unrepresentable { .. }), "{err}");
}

#[test]
fn invalid_headers_are_rejected_by_create() {
    let dir = test_dir("create_header");
    let path = dir.join("c.dktc");
    let mut bad = vec![
        header(1, 0, CacheDtype::F32, None),
        header(1, 3, CacheDtype::F32, Some(0)),
        header(1, 3, CacheDtype::F32, Some(4)),
        header(1, 3, CacheDtype::F32, None),
        header(1, 3, CacheDtype::F32, None),
    ];
    bad[3].dataset_fingerprint = "0123456789ABCDEF".into();
    bad[4].version = 2;
    for h in bad {
        let err = CacheWriter::create(&path, h).unwrap_err();
        assert!(
            matches!(
                err,
                CacheError::Header { .. } | CacheError::UnsupportedVersion { .. }
            ),
            "{err}"
        );
    }
    assert_eq!(dir_entries(&dir), Vec::<String>::new());
    let err = CacheWriter::create(Path::new("/"), header(1, 1, CacheDtype::F32, None));
    assert!(matches!(err, Err(CacheError::InvalidPath { .. })));
    // Missing folders are created; a folder that is a file is an I/O error naming it.
    let nested = dir.join("new/folder/c.dktc");
    drop(CacheWriter::create(&nested, header(1, 1, CacheDtype::F32, None)).unwrap());
    std::fs::write(dir.join("a_file"), b"x").unwrap();
    let blocked = dir.join("a_file/c.dktc");
    let err = CacheWriter::create(&blocked, header(1, 1, CacheDtype::F32, None)).unwrap_err();
    assert!(matches!(err, CacheError::Io { .. }), "{err}");
    assert!(err.to_string().contains("a_file"), "{err}");
}
