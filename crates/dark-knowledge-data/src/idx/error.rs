//! Error type for reading IDX files and image datasets built from them.

use std::path::PathBuf;

use crate::FileLength;

/// Everything that can go wrong while reading an IDX file or loading a dataset.
///
/// Every variant names the file (or directory) concerned, so the message alone
/// tells the user what to fix.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The file could not be read, or its gzip stream could not be decoded.
    #[error("{}: {source}", path.display())]
    Io {
        /// File being read.
        path: PathBuf,
        /// Underlying I/O (or gzip decoding) error.
        source: std::io::Error,
    },

    /// The 4-byte magic number is not the one expected for this kind of file
    /// (for example a labels file passed where an images file was expected).
    #[error(
        "{}: bad IDX magic number 0x{found:08x}, expected 0x{expected:08x}",
        path.display()
    )]
    BadMagic {
        /// File being read.
        path: PathBuf,
        /// Magic number found in the file.
        found: u32,
        /// Magic number expected for this kind of file.
        expected: u32,
    },

    /// The IDX data type code (third magic byte) is not `0x08` (unsigned byte),
    /// the only type supported.
    #[error(
        "{}: unsupported IDX data type code 0x{code:02x} (only 0x08, unsigned byte, is supported)",
        path.display()
    )]
    UnsupportedType {
        /// File being read.
        path: PathBuf,
        /// Data type code found in the magic number.
        code: u8,
    },

    /// The (decompressed) contents are shorter (truncated) or longer (trailing bytes) than
    /// the header and the dimensions require; both counts include the header.
    #[error(transparent)]
    FileLength(#[from] FileLength),

    /// The dimensions in the header are unusable (zero-sized images, a size
    /// that overflows), or do not agree with another file of the dataset.
    #[error("{}: shape mismatch: {what}", path.display())]
    ShapeMismatch {
        /// File whose shape is wrong.
        path: PathBuf,
        /// Description of the problem.
        what: String,
    },

    /// An images file and its labels file hold different numbers of items.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        images_path.display(),
        labels_path.display()
    )]
    CountMismatch {
        /// Number of images in the images file.
        images: usize,
        /// Number of labels in the labels file.
        labels: usize,
        /// Images file.
        images_path: PathBuf,
        /// Labels file.
        labels_path: PathBuf,
    },

    /// A label is not a valid class index.
    #[error(
        "{}: label {label} at index {index} is out of range (expected < {num_classes})",
        path.display()
    )]
    LabelOutOfRange {
        /// Labels file.
        path: PathBuf,
        /// Position of the offending label in the file.
        index: usize,
        /// The offending label.
        label: u8,
        /// Number of classes of the dataset.
        num_classes: usize,
    },

    /// A required dataset file is missing from the directory.
    #[error(
        "{}: missing dataset file(s); tried: {}",
        dir.display(),
        tried.join(", ")
    )]
    MissingFile {
        /// Directory searched.
        dir: PathBuf,
        /// File names looked for (and not found) in `dir`.
        tried: Vec<String>,
    },

    /// The header declares more bytes than one IDX file may hold
    /// ([`MAX_IDX_BYTES`](crate::idx::MAX_IDX_BYTES)); nothing was allocated for them.
    #[error(
        "{}: the IDX header declares {declared} bytes (header included), more than the {limit} bytes one file may hold; the file is damaged or not an IDX file of images or labels",
        path.display()
    )]
    TooLarge {
        /// File being read.
        path: PathBuf,
        /// Bytes the header declares, header included.
        declared: u64,
        /// The most one file may hold.
        limit: u64,
    },

    /// A gzipped file inflates to more than its header declares; reading stopped one byte
    /// past the declared size.
    #[error(
        "{}: the gzip stream inflates to more than the {declared} bytes its IDX header declares (reading stopped there); the file is damaged or has data appended, download it again",
        path.display()
    )]
    Inflated {
        /// File being read.
        path: PathBuf,
        /// Bytes the header declares, header included.
        declared: u64,
    },

    /// The header declares zero items.
    #[error("{}: file holds no items (item count in header is 0)", path.display())]
    EmptyFile {
        /// File being read.
        path: PathBuf,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, IdxError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileKind;
    use std::path::Path;

    #[test]
    fn messages_name_the_file_and_the_problem() {
        let e = IdxError::BadMagic {
            path: PathBuf::from("/d/x-idx3-ubyte"),
            found: 0x801,
            expected: 0x803,
        };
        assert_eq!(
            e.to_string(),
            "/d/x-idx3-ubyte: bad IDX magic number 0x00000801, expected 0x00000803"
        );

        let e = IdxError::from(FileLength::new(Path::new("a.gz"), FileKind::Idx, 34, 30));
        let msg = e.to_string();
        assert!(msg.starts_with("IDX file 'a.gz' is truncated"), "{msg}");
        assert!(msg.contains("34") && msg.contains("30"), "{msg}");

        let e = IdxError::MissingFile {
            dir: PathBuf::from("/data"),
            tried: vec!["a.gz".into(), "a".into()],
        };
        assert_eq!(
            e.to_string(),
            "/data: missing dataset file(s); tried: a.gz, a"
        );

        let e = IdxError::UnsupportedType {
            path: PathBuf::from("f"),
            code: 0x0d,
        };
        assert!(e.to_string().contains("0x0d"), "{e}");
    }

    #[test]
    fn io_error_keeps_its_source() {
        use std::error::Error as _;
        let e = IdxError::Io {
            path: Path::new("missing").to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(e.to_string(), "missing: gone");
        assert!(e.source().is_some());
    }
}
