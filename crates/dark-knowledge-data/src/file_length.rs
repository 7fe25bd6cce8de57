//! The one check of a file's length against the length its header implies, shared by the
//! teacher cache, the row store, the logit importers and the IDX reader.

use std::path::{Path, PathBuf};

/// A kind of file whose length this crate checks against its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A teacher-logit cache (`DKTC`), checked whole.
    TeacherCache,
    /// A row store (`DKRSTORE`), checked whole.
    RowStore,
    /// An imported logit matrix (`.npy`, safetensors): the data after the header.
    Logits,
    /// An IDX file: its contents after decompression, header included.
    Idx,
}

impl FileKind {
    /// How messages name a file of this kind.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::TeacherCache => "teacher cache",
            FileKind::RowStore => "row store",
            FileKind::Logits => "logit file",
            FileKind::Idx => "IDX file",
        }
    }

    /// What the byte counts cover, as said after "expected N bytes" (empty: the whole file).
    fn counted(self) -> &'static str {
        match self {
            FileKind::TeacherCache | FileKind::RowStore => "",
            FileKind::Logits => " of data after the header (rows x classes x item size)",
            FileKind::Idx => " (header included, after decompression)",
        }
    }

    /// What to do about a file of this kind with the wrong length.
    fn fix(self) -> &'static str {
        match self {
            FileKind::TeacherCache => "re-run cache-teacher",
            FileKind::RowStore => "rebuild the store",
            FileKind::Logits => {
                "check its shape and dtype and save the logits again (numpy.save or \
                 safetensors.torch.save_file)"
            }
            FileKind::Idx => "download the file again",
        }
    }
}

/// A file shorter (truncated) or longer (trailing bytes) than its header says it must be.
///
/// The message names the kind of file and its path, the expected and the found number of
/// bytes, whether bytes are missing or left over, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} '{}' {}: expected {}{expected} bytes{}, found {found}; {}, {}",
    .kind.name(),
    .path.display(),
    self.problem(),
    if self.is_truncated() { "" } else { "exactly " },
    .kind.counted(),
    self.cause(),
    .kind.fix()
)]
pub struct FileLength {
    /// File concerned.
    pub path: PathBuf,
    /// What kind of file it is.
    pub kind: FileKind,
    /// Expected length in bytes (a lower bound when the header itself is cut short).
    pub expected: u64,
    /// Actual length in bytes.
    pub found: u64,
}

impl FileLength {
    /// The error for the file at `path`, of `kind`, with `found` bytes where `expected` are
    /// needed.
    pub(crate) fn new(path: &Path, kind: FileKind, expected: u64, found: u64) -> Self {
        FileLength {
            path: path.to_path_buf(),
            kind,
            expected,
            found,
        }
    }

    /// Whether bytes are missing (`found < expected`); otherwise bytes are left over.
    pub fn is_truncated(&self) -> bool {
        self.found < self.expected
    }

    /// How many bytes follow the expected end (0 for a truncated file).
    pub fn trailing_bytes(&self) -> u64 {
        self.found.saturating_sub(self.expected)
    }

    fn problem(&self) -> String {
        if self.is_truncated() {
            "is truncated".to_owned()
        } else {
            format!("has {} trailing bytes", self.trailing_bytes())
        }
    }

    fn cause(&self) -> &'static str {
        if self.is_truncated() {
            "the file is incomplete or damaged"
        } else {
            "the file is damaged or has data appended"
        }
    }
}

/// Checks that the file at `path`, of `kind`, has `found` bytes where its header implies
/// `expected`; anything else is the [`FileLength`] error saying which way it is off.
pub(crate) fn check_length(
    path: &Path,
    kind: FileKind,
    expected: u64,
    found: u64,
) -> Result<(), FileLength> {
    if found == expected {
        return Ok(());
    }
    Err(FileLength::new(path, kind, expected, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_lengths_pass() {
        assert_eq!(
            check_length(Path::new("f"), FileKind::RowStore, 7, 7),
            Ok(())
        );
    }

    #[test]
    fn truncated_message_names_file_counts_and_fix() {
        let e = check_length(Path::new("a.dktc"), FileKind::TeacherCache, 40, 30).unwrap_err();
        assert!(e.is_truncated());
        assert_eq!(e.trailing_bytes(), 0);
        assert_eq!(
            e.to_string(),
            "teacher cache 'a.dktc' is truncated: expected 40 bytes, found 30; the file is \
             incomplete or damaged, re-run cache-teacher"
        );
    }

    #[test]
    fn trailing_message_counts_the_extra_bytes() {
        let e = check_length(Path::new("x.gz"), FileKind::Idx, 34, 39).unwrap_err();
        assert!(!e.is_truncated());
        assert_eq!(e.trailing_bytes(), 5);
        assert_eq!(
            e.to_string(),
            "IDX file 'x.gz' has 5 trailing bytes: expected exactly 34 bytes (header included, \
             after decompression), found 39; the file is damaged or has data appended, download \
             the file again"
        );
        let e = check_length(Path::new("l.npy"), FileKind::Logits, 48, 51).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("3 trailing bytes") && msg.contains("rows x classes"),
            "{msg}"
        );
    }
}
