//! Writing files so that a crash never leaves half a file behind.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

pub use tempfile::NamedTempFile;

/// Writes `contents` to `path` atomically, creating parent directories: a reader (or a crash) sees either the old file
/// or the complete new one, never a partial write.
///
/// The bytes go to a fresh temporary file in the same directory ([`temp_file_for`]), which
/// is flushed to disk with `fsync` and then renamed over `path` ([`persist`]). Rename
/// within one directory is atomic on POSIX filesystems and on NTFS. On failure the
/// temporary file is removed and the target is left untouched. On Unix the directory is
/// also synced afterwards so the rename itself survives a power loss (best effort: a
/// filesystem that cannot sync directories does not turn success into an error).
///
/// Notes: the new file gets default permissions rather than the old file's, and if `path`
/// is a symbolic link the link itself is replaced. Errors with
/// [`io::ErrorKind::InvalidInput`] when `path` has no file name (e.g. ends in `..`).
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = temp_file_for(path)?;
    tmp.write_all(contents)?;
    persist(tmp, path)
}

/// A new temporary file in the folder of `path` (created if missing), named
/// `.{file name}.tmp-{pid}-{random}`: removed when dropped, and recognisable as left by a
/// dead process if that process is killed (see `checkpoint::remove_stale_temp_files`).
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] when `path` has no file name; the folder cannot be
/// created or written.
pub fn temp_file_for(path: &Path) -> io::Result<NamedTempFile> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write {}: path has no file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let mut prefix = OsString::from(".");
    prefix.push(file_name);
    prefix.push(format!(".tmp-{}-", std::process::id()));
    tempfile::Builder::new()
        .prefix(&prefix)
        .rand_bytes(8)
        .tempfile_in(dir)
}

/// Flushes `tmp` to disk and renames it over `path` (then syncs the folder): the last
/// step of an atomic write. On failure the temporary file is removed.
///
/// # Errors
/// The flush or the rename failed.
pub fn persist(tmp: NamedTempFile, path: &Path) -> io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Some(dir) = path.parent() {
        sync_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        });
    }
    Ok(())
}

/// Best-effort `fsync` of a directory, persisting a rename inside it.
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Directories cannot be opened for syncing on this platform; nothing to do.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh directory next to the test binary (inside the cargo target directory).
    fn scratch_dir(name: &str) -> PathBuf {
        let base = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("write-atomic-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn leftover_temp_files(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn creates_then_replaces_without_leaving_temp_files() {
        let dir = scratch_dir("replace");
        let target = dir.join("report.json");
        write_atomic(&target, b"first version, fairly long").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"first version, fairly long");
        // A shorter second write must fully replace (not overwrite in place) the first.
        write_atomic(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        write_atomic(&target, b"").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"");
        assert!(leftover_temp_files(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_leaves_target_and_no_temp_file() {
        let dir = scratch_dir("fail");
        // Renaming a file over a non-empty directory fails after the temp file exists.
        let target = dir.join("occupied");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep.txt"), b"keep").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        assert_eq!(fs::read(target.join("keep.txt")).unwrap(), b"keep");
        assert!(leftover_temp_files(&dir).is_empty());
        // A missing parent directory is created.
        let nested = dir.join("new-dir").join("x.json");
        write_atomic(&nested, b"data").unwrap();
        assert_eq!(fs::read(&nested).unwrap(), b"data");
        // A parent that is a file: error, nothing left behind.
        let under_file = dir.join("occupied").join("keep.txt").join("x.json");
        assert!(write_atomic(&under_file, b"data").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_path_without_file_name() {
        let err = write_atomic(Path::new(".."), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn concurrent_writers_each_leave_a_complete_file() {
        let dir = scratch_dir("concurrent");
        let target = dir.join("shared.txt");
        let payloads: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 10_000]).collect();
        std::thread::scope(|s| {
            for p in &payloads {
                let target = &target;
                s.spawn(move || write_atomic(target, p).unwrap());
            }
        });
        let final_bytes = fs::read(&target).unwrap();
        assert!(payloads.contains(&final_bytes), "file is a mix of writes");
        assert!(leftover_temp_files(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
