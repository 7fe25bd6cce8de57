//! Malformed inputs: each must produce a specific, informative error.
#[path = "logits_common/mod.rs"]
mod common;

use common::*;
use dark_knowledge_data::logits::{ImportError, read_logits, read_npy, read_safetensors};

fn npy_err(test: &str, bytes: &[u8]) -> (ImportError, String) {
    let dir = tmp_dir(test);
    let p = write(&dir, "bad.npy", bytes);
    let e = read_npy(&p).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(p.to_str().unwrap()), "path missing: {msg}");
    (e, msg)
}

fn st_err(test: &str, bytes: &[u8], tensor: Option<&str>) -> (ImportError, String) {
    let dir = tmp_dir(test);
    let p = write(&dir, "bad.safetensors", bytes);
    let e = read_safetensors(&p, tensor).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(p.to_str().unwrap()), "path missing: {msg}");
    (e, msg)
}

#[test]
fn wrong_magic() {
    let mut bytes = npy_bytes(1, &npy_dict("<f4", false, &[1, 1]), &f32_le(&[1.0]));
    bytes[1] = b'X';
    let (e, msg) = npy_err("err_magic", &bytes);
    assert!(matches!(e, ImportError::InvalidNpy { .. }), "{e:?}");
    assert!(msg.contains("magic"), "{msg}");
    // read_logits: neither npy nor safetensors.
    let dir = tmp_dir("err_magic_logits");
    let p = write(&dir, "model.pt", b"PK\x03\x04 this is a zip archive");
    let e = read_logits(&p, None).unwrap_err();
    assert!(matches!(e, ImportError::UnknownFormat { .. }), "{e:?}");
}

#[test]
fn unsupported_version() {
    let mut bytes = npy_bytes(1, &npy_dict("<f4", false, &[1, 1]), &f32_le(&[1.0]));
    bytes[6] = 4;
    let (_, msg) = npy_err("err_version", &bytes);
    assert!(
        msg.contains("4.0") && msg.contains("1.0, 2.0, 3.0"),
        "{msg}"
    );
}

#[test]
fn one_dimensional_shape() {
    let bytes = npy_bytes(1, &npy_dict("<f4", false, &[5]), &f32_le(&[1.0; 5]));
    let (e, msg) = npy_err("err_1d", &bytes);
    assert!(matches!(e, ImportError::NotTwoDimensional { .. }), "{e:?}");
    assert!(
        msg.contains("[rows, classes]") && msg.contains("1-D"),
        "{msg}"
    );
}

#[test]
fn three_dimensional_shape() {
    let bytes = npy_bytes(1, &npy_dict("<f4", false, &[2, 2, 2]), &f32_le(&[1.0; 8]));
    let (e, msg) = npy_err("err_3d", &bytes);
    assert!(matches!(e, ImportError::NotTwoDimensional { .. }), "{e:?}");
    assert!(msg.contains("3-D") && msg.contains("[2, 2, 2]"), "{msg}");
}

#[test]
fn empty_matrix() {
    let bytes = npy_bytes(1, &npy_dict("<f4", false, &[0, 10]), &[]);
    let (e, _) = npy_err("err_empty", &bytes);
    assert!(matches!(e, ImportError::EmptyMatrix { .. }), "{e:?}");
}

#[test]
fn integer_and_other_dtypes() {
    for (i, descr) in ["<i8", "|u1", "<c8", "|O", "<M8[ns]", "f4"]
        .iter()
        .enumerate()
    {
        let bytes = npy_bytes(1, &npy_dict(descr, false, &[2, 2]), &[0u8; 32]);
        let (e, msg) = npy_err(&format!("err_dtype_{i}"), &bytes);
        assert!(matches!(e, ImportError::UnsupportedDtype { .. }), "{e:?}");
        assert!(msg.contains(descr) && msg.contains("'<f4'"), "{msg}");
    }
}

#[test]
fn truncated_data() {
    let data = f32_le(&distinct(3, 4));
    let bytes = npy_bytes(1, &npy_dict("<f4", false, &[3, 4]), &data[..40]);
    let (e, msg) = npy_err("err_trunc", &bytes);
    assert!(
        matches!(
            e,
            ImportError::FileLength(ref l) if l.is_truncated() && (l.expected, l.found) == (48, 40)
        ),
        "{e:?}"
    );
    assert!(
        msg.contains("truncated") && msg.contains("48") && msg.contains("40"),
        "{msg}"
    );
}

#[test]
fn trailing_bytes() {
    let mut data = f32_le(&distinct(3, 4));
    data.extend([0, 0, 0]);
    let bytes = npy_bytes(1, &npy_dict("<f4", false, &[3, 4]), &data);
    let (e, msg) = npy_err("err_trailing", &bytes);
    assert!(
        matches!(
            e,
            ImportError::FileLength(ref l) if !l.is_truncated() && (l.expected, l.found) == (48, 51)
        ),
        "{e:?}"
    );
    assert!(msg.contains("3 trailing bytes"), "{msg}");
}

#[test]
fn nan_and_inf_name_row_and_column() {
    let mut v = distinct(3, 4);
    v[6] = f32::NAN; // row 1, column 2
    v[9] = f32::INFINITY;
    let bytes = npy_bytes(1, &npy_dict("<f4", false, &[3, 4]), &f32_le(&v));
    let (e, msg) = npy_err("err_nan", &bytes);
    assert!(
        matches!(e, ImportError::NonFinite { row: 1, col: 2, .. }),
        "{e:?}"
    );
    assert!(
        msg.contains("row 1, column 2") && msg.contains("NaN"),
        "{msg}"
    );

    let mut v = distinct(2, 2);
    v[3] = f32::NEG_INFINITY;
    let bytes = safetensors_bytes(&[St {
        name: "t",
        dtype: "F32",
        shape: vec![2, 2],
        data: f32_le(&v),
    }]);
    let (e, msg) = st_err("err_st_inf", &bytes, None);
    assert!(
        matches!(e, ImportError::NonFinite { row: 1, col: 1, .. }),
        "{e:?}"
    );
    assert!(msg.contains("-inf"), "{msg}");
}

#[test]
fn f64_overflowing_f32() {
    let bytes = npy_bytes(
        1,
        &npy_dict("<f8", false, &[1, 3]),
        &f64_le(&[1.0, -1e300, 2.0]),
    );
    let (e, msg) = npy_err("err_overflow", &bytes);
    assert!(
        matches!(e, ImportError::Overflow { row: 0, col: 1, .. }),
        "{e:?}"
    );
    assert!(msg.contains("overflows float32"), "{msg}");
}

#[test]
fn npy_header_length_larger_than_file() {
    let mut bytes = npy_bytes(1, &npy_dict("<f4", false, &[1, 1]), &f32_le(&[1.0]));
    bytes[8..10].copy_from_slice(&60000u16.to_le_bytes());
    let (_, msg) = npy_err("err_npy_hlen", &bytes);
    assert!(msg.contains("header length 60000"), "{msg}");
}

#[test]
fn safetensors_header_length_larger_than_file() {
    let good = safetensors_bytes(&[St {
        name: "t",
        dtype: "F32",
        shape: vec![1, 1],
        data: f32_le(&[1.0]),
    }]);
    let mut bytes = good.clone();
    bytes[..8].copy_from_slice(&(good.len() as u64).to_le_bytes());
    let (_, msg) = st_err("err_st_hlen", &bytes, None);
    assert!(msg.contains("larger than"), "{msg}");
    bytes[..8].copy_from_slice(&(200_000_000u64).to_le_bytes());
    let (_, msg) = st_err("err_st_hlen_huge", &bytes, None);
    assert!(msg.contains("exceeds the limit"), "{msg}");
    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    st_err("err_st_hlen_max", &bytes, None);
}

#[test]
fn safetensors_offsets_out_of_range_or_wrong_size() {
    let json = r#"{"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 64]}}"#;
    let (e, msg) = st_err("err_st_off", &safetensors_raw(json, &[0u8; 16]), None);
    assert!(matches!(e, ImportError::InvalidSafetensors { .. }), "{e:?}");
    assert!(msg.contains("outside the data buffer"), "{msg}");

    let json = r#"{"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 4]}}"#;
    let (_, msg) = st_err("err_st_off_rev", &safetensors_raw(json, &[0u8; 16]), None);
    assert!(msg.contains("outside the data buffer"), "{msg}");

    let json = r#"{"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}"#;
    let (_, msg) = st_err("err_st_span", &safetensors_raw(json, &[0u8; 16]), None);
    assert!(
        msg.contains("span 12 bytes") && msg.contains("needs 16"),
        "{msg}"
    );

    let json =
        r#"{"t": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 16]}}"#;
    st_err(
        "err_st_huge_shape",
        &safetensors_raw(json, &[0u8; 16]),
        None,
    );
}

#[test]
fn safetensors_invalid_json() {
    for (i, json) in [
        "{\"t\": ",
        "[1, 2, 3]",
        r#"{"t": {"dtype": "F32", "shape": [1, 1]}}"#,
        r#"{"t": {"dtype": "F32", "shape": [-1, 1], "data_offsets": [0, 4]}}"#,
        r#"{"t": 5}"#,
    ]
    .iter()
    .enumerate()
    {
        let (e, _) = st_err(
            &format!("err_st_json_{i}"),
            &safetensors_raw(json, &[0u8; 4]),
            None,
        );
        assert!(
            matches!(e, ImportError::InvalidSafetensors { .. }),
            "{json}: {e:?}"
        );
    }
}

#[test]
fn check_shape_mismatch() {
    let dir = tmp_dir("err_check_shape");
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(
            1,
            &npy_dict("<f4", false, &[3, 4]),
            &f32_le(&distinct(3, 4)),
        ),
    );
    let m = read_npy(&p).unwrap();
    m.check_shape(3, 4).unwrap();
    let e = m.check_shape(3, 5).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(p.to_str().unwrap()), "{msg}");
    assert!(
        msg.contains("expected logits of shape [3, 5], found [3, 4]"),
        "{msg}"
    );
    assert!(!msg.contains("transposed"), "{msg}");
    let msg = m.check_shape(4, 3).unwrap_err().to_string();
    assert!(msg.contains("transposed"), "{msg}");
}

#[test]
fn missing_file() {
    let dir = tmp_dir("err_missing");
    let p = dir.join("nope.npy");
    let e = read_logits(&p, None).unwrap_err();
    assert!(matches!(e, ImportError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("nope.npy"));
}
