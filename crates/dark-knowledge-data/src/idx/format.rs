//! Parsing of unsigned-byte IDX files (the MNIST file format).
//!
//! Layout (all integers big-endian): a 4-byte magic number
//! `0x00 0x00 <type code> <ndims>`, then `ndims` `u32` sizes, then the data,
//! whose length must be exactly the product of the sizes. Only type code
//! `0x08` (unsigned byte) is supported. Files may be gzip-compressed; this is
//! detected from the gzip magic bytes `0x1f 0x8b`, whatever the file name.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::file_length::{FileKind, FileLength, check_length};
use crate::idx::error::{IdxError, Result};

/// IDX type code for unsigned bytes, the only supported type.
const TYPE_UBYTE: u8 = 0x08;
/// Number of dimensions of an images file: `[count, rows, cols]`.
const IMAGE_NDIMS: u8 = 3;
/// Number of dimensions of a labels file: `[count]`.
const LABEL_NDIMS: u8 = 1;
/// The two leading bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The images of an IDX images file (magic `0x00000803`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// Raw pixel values, row-major, `count * rows * cols` of them.
    pub pixels: Vec<u8>,
}

/// Reads an IDX images file (`[count, rows, cols]` unsigned bytes), raw or
/// gzip-compressed (detected by the `0x1f 0x8b` magic bytes, not by extension).
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let bytes = read_maybe_gzipped(path)?;
    parse_idx_images(&bytes, path)
}

/// Reads an IDX labels file (`[count]` unsigned bytes), raw or
/// gzip-compressed (detected by the `0x1f 0x8b` magic bytes, not by extension).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_maybe_gzipped(path)?;
    parse_idx_labels(&bytes, path)
}

/// Parses the uncompressed contents of an IDX images file.
///
/// `path` is used only in error messages. The data must be exactly
/// `count * rows * cols` bytes; `count`, `rows` and `cols` must be non-zero.
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let (dims, data) = parse_ubyte(bytes, path, IMAGE_NDIMS)?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(IdxError::ShapeMismatch {
            path: path.to_path_buf(),
            what: format!("images must have non-zero size, header says {rows}x{cols}"),
        });
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: data.to_vec(),
    })
}

/// Parses the uncompressed contents of an IDX labels file.
///
/// `path` is used only in error messages. The data must be exactly `count`
/// bytes and `count` must be non-zero.
pub fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let (_dims, data) = parse_ubyte(bytes, path, LABEL_NDIMS)?;
    Ok(data.to_vec())
}

/// Reads a whole file, gunzipping it if it starts with the gzip magic bytes.
fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let io_err = |source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io_err)?;
    if !raw.starts_with(&GZIP_MAGIC) {
        return Ok(raw);
    }
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4));
    MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(io_err)?;
    Ok(out)
}

/// Checks the header of an unsigned-byte IDX file with `ndims` dimensions and
/// the exact length of its data; returns the dimensions and the data.
///
/// The first dimension (the item count) must be non-zero.
fn parse_ubyte<'a>(bytes: &'a [u8], path: &Path, ndims: u8) -> Result<(Vec<usize>, &'a [u8])> {
    let expected_magic = u32::from_be_bytes([0, 0, TYPE_UBYTE, ndims]);
    let found = bytes.len() as u64;
    let truncated = |expected: u64| FileLength::new(path, FileKind::Idx, expected, found);

    let Some(magic) = bytes.first_chunk::<4>() else {
        return Err(truncated(4).into());
    };
    let found_magic = u32::from_be_bytes(*magic);
    if magic[0] != 0 || magic[1] != 0 {
        return Err(IdxError::BadMagic {
            path: path.to_path_buf(),
            found: found_magic,
            expected: expected_magic,
        });
    }
    if magic[2] != TYPE_UBYTE {
        return Err(IdxError::UnsupportedType {
            path: path.to_path_buf(),
            code: magic[2],
        });
    }
    if magic[3] != ndims {
        return Err(IdxError::BadMagic {
            path: path.to_path_buf(),
            found: found_magic,
            expected: expected_magic,
        });
    }

    let header_len = 4 + 4 * usize::from(ndims);
    if bytes.len() < header_len {
        return Err(truncated(header_len as u64).into());
    }
    let dims: Vec<u32> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();

    if dims[0] == 0 {
        return Err(IdxError::EmptyFile {
            path: path.to_path_buf(),
        });
    }

    let too_big = || IdxError::ShapeMismatch {
        path: path.to_path_buf(),
        what: format!("dimensions {dims:?} are too large to hold in memory"),
    };
    let data_len = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .ok_or_else(too_big)?;
    let total = data_len
        .checked_add(header_len as u64)
        .ok_or_else(too_big)?;
    check_length(path, FileKind::Idx, total, found)?;

    // `total` equals `bytes.len()`, so every dimension fits in `usize`.
    let dims = dims.iter().map(|&d| d as usize).collect();
    Ok((dims, &bytes[header_len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::test_support::{PIXELS, TempDir, gzip, idx_bytes, images_bytes, labels_bytes};
    use std::path::PathBuf;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    /// The length error in `r`, which must be one.
    fn length_error<T: std::fmt::Debug>(r: Result<T>) -> FileLength {
        match r {
            Err(IdxError::FileLength(e)) => e,
            other => panic!("expected a FileLength error, got {other:?}"),
        }
    }

    /// `(expected, found)` of the truncation reported in `r`.
    fn truncation<T: std::fmt::Debug>(r: Result<T>) -> (u64, u64) {
        let e = length_error(r);
        assert!(e.is_truncated(), "{e}");
        (e.expected, e.found)
    }

    #[test]
    fn parses_images_exactly() {
        let bytes = images_bytes(3, 2, 3, &PIXELS);
        let img = parse_idx_images(&bytes, &p("x")).unwrap();
        assert_eq!(
            img,
            IdxImages {
                count: 3,
                rows: 2,
                cols: 3,
                pixels: PIXELS.to_vec()
            }
        );
    }

    #[test]
    fn parses_labels_exactly() {
        let labels = parse_idx_labels(&labels_bytes(&[9, 0, 3]), &p("l")).unwrap();
        assert_eq!(labels, vec![9, 0, 3]);
    }

    #[test]
    fn header_magic_is_big_endian_0x803_and_0x801() {
        let bytes = images_bytes(1, 1, 1, &[7]);
        assert_eq!(&bytes[..4], &[0x00, 0x00, 0x08, 0x03]);
        // Dims are big-endian: a little-endian reader would see 0x01000000 images.
        assert_eq!(&bytes[4..8], &[0, 0, 0, 1]);
        assert_eq!(parse_idx_images(&bytes, &p("x")).unwrap().pixels, vec![7]);
        assert_eq!(&labels_bytes(&[1])[..4], &[0x00, 0x00, 0x08, 0x01]);
    }

    #[test]
    fn truncated_image_data_reports_byte_counts() {
        let bytes = images_bytes(3, 2, 3, &PIXELS[..14]);
        let e = length_error(parse_idx_images(&bytes, &p("imgs")));
        assert!(e.is_truncated(), "{e}");
        assert_eq!(e.path, p("imgs"));
        assert_eq!((e.expected, e.found), (16 + 18, 16 + 14));
    }

    #[test]
    fn truncated_labels_report_byte_counts() {
        let mut bytes = labels_bytes(&[1, 2, 3, 4]);
        bytes.truncate(10);
        assert_eq!(truncation(parse_idx_labels(&bytes, &p("l"))), (12, 10));
    }

    #[test]
    fn truncated_header() {
        // Shorter than the 4-byte magic.
        for len in 0..4 {
            let bytes = &[0u8, 0, 8, 3][..len];
            assert_eq!(
                truncation(parse_idx_images(bytes, &p("h"))),
                (4, len as u64)
            );
        }
        // Magic present but the three dims are cut short.
        let bytes = &images_bytes(3, 2, 3, &PIXELS)[..11];
        assert_eq!(truncation(parse_idx_images(bytes, &p("h"))), (16, 11));
    }

    #[test]
    fn labels_file_passed_as_images_is_bad_magic() {
        let bytes = labels_bytes(&[1, 2, 3]);
        match parse_idx_images(&bytes, &p("train-labels")) {
            Err(IdxError::BadMagic {
                path,
                found,
                expected,
            }) => {
                assert_eq!(path, p("train-labels"));
                assert_eq!(found, 0x0000_0801);
                assert_eq!(expected, 0x0000_0803);
            }
            other => panic!("expected BadMagic, got {other:?}"),
        }
        let bytes = images_bytes(3, 2, 3, &PIXELS);
        match parse_idx_labels(&bytes, &p("imgs")) {
            Err(IdxError::BadMagic {
                found, expected, ..
            }) => assert_eq!((found, expected), (0x803, 0x801)),
            other => panic!("expected BadMagic, got {other:?}"),
        }
    }

    #[test]
    fn non_idx_file_is_bad_magic() {
        let bytes = b"P5\n2 3\n255\n......";
        match parse_idx_images(bytes, &p("img.pgm")) {
            Err(IdxError::BadMagic {
                found, expected, ..
            }) => {
                assert_eq!(found, u32::from_be_bytes(*b"P5\n2"));
                assert_eq!(expected, 0x803);
            }
            other => panic!("expected BadMagic, got {other:?}"),
        }
    }

    #[test]
    fn unsupported_type_code_is_named() {
        // 0x0D = float, otherwise a well-formed 1x1x1 file.
        let bytes = idx_bytes(0x0d, &[1, 1, 1], &[0, 0, 0, 0]);
        match parse_idx_images(&bytes, &p("f")) {
            Err(IdxError::UnsupportedType { path, code }) => {
                assert_eq!(path, p("f"));
                assert_eq!(code, 0x0d);
            }
            other => panic!("expected UnsupportedType, got {other:?}"),
        }
        let bytes = idx_bytes(0x09, &[2], &[1, 2]);
        assert!(matches!(
            parse_idx_labels(&bytes, &p("l")),
            Err(IdxError::UnsupportedType { code: 0x09, .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut data = PIXELS.to_vec();
        data.extend_from_slice(&[1, 2, 3, 4, 5]);
        let e = length_error(parse_idx_images(&images_bytes(3, 2, 3, &data), &p("t")));
        assert!(!e.is_truncated(), "{e}");
        assert_eq!(e.path, p("t"));
        assert_eq!(e.trailing_bytes(), 5);
        let bytes = idx_bytes(0x08, &[2], &[1, 2, 3]);
        let e = length_error(parse_idx_labels(&bytes, &p("l")));
        assert!(!e.is_truncated() && e.trailing_bytes() == 1, "{e}");
    }

    #[test]
    fn zero_count_is_empty_file() {
        assert!(matches!(
            parse_idx_images(&images_bytes(0, 28, 28, &[]), &p("e")),
            Err(IdxError::EmptyFile { path }) if path == p("e")
        ));
        assert!(matches!(
            parse_idx_labels(&labels_bytes(&[]), &p("e")),
            Err(IdxError::EmptyFile { .. })
        ));
    }

    #[test]
    fn zero_sized_images_are_shape_mismatch() {
        assert!(matches!(
            parse_idx_images(&images_bytes(5, 0, 28, &[]), &p("z")),
            Err(IdxError::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn huge_dims_do_not_overflow_or_allocate() {
        let bytes = images_bytes(u32::MAX, u32::MAX, u32::MAX, &[1, 2, 3]);
        assert!(matches!(
            parse_idx_images(&bytes, &p("big")),
            Err(IdxError::ShapeMismatch { .. })
        ));
        let bytes = images_bytes(60000, 28, 28, &[1, 2, 3]);
        assert_eq!(
            truncation(parse_idx_images(&bytes, &p("big"))),
            (47_040_016, 19)
        );
    }

    #[test]
    fn reads_raw_and_gzipped_files() {
        let dir = TempDir::new("read");
        let raw = images_bytes(3, 2, 3, &PIXELS);
        let raw_path = dir.write("imgs-idx3-ubyte", &raw);
        let gz_path = dir.write("imgs-idx3-ubyte.gz", &gzip(&raw));
        let expected = parse_idx_images(&raw, &raw_path).unwrap();
        assert_eq!(read_idx_images(&raw_path).unwrap(), expected);
        assert_eq!(read_idx_images(&gz_path).unwrap(), expected);

        let labels = labels_bytes(&[4, 5, 6]);
        let lp = dir.write("labels.gz", &gzip(&labels));
        assert_eq!(read_idx_labels(&lp).unwrap(), vec![4, 5, 6]);
        let lp = dir.write("labels", &labels);
        assert_eq!(read_idx_labels(&lp).unwrap(), vec![4, 5, 6]);
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes_not_extension() {
        let dir = TempDir::new("gzmagic");
        let raw = images_bytes(3, 2, 3, &PIXELS);
        let gz = gzip(&raw);
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        // Gzipped contents without a .gz extension.
        let p1 = dir.write("no-extension", &gz);
        assert_eq!(read_idx_images(&p1).unwrap().pixels, PIXELS.to_vec());
        // Raw contents with a .gz extension.
        let p2 = dir.write("lying.gz", &raw);
        assert_eq!(read_idx_images(&p2).unwrap().pixels, PIXELS.to_vec());
    }

    #[test]
    fn errors_in_gzipped_files_name_the_file() {
        let dir = TempDir::new("gzerr");
        let gz = gzip(&images_bytes(3, 2, 3, &PIXELS[..10]));
        let path = dir.write("short.gz", &gz);
        let e = length_error(read_idx_images(&path));
        assert!(e.is_truncated(), "{e}");
        assert_eq!(e.path, path);
        assert_eq!((e.expected, e.found), (34, 26));
        // A corrupt gzip stream is an Io error naming the file, not a panic.
        let mut bad = gzip(&images_bytes(3, 2, 3, &PIXELS));
        bad.truncate(bad.len() / 2);
        let path = dir.write("corrupt", &bad);
        match read_idx_images(&path) {
            Err(e @ IdxError::Io { .. }) => {
                assert!(e.to_string().contains("corrupt"), "{e}");
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }

    #[test]
    fn missing_file_is_io_error_with_path() {
        let dir = TempDir::new("nofile");
        let path = dir.path().join("nope");
        match read_idx_labels(&path) {
            Err(IdxError::Io { path: p, source }) => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }
}
