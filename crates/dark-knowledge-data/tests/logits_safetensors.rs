//! Reading valid safetensors files and selecting tensors.
#[path = "logits_common/mod.rs"]
mod common;

use common::*;
use dark_knowledge_data::logits::{ImportError, read_logits, read_safetensors};

fn st<'a>(name: &'a str, dtype: &'a str, shape: &[u64], data: Vec<u8>) -> St<'a> {
    St {
        name,
        dtype,
        shape: shape.to_vec(),
        data,
    }
}

#[test]
fn f32_single_tensor_without_name() {
    let dir = tmp_dir("st_f32");
    let v = distinct(3, 4);
    let p = write(
        &dir,
        "a.safetensors",
        &safetensors_bytes(&[st("logits", "F32", &[3, 4], f32_le(&v))]),
    );
    let m = read_safetensors(&p, None).unwrap();
    assert_eq!((m.rows, m.cols), (3, 4));
    assert_eq!(m.values, v);
    assert_eq!(read_safetensors(&p, Some("logits")).unwrap(), m);
    assert_eq!(read_logits(&p, None).unwrap(), m);
}

#[test]
fn f64_tensor() {
    let dir = tmp_dir("st_f64");
    let v = [1.5f64, -2.25, 1e10, 0.0, -1e-5, 7.0];
    let p = write(
        &dir,
        "a.st",
        &safetensors_bytes(&[st("x", "F64", &[3, 2], f64_le(&v))]),
    );
    let m = read_safetensors(&p, None).unwrap();
    assert_eq!(m.values, v.iter().map(|&x| x as f32).collect::<Vec<_>>());
}

#[test]
fn bf16_and_f16_tensors() {
    let dir = tmp_dir("st_bf16");
    let v = [0.5f32, -1.0, 2.0, 256.0, -0.25, 3.0];
    let bytes = safetensors_bytes(&[
        st("b", "BF16", &[2, 3], bf16_le(&v)),
        st("h", "F16", &[3, 2], f16_le(&v)),
    ]);
    let p = write(&dir, "a.st", &bytes);
    let b = read_safetensors(&p, Some("b")).unwrap();
    assert_eq!((b.rows, b.cols, b.values.as_slice()), (2, 3, &v[..]));
    let h = read_safetensors(&p, Some("h")).unwrap();
    assert_eq!((h.rows, h.cols, h.values.as_slice()), (3, 2, &v[..]));
}

#[test]
fn two_tensors_select_by_name() {
    let dir = tmp_dir("st_two");
    let a = distinct(2, 2);
    let b: Vec<f32> = distinct(3, 2).iter().map(|x| -x).collect();
    let bytes = safetensors_bytes(&[
        st("student", "F32", &[2, 2], f32_le(&a)),
        st("teacher", "F32", &[3, 2], f32_le(&b)),
    ]);
    let p = write(&dir, "a.st", &bytes);
    assert_eq!(read_safetensors(&p, Some("student")).unwrap().values, a);
    let t = read_safetensors(&p, Some("teacher")).unwrap();
    assert_eq!((t.rows, t.cols), (3, 2));
    assert_eq!(t.values, b);
    assert_eq!(read_logits(&p, Some("teacher")).unwrap(), t);
}

#[test]
fn missing_name_lists_available() {
    let dir = tmp_dir("st_missing");
    let bytes = safetensors_bytes(&[
        st("student", "F32", &[1, 1], f32_le(&[1.0])),
        st("teacher", "F32", &[1, 1], f32_le(&[2.0])),
    ]);
    let p = write(&dir, "a.st", &bytes);
    let e = read_safetensors(&p, Some("logits")).unwrap_err();
    assert!(matches!(e, ImportError::TensorNotFound { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("\"logits\"") && msg.contains("student, teacher"),
        "{msg}"
    );
    assert!(msg.contains(p.to_str().unwrap()), "{msg}");

    let e = read_safetensors(&p, None).unwrap_err();
    assert!(matches!(e, ImportError::AmbiguousTensor { .. }), "{e:?}");
    assert!(e.to_string().contains("student, teacher"), "{e}");
}

#[test]
fn unsupported_dtype_and_shape() {
    let dir = tmp_dir("st_bad");
    let bytes = safetensors_bytes(&[
        st("labels", "I64", &[2, 1], vec![0; 16]),
        st("flat", "F32", &[4], f32_le(&[1.0; 4])),
        st("cube", "F32", &[1, 2, 2], f32_le(&[1.0; 4])),
    ]);
    let p = write(&dir, "a.st", &bytes);
    let msg = read_safetensors(&p, Some("labels"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("I64") && msg.contains("F32, F64, F16, BF16"),
        "{msg}"
    );
    let msg = read_safetensors(&p, Some("flat")).unwrap_err().to_string();
    assert!(msg.contains("[rows, classes]"), "{msg}");
    let msg = read_safetensors(&p, Some("cube")).unwrap_err().to_string();
    assert!(msg.contains("3-D"), "{msg}");
}

#[test]
fn no_tensors_is_error() {
    let dir = tmp_dir("st_empty");
    let p = write(
        &dir,
        "a.st",
        &safetensors_raw("{\"__metadata__\": {}}", &[]),
    );
    assert!(read_safetensors(&p, None).is_err());
}
