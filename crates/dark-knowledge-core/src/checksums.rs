//! Per-folder checksum manifests: a `CHECKSUMS` file listing the BLAKE3 hash of each file
//! we wrote in that folder, checked when a file is read back.
//!
//! The manifest is in the format of `b3sum` (one `<64 hex digits>  <file name>` line per
//! file, sorted by name; a name holding `\` or a newline is escaped as `b3sum` does), so
//! `cd RUN/teacher && b3sum --check CHECKSUMS` checks a folder by hand.
//!
//! - Writing: [`track`] starts a manifest in a folder (the model and run folders do);
//!   from then on every write of [`crate::io::write_atomic`] and [`crate::io::persist`] in
//!   that folder updates the file's line, atomically (the manifest is itself written with
//!   a temporary file and a rename), and drops the lines of files no longer there. Folders
//!   without a manifest (a user's `--out` folder, checkpoints, which have their own CRC)
//!   get none.
//! - Reading: [`verify`] (or [`read_verified`]) compares a file's bytes with its line: a
//!   different hash, or a manifest that cannot be parsed, is a [`ChecksumError`] naming the
//!   file. A folder without a manifest (written by a release before manifests) and a file
//!   the manifest does not list (written into the folder by something else, or by an
//!   earlier release before the manifest was started) are accepted unverified, with one
//!   `log::warn!` per folder or file and process.
//!
//! A write updates the file first and its line second: a process killed between the two
//! leaves a complete file with its previous line, refused on the next read (write it
//! again), never a damaged file accepted.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::io::{folder_of, real_path, write_atomic};

/// The file name of a folder's manifest.
pub const MANIFEST: &str = "CHECKSUMS";

/// Serialises the read-modify-write of manifests within this process (run folders are not
/// written by two processes at once: runs are locked).
static UPDATE: Mutex<()> = Mutex::new(());

/// A file read back that is not what was written, or a manifest that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChecksumError {
    /// The file's bytes are not those its folder's manifest lists.
    #[error(
        "{} was modified or damaged after it was written: its BLAKE3 checksum is {actual}, {} \
         lists {expected}; write it again (run the command that made it once more) or restore \
         the folder from a copy",
        file.display(),
        manifest.display()
    )]
    Mismatch {
        /// The file read.
        file: PathBuf,
        /// The manifest listing it.
        manifest: PathBuf,
        /// The hash listed, hex.
        expected: String,
        /// The hash of the bytes read, hex.
        actual: String,
    },
    /// The manifest itself is not a list of checksums.
    #[error(
        "{} (checking {}) was modified or damaged after it was written: line {line} is not \
         `<BLAKE3 hex>  <file name>`; restore the folder from a copy, or remove {} to load \
         its files unverified",
        manifest.display(),
        file.display(),
        manifest.display()
    )]
    Manifest {
        /// The file being checked.
        file: PathBuf,
        /// The manifest.
        manifest: PathBuf,
        /// The first line that does not parse (from 1).
        line: usize,
    },
    /// The file or its manifest cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file that cannot be read.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

impl From<ChecksumError> for io::Error {
    fn from(e: ChecksumError) -> Self {
        match e {
            ChecksumError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => source,
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

/// Starts a manifest in `dir` (an empty one, creating the folder) unless it has one: the
/// files written there from now on are recorded and checked.
///
/// # Errors
/// The folder or the manifest cannot be written; the error names it.
pub fn track(dir: &Path) -> io::Result<()> {
    let manifest = dir.join(MANIFEST);
    let _guard = UPDATE.lock().unwrap_or_else(PoisonError::into_inner);
    if fs::symlink_metadata(&manifest).is_ok() {
        return Ok(());
    }
    write_atomic(&manifest, b"")
}

/// Records `hash` as the contents of the file at `path` in its folder's manifest, when the
/// folder has one (see the module docs); the manifest records nothing about itself.
pub(crate) fn record(path: &Path, hash: &blake3::Hash) -> io::Result<()> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    if name == MANIFEST {
        return Ok(());
    }
    let dir = folder_of(path);
    let manifest = dir.join(MANIFEST);
    let _guard = UPDATE.lock().unwrap_or_else(PoisonError::into_inner);
    let text = match fs::read_to_string(&manifest) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(crate::io::naming(&manifest, e)),
    };
    let mut entries = parse(&text).unwrap_or_else(|line| {
        log::warn!(
            "{}: line {line} is damaged; the manifest is rebuilt from the lines that can be read",
            manifest.display()
        );
        parse_lenient(&text)
    });
    entries.retain(|n, _| n != name && dir.join(n).is_file());
    entries.insert(name.to_string(), hash.to_hex().to_string());
    write_atomic(&manifest, render(&entries).as_bytes())
}

/// Checks `bytes`, read from the file at `path`, against its folder's manifest (see the
/// module docs for files without one).
///
/// # Errors
/// [`ChecksumError::Mismatch`] naming the file when its hash is not the one listed;
/// [`ChecksumError::Manifest`] when the manifest cannot be parsed; [`ChecksumError::Io`]
/// when it cannot be read.
pub fn verify(path: &Path, bytes: &[u8]) -> Result<(), ChecksumError> {
    let real = real_path(path);
    let Some(name) = real.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let dir = folder_of(&real);
    let manifest = dir.join(MANIFEST);
    let text = match fs::read_to_string(&manifest) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            warn_once(dir, || {
                format!(
                    "{} has no {MANIFEST} (written by an earlier release?): its files are read unverified",
                    dir.display()
                )
            });
            return Ok(());
        }
        Err(source) => {
            return Err(ChecksumError::Io {
                path: manifest,
                source,
            });
        }
    };
    let entries = parse(&text).map_err(|line| ChecksumError::Manifest {
        file: path.to_path_buf(),
        manifest: manifest.clone(),
        line,
    })?;
    let Some(expected) = entries.get(name) else {
        warn_once(&real, || {
            format!(
                "{} is not listed in {}: it is read unverified",
                path.display(),
                manifest.display()
            )
        });
        return Ok(());
    };
    let actual = blake3::hash(bytes).to_hex().to_string();
    if actual == *expected {
        Ok(())
    } else {
        Err(ChecksumError::Mismatch {
            file: path.to_path_buf(),
            manifest,
            expected: expected.clone(),
            actual,
        })
    }
}

/// Reads the file at `path` and [`verify`]s it.
///
/// # Errors
/// The file cannot be read (the [`io::Error`] of the read, naming nothing: its kind tells
/// a missing file), or [`verify`] refuses it ([`io::ErrorKind::InvalidData`] wrapping the
/// [`ChecksumError`], which names the file).
pub fn read_verified(path: &Path) -> io::Result<Vec<u8>> {
    let bytes = fs::read(path)?;
    verify(path, &bytes)?;
    Ok(bytes)
}

/// [`read_verified`] as UTF-8 text.
///
/// # Errors
/// As [`read_verified`]; [`io::ErrorKind::InvalidData`] for bytes that are not UTF-8.
pub fn read_to_string_verified(path: &Path) -> io::Result<String> {
    String::from_utf8(read_verified(path)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn warn_once(key: &Path, message: impl FnOnce() -> String) {
    static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let first = WARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(key.to_path_buf());
    if first {
        log::warn!("{}", message());
    }
}

/// File name → hex hash, or the number of the first line (from 1) that is not an entry.
fn parse(text: &str) -> Result<BTreeMap<String, String>, usize> {
    let mut entries = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let (name, hash) = parse_line(line).ok_or(i + 1)?;
        entries.insert(name, hash);
    }
    Ok(entries)
}

/// The entries of the lines of `text` that parse.
fn parse_lenient(text: &str) -> BTreeMap<String, String> {
    text.lines().filter_map(parse_line).collect()
}

/// One `b3sum` line: `<hex>  <name>`, or `\<hex>  <escaped name>`.
fn parse_line(line: &str) -> Option<(String, String)> {
    let (escaped, line) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (hash, name) = line.split_once("  ")?;
    blake3::Hash::from_hex(hash).ok()?;
    if name.is_empty() {
        return None;
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_string()
    };
    Some((name, hash.to_ascii_lowercase()))
}

fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => match chars.next()? {
                '\\' => '\\',
                'n' => '\n',
                _ => return None,
            },
            c => c,
        });
    }
    Some(out)
}

fn render(entries: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (name, hash) in entries {
        if name.contains(['\\', '\n']) {
            let name = name.replace('\\', "\\\\").replace('\n', "\\n");
            out.push_str(&format!("\\{hash}  {name}\n"));
        } else {
            out.push_str(&format!("{hash}  {name}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dk-checksums-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_tracked_folder_lists_each_write_in_b3sum_format_and_refuses_changes() {
        let dir = scratch("tracked");
        track(&dir).unwrap();
        let (a, b) = (dir.join("model.json"), dir.join("a\\odd\nname"));
        write_atomic(&a, b"{}").unwrap();
        write_atomic(&b, b"x").unwrap();
        write_atomic(&a, b"{\"v\":2}").unwrap();
        let manifest = fs::read_to_string(dir.join(MANIFEST)).unwrap();
        let ha = blake3::hash(b"{\"v\":2}").to_hex();
        let hb = blake3::hash(b"x").to_hex();
        assert_eq!(
            manifest,
            format!("\\{hb}  a\\\\odd\\nname\n{ha}  model.json\n")
        );
        assert_eq!(read_verified(&a).unwrap(), b"{\"v\":2}");
        assert_eq!(read_verified(&b).unwrap(), b"x");
        // One byte changed, one appended: refused, naming the file and what to do.
        for bad in [&b"{\"v\":3}"[..], b"{\"v\":2}\n"] {
            fs::write(&a, bad).unwrap();
            let err = read_verified(&a).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            let msg = err.to_string();
            assert!(msg.contains(&*a.to_string_lossy()), "{msg}");
            assert!(msg.contains("modified or damaged") && msg.contains("write it again"));
        }
        // A removed file's line goes at the next write.
        fs::remove_file(&b).unwrap();
        write_atomic(&a, b"{}").unwrap();
        let manifest = fs::read_to_string(dir.join(MANIFEST)).unwrap();
        assert_eq!(manifest.lines().count(), 1, "{manifest}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn legacy_folders_and_unlisted_files_load_and_a_bad_manifest_is_refused() {
        let dir = scratch("legacy");
        let file = dir.join("preprocessing.json");
        write_atomic(&file, b"{}").unwrap();
        assert!(
            !dir.join(MANIFEST).exists(),
            "an untracked folder gets no manifest"
        );
        assert_eq!(read_verified(&file).unwrap(), b"{}");
        track(&dir).unwrap();
        assert_eq!(
            read_verified(&file).unwrap(),
            b"{}",
            "not listed: unverified"
        );
        fs::write(dir.join(MANIFEST), "not a checksum line\n").unwrap();
        let err = verify(&file, b"{}").unwrap_err().to_string();
        assert!(err.contains("CHECKSUMS") && err.contains("line 1"), "{err}");
        // A write rebuilds a damaged manifest from what it can read.
        write_atomic(&file, b"[]").unwrap();
        assert_eq!(read_verified(&file).unwrap(), b"[]");
        let missing = read_verified(&dir.join("none.json")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_file_written_through_a_link_is_checked_through_it() {
        let dir = scratch("link");
        let real = dir.join("models");
        track(&real).unwrap();
        std::os::unix::fs::symlink(real.join("model.bpk"), dir.join("model.bpk")).unwrap();
        write_atomic(&dir.join("model.bpk"), b"weights").unwrap();
        assert!(!dir.join(MANIFEST).exists());
        assert_eq!(read_verified(&dir.join("model.bpk")).unwrap(), b"weights");
        fs::write(real.join("model.bpk"), b"weightz").unwrap();
        assert!(read_verified(&dir.join("model.bpk")).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
