//! Reading valid `.npy` files.
#[path = "logits_common/mod.rs"]
mod common;

use common::*;
use dark_knowledge_data::logits::{read_logits, read_npy};

#[test]
fn f4_c_order() {
    let dir = tmp_dir("npy_f4");
    let v = distinct(3, 4);
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict("<f4", false, &[3, 4]), &f32_le(&v)),
    );
    let m = read_npy(&p).unwrap();
    assert_eq!((m.rows, m.cols), (3, 4));
    assert_eq!(m.values, v);
    assert_eq!(m.source, p);
    assert_eq!(m.row(2).unwrap(), &[20.5, 21.5, 22.5, 23.5]);
    assert!(m.row(3).is_none());
    assert_eq!(read_logits(&p, None).unwrap(), m);
}

#[test]
fn f8_converted_to_f32() {
    let dir = tmp_dir("npy_f8");
    let v = [1.25f64, -2.5, 1e-3, 3e38, -7.0, 0.0];
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict("<f8", false, &[2, 3]), &f64_le(&v)),
    );
    let m = read_npy(&p).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));
    let want: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    assert_eq!(m.values, want);
}

#[test]
fn f4_big_endian() {
    let dir = tmp_dir("npy_be");
    let v = distinct(2, 5);
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict(">f4", false, &[2, 5]), &f32_be(&v)),
    );
    assert_eq!(read_npy(&p).unwrap().values, v);
}

#[test]
fn f8_big_endian() {
    let dir = tmp_dir("npy_be8");
    let v = [1.5f64, -3.25, 100.0, 0.125];
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_be_bytes()).collect();
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict(">f8", false, &[2, 2]), &data),
    );
    assert_eq!(read_npy(&p).unwrap().values, vec![1.5, -3.25, 100.0, 0.125]);
}

#[test]
fn f2_half() {
    let dir = tmp_dir("npy_f2");
    let v = [0.5f32, -1.0, 2.25, 1024.0, -0.125, 3.0];
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict("<f2", false, &[3, 2]), &f16_le(&v)),
    );
    let m = read_npy(&p).unwrap();
    assert_eq!((m.rows, m.cols), (3, 2));
    assert_eq!(m.values, v);
}

#[test]
fn native_byte_order_chars() {
    let dir = tmp_dir("npy_native");
    let v = distinct(2, 2);
    for (i, descr) in ["=f4", "|f4"].iter().enumerate() {
        let data = v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<_>>();
        let name = format!("{i}.npy");
        let p = write(
            &dir,
            &name,
            &npy_bytes(1, &npy_dict(descr, false, &[2, 2]), &data),
        );
        assert_eq!(read_npy(&p).unwrap().values, v, "{descr}");
    }
}

#[test]
fn fortran_order_is_transposed() {
    let dir = tmp_dir("npy_fortran");
    // Logical 2x3 matrix [[0.5, 1.5, 2.5], [10.5, 11.5, 12.5]] stored column-major.
    let col_major = [0.5f32, 10.5, 1.5, 11.5, 2.5, 12.5];
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict("<f4", true, &[2, 3]), &f32_le(&col_major)),
    );
    let m = read_npy(&p).unwrap();
    assert_eq!((m.rows, m.cols), (2, 3));
    assert_eq!(m.values, distinct(2, 3));
}

#[test]
fn fortran_order_nan_reports_logical_position() {
    let dir = tmp_dir("npy_fortran_nan");
    // Logical (row 0, col 2) is storage index 4 in a 2x3 column-major array.
    let col_major = [0.5f32, 10.5, 1.5, 11.5, f32::NAN, 12.5];
    let p = write(
        &dir,
        "a.npy",
        &npy_bytes(1, &npy_dict("<f4", true, &[2, 3]), &f32_le(&col_major)),
    );
    let msg = read_npy(&p).unwrap_err().to_string();
    assert!(msg.contains("row 0, column 2"), "{msg}");
}

#[test]
fn version_2_and_3_headers() {
    let dir = tmp_dir("npy_v2");
    let v = distinct(4, 3);
    for major in [2u8, 3] {
        let bytes = npy_bytes(major, &npy_dict("<f4", false, &[4, 3]), &f32_le(&v));
        assert_eq!(&bytes[6..8], &[major, 0]);
        let p = write(&dir, &format!("v{major}.npy"), &bytes);
        assert_eq!(read_npy(&p).unwrap().values, v);
    }
}

#[test]
fn double_quotes_and_other_key_order() {
    let dir = tmp_dir("npy_quotes");
    let v = distinct(2, 3);
    let dict = "{\"shape\": (2, 3,), \"descr\": \"<f4\", \"fortran_order\": False}";
    let p = write(&dir, "a.npy", &npy_bytes(1, dict, &f32_le(&v)));
    assert_eq!(read_npy(&p).unwrap().values, v);
}
