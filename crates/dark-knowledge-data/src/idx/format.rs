//! Parsing of unsigned-byte IDX files (the MNIST file format).
//!
//! Layout (all integers big-endian): a 4-byte magic number
//! `0x00 0x00 <type code> <ndims>`, then `ndims` `u32` sizes, then the data,
//! whose length must be exactly the product of the sizes. Only type code
//! `0x08` (unsigned byte) is supported. Files may be gzip-compressed; this is
//! detected from the gzip magic bytes `0x1f 0x8b`, whatever the file name.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
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
///
/// Memory stays bounded on a hostile file: the header is read first, the size it declares
/// is checked against [`MAX_IDX_BYTES`] (and, for a raw file, against the file's length)
/// before anything is allocated, and a gzip stream is inflated no further than one byte past
/// that size.
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let (dims, pixels) = read_ubyte(path, IMAGE_NDIMS)?;
    images_from(dims, pixels, path)
}

/// Reads an IDX labels file (`[count]` unsigned bytes), raw or
/// gzip-compressed (detected by the `0x1f 0x8b` magic bytes, not by extension), with the
/// memory bounds of [`read_idx_images`].
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    Ok(read_ubyte(path, LABEL_NDIMS)?.1)
}

/// Parses the uncompressed contents of an IDX images file.
///
/// `path` is used only in error messages. The data must be exactly
/// `count * rows * cols` bytes; `count`, `rows` and `cols` must be non-zero.
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<IdxImages> {
    let (dims, data) = parse_ubyte(bytes, path, IMAGE_NDIMS)?;
    images_from(dims, data.to_vec(), path)
}

/// The images of a checked `[count, rows, cols]` file.
fn images_from(dims: Vec<usize>, pixels: Vec<u8>, path: &Path) -> Result<IdxImages> {
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
        pixels,
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

/// The most bytes one IDX file may hold once decompressed (header included): 1 GiB, more
/// than 20 times Fashion-MNIST's training images.
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// The largest ratio of inflated to compressed size deflate can reach (about 1032:1): a
/// gzip stream's capacity is reserved no further than this times its compressed size.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Reads the IDX file at `path` (raw or gzipped) with `ndims` dimensions, streaming: the
/// header, then exactly the data it declares, checked for length; returns the dimensions
/// and the data.
fn read_ubyte(path: &Path, ndims: u8) -> Result<(Vec<usize>, Vec<u8>)> {
    let io_err = |source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut buffered = BufReader::new(file);
    let gzipped = buffered
        .fill_buf()
        .map_err(io_err)?
        .starts_with(&GZIP_MAGIC);
    let mut reader: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let header_len = 4 + 4 * u64::from(ndims);
    let mut header = Vec::new();
    (&mut reader)
        .take(header_len)
        .read_to_end(&mut header)
        .map_err(io_err)?;
    let (dims, total) = parse_header(&header, path, ndims, header.len() as u64)?;
    if !gzipped {
        // The exact length is known without reading: a raw file of the wrong size is
        // refused before its data are allocated.
        check_length(path, FileKind::Idx, total, file_len)?;
    }
    if total > MAX_IDX_BYTES {
        return Err(IdxError::TooLarge {
            path: path.to_path_buf(),
            declared: total,
            limit: MAX_IDX_BYTES,
        });
    }
    let data_len = total - header_len;
    let reserve = if gzipped {
        data_len.min(file_len.saturating_mul(MAX_DEFLATE_RATIO))
    } else {
        data_len
    };
    // `total <= MAX_IDX_BYTES` fits in `usize` on every supported target.
    let mut data = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    reader
        .take(data_len + 1)
        .read_to_end(&mut data)
        .map_err(io_err)?;
    let found = header_len + data.len() as u64;
    if found > total {
        return Err(IdxError::Inflated {
            path: path.to_path_buf(),
            declared: total,
        });
    }
    check_length(path, FileKind::Idx, total, found)?;
    Ok((dims, data))
}

/// Checks the header of an unsigned-byte IDX file with `ndims` dimensions and
/// the exact length of its data; returns the dimensions and the data.
///
/// The first dimension (the item count) must be non-zero.
fn parse_ubyte<'a>(bytes: &'a [u8], path: &Path, ndims: u8) -> Result<(Vec<usize>, &'a [u8])> {
    let found = bytes.len() as u64;
    let (dims, total) = parse_header(bytes, path, ndims, found)?;
    check_length(path, FileKind::Idx, total, found)?;
    let header_len = 4 + 4 * usize::from(ndims);
    Ok((dims, &bytes[header_len..]))
}

/// Checks the header at the start of `bytes` (an IDX file of `found` bytes in all) for an
/// unsigned-byte file with `ndims` dimensions; returns the dimensions and the file's length
/// they imply, header included. The first dimension (the item count) must be non-zero.
fn parse_header(bytes: &[u8], path: &Path, ndims: u8, found: u64) -> Result<(Vec<usize>, u64)> {
    let expected_magic = u32::from_be_bytes([0, 0, TYPE_UBYTE, ndims]);
    let truncated = |expected: u64| FileLength::new(path, FileKind::Idx, expected, found);

    let Some(magic) = bytes.first_chunk::<4>() else {
        return Err(truncated(4).into());
    };
    let found_magic = u32::from_be_bytes(*magic);
    let bad_magic = || IdxError::BadMagic {
        path: path.to_path_buf(),
        found: found_magic,
        expected: expected_magic,
    };
    if magic[0] != 0 || magic[1] != 0 {
        return Err(bad_magic());
    }
    if magic[2] != TYPE_UBYTE {
        return Err(IdxError::UnsupportedType {
            path: path.to_path_buf(),
            code: magic[2],
        });
    }
    if magic[3] != ndims {
        return Err(bad_magic());
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
        .filter(|&t| usize::try_from(t).is_ok())
        .ok_or_else(too_big)?;
    // `total` fits in `usize`, so every dimension does.
    Ok((dims.iter().map(|&d| d as usize).collect(), total))
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
    fn a_gzip_bomb_is_refused_without_inflating_it_all() {
        let dir = TempDir::new("bomb");
        // The header declares one 1x1 image (17 bytes); the stream holds 32 MiB more.
        let mut raw = images_bytes(1, 1, 1, &[7]);
        raw.resize(raw.len() + (32 << 20), 0);
        let mut gz = gzip(&raw);
        // Cut the stream's end: reading it all would fail on the cut, not on the size.
        gz.truncate(gz.len() - 64);
        let path = dir.write("bomb.gz", &gz);
        let err = read_idx_images(&path).unwrap_err();
        assert!(
            matches!(err, IdxError::Inflated { declared: 17, .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("bomb.gz") && msg.contains("17 bytes"), "{msg}");
    }

    #[test]
    fn declared_sizes_are_checked_before_allocating() {
        let dir = TempDir::new("declared");
        // 60000 images of 60000x60000: 2e14 bytes declared, 3 present.
        let huge = images_bytes(60_000, 60_000, 60_000, &[1, 2, 3]);
        let gz = dir.write("huge.gz", &gzip(&huge));
        let err = read_idx_images(&gz).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::TooLarge {
                    limit: MAX_IDX_BYTES,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("huge.gz"), "{err}");
        // A raw file's length is known: the exact mismatch is reported.
        let raw = dir.write("huge", &huge);
        let (expected, found) = truncation(read_idx_images(&raw));
        assert_eq!((expected, found), (16 + 60_000u64.pow(3), 19));
        // Trailing bytes in a raw file are counted exactly.
        let mut long = labels_bytes(&[1, 2]);
        long.extend_from_slice(&[0; 1000]);
        let path = dir.write("long-labels", &long);
        let e = length_error(read_idx_labels(&path));
        assert_eq!(e.trailing_bytes(), 1000, "{e}");
        // Gzipped trailing bytes stop the reading one byte past the declared size.
        let path = dir.write("long-labels.gz", &gzip(&long));
        assert!(matches!(
            read_idx_labels(&path),
            Err(IdxError::Inflated { declared: 10, .. })
        ));
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
