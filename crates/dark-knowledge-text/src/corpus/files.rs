//! Reading a corpus's text from files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the Debian package `fortunes` installs its fortune files.
pub const FORTUNES_DIR: &str = "/usr/share/games/fortunes";

/// The advice appended to errors about a missing fortune directory.
const INSTALL_HINT: &str =
    "the fortune files come with the Debian package `fortunes` (apt-get install fortunes)";

/// The text of the plain fortune files of `dir`, concatenated in file-name order.
///
/// Skipped: `*.dat` index files (written by `strfile`), symbolic links (such as the `*.u8`
/// links of Debian's package to the files themselves), subdirectories (such as `off/`) and
/// hidden files. Each line holding only the `%` separator between two fortunes becomes an
/// empty line, so fortunes are separated by a blank line; a file not ending in a newline
/// gets one.
///
/// # Errors
/// [`Error::Io`] naming `dir` when it cannot be listed (a missing directory mentions the
/// Debian package `fortunes`), or a file when it cannot be read; [`Error::Format`] naming a
/// file that is not UTF-8 (with the byte offset), or `dir` when it holds no fortune file.
pub fn read_fortunes(dir: &Path) -> Result<String> {
    let entries = fs::read_dir(dir).map_err(|e| {
        Error::io(
            dir,
            io::Error::new(e.kind(), format!("{e}; {INSTALL_HINT}")),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_file() && !name.ends_with(".dat") && !name.starts_with('.') {
            files.push(entry.path());
        }
    }
    if files.is_empty() {
        return Err(Error::format(
            dir,
            format!("holds no fortune file (plain files other than *.dat); {INSTALL_HINT}"),
        ));
    }
    files.sort();
    let mut out = String::new();
    for path in &files {
        let text = read_utf8(path)?;
        for line in text.lines() {
            if line != "%" {
                out.push_str(line);
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// The text of `paths`, concatenated in the order given (nothing inserted between files).
///
/// # Errors
/// [`Error::Io`] naming a file that cannot be read; [`Error::Format`] naming a file that is
/// not UTF-8, with the byte offset of the first invalid byte.
pub fn read_text_files(paths: &[PathBuf]) -> Result<String> {
    let mut out = String::new();
    for path in paths {
        out.push_str(&read_utf8(path)?);
    }
    Ok(out)
}

/// A whole file as UTF-8 text.
fn read_utf8(path: &Path) -> Result<String> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        Error::format(
            path,
            format!("not UTF-8 text: invalid byte at offset {offset}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortunes_skip_index_files_links_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("b"), "second file\n%\nlast").unwrap();
        fs::write(d.join("a"), "one\n%\ntwo\nlines\n%\n").unwrap();
        fs::write(d.join("a.dat"), [0u8, 159, 146, 150, 255]).unwrap();
        fs::write(d.join(".hidden"), "no").unwrap();
        fs::create_dir(d.join("off")).unwrap();
        fs::write(d.join("off").join("rude"), "never read").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(d.join("a"), d.join("a.u8")).unwrap();
        let text = read_fortunes(d).unwrap();
        assert_eq!(text, "one\n\ntwo\nlines\n\nsecond file\n\nlast\n");
    }

    #[test]
    fn fortune_errors_name_the_folder_and_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_fortunes(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("fortunes") && err.contains("no fortune file"),
            "{err}"
        );
        fs::write(dir.path().join("x.dat"), "index").unwrap();
        assert!(read_fortunes(dir.path()).is_err(), "only index files");
        let missing = dir.path().join("nowhere");
        let err = read_fortunes(&missing).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("nowhere") && text.contains("Debian package"),
            "{text}"
        );
        let Error::Io { source, .. } = err else {
            panic!("an I/O error")
        };
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
        fs::write(dir.path().join("bad"), b"ok\xffno").unwrap();
        let err = read_fortunes(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad") && err.contains("offset 2"), "{err}");
    }

    #[test]
    fn text_files_concatenate_and_report_bad_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        let b = dir.path().join("b.txt");
        fs::write(&a, "héllo ").unwrap();
        fs::write(&b, "wörld").unwrap();
        assert_eq!(read_text_files(&[a.clone(), b]).unwrap(), "héllo wörld");
        assert_eq!(read_text_files(&[]).unwrap(), "");
        let bad = dir.path().join("bad.txt");
        fs::write(&bad, b"abc\xc3").unwrap();
        let err = read_text_files(&[a, bad]).unwrap_err();
        assert!(matches!(err, Error::Format { .. }));
        let err = err.to_string();
        assert!(err.contains("bad.txt") && err.contains("offset 3"), "{err}");
        let err = read_text_files(&[dir.path().join("none")]).unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
    }

    /// The installed Debian fortunes, when present (required with
    /// `DARK_KNOWLEDGE_REQUIRE_DATA=1`).
    #[test]
    fn installed_fortunes_read_when_present() {
        let dir = Path::new(FORTUNES_DIR);
        let required = std::env::var("DARK_KNOWLEDGE_REQUIRE_DATA").is_ok_and(|v| v == "1");
        if !dir.is_dir() && !required {
            eprintln!("skipped: {FORTUNES_DIR} is absent (Debian package `fortunes`)");
            return;
        }
        let text = read_fortunes(dir).unwrap();
        assert!(text.len() > 100_000, "{} bytes", text.len());
        assert!(!text.lines().any(|l| l == "%"), "separators removed");
    }
}
