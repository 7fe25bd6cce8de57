//! Writing files so that a crash never leaves half a file behind, recording each in its
//! folder's checksum manifest ([`crate::checksums`]).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use tempfile::NamedTempFile;

mod output;

use output::Finished;
pub(crate) use output::naming;
pub(crate) use output::real_path;
pub use output::{OutputFile, STDOUT};

/// Writes `contents` to `path` atomically, creating parent directories: a reader (or a crash) sees either the old file
/// or the complete new one, never a partial write.
///
/// The bytes go to a fresh temporary file in the same directory ([`temp_file_for`]), which
/// is flushed to disk with `fsync` and then renamed over `path` ([`persist`]). Rename
/// within one directory is atomic on POSIX filesystems and on NTFS. On failure the
/// temporary file is removed and the target is left untouched. On Unix the directory is
/// also synced afterwards so the rename itself survives a power loss (best effort: a
/// filesystem that cannot sync directories does not turn success into an error). When the
/// folder has a `CHECKSUMS` manifest, the file's entry there is updated
/// ([`crate::checksums`]).
///
/// Notes: the new file gets default permissions rather than the old file's. If `path` is a
/// symbolic link, the file it points to is replaced and the link stays. `-` means standard
/// output, and a path that is neither a regular file nor a folder (`/dev/null`, a FIFO) is
/// written directly, without a temporary file: such writes are not atomic. Errors name
/// `path` (a full disk included) and keep the [`io::ErrorKind`] of their cause;
/// [`io::ErrorKind::InvalidInput`] when `path` has no file name (e.g. ends in `..`).
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut out = temp_file_for(path)?;
    out.write_all(contents)?;
    persist(out, path)
}

/// Starts writing `path` (see [`OutputFile`]): for a regular file, a new temporary file in
/// the folder of `path` (created if missing; the folder of the file a symbolic link points
/// to), named `.{file name}.tmp-{pid}-{random}`, removed when dropped and recognisable as
/// left by a dead process if that process is killed. The first time this process writes
/// in a folder, such files left there by processes no longer running are removed
/// ([`remove_stale_temp_files`]). For `-` (standard output), a device or a FIFO, the
/// output itself, opened for writing (a FIFO waits for its reader).
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] when `path` has no file name; the folder cannot be
/// created or written; the output cannot be opened. Errors name `path`.
pub fn temp_file_for(path: &Path) -> io::Result<OutputFile> {
    OutputFile::open(path, new_temp_file).map_err(|e| naming(path, e))
}

/// The temporary file beside `target` (see [`temp_file_for`]).
fn new_temp_file(target: &Path) -> io::Result<NamedTempFile> {
    let file_name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let dir = folder_of(target);
    fs::create_dir_all(dir)?;
    clean_once(dir);
    let mut prefix = OsString::from(".");
    prefix.push(file_name);
    prefix.push(format!(".tmp-{}-", std::process::id()));
    tempfile::Builder::new()
        .prefix(&prefix)
        .rand_bytes(8)
        .tempfile_in(dir)
}

/// Flushes `file` (from [`temp_file_for`]`(path)`) to disk and renames it over the file at
/// `path` (then syncs the folder and updates its `CHECKSUMS` manifest, if it has one): the
/// last step of an atomic write. On failure the temporary file is removed. A direct write
/// (standard output, a device, a FIFO) is only flushed.
///
/// # Errors
/// The flush, the rename or the manifest update failed; the error names the file.
pub fn persist(file: OutputFile, path: &Path) -> io::Result<()> {
    debug_assert_eq!(
        file.path(),
        path,
        "persist a file to the path it was opened for"
    );
    match file.finish()? {
        Finished::Direct => Ok(()),
        Finished::Replaced { target, hash } => {
            sync_dir(folder_of(&target));
            crate::checksums::record(&target, &hash)
        }
    }
}

/// The folder `path` is in (`.` for a bare file name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Removes the temporary files of [`temp_file_for`] (`.{name}.tmp-{pid}-{random}`) that
/// processes no longer running left in `dir` (killed while writing); returns how many
/// were removed. Files of this process and of running ones are kept; where whether a
/// process runs cannot be told (outside Linux), every file is kept.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) && fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// The process id in the name of one of our temporary files, or `None` for another name.
fn temp_file_pid(name: &str) -> Option<u32> {
    let (_, tail) = name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    let (pid, random) = tail.split_once('-')?;
    let ours = !random.is_empty() && random.chars().all(|c| c.is_ascii_alphanumeric());
    ours.then(|| pid.parse().ok()).flatten()
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// [`remove_stale_temp_files`] in `dir`, once per folder and process.
fn clean_once(dir: &Path) {
    static CLEANED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let first = CLEANED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_path_buf());
    if first {
        remove_stale_temp_files(dir);
    }
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

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_written_through_and_stays() {
        let dir = scratch_dir("symlink");
        let real = dir.join("real").join("report.json");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, b"old").unwrap();
        let link = dir.join("link.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // A link to a file not there yet (relative, through a second link) creates it.
        let dangling = dir.join("dangling.json");
        std::os::unix::fs::symlink("real/created.json", &dangling).unwrap();
        let twice = dir.join("twice.json");
        std::os::unix::fs::symlink("dangling.json", &twice).unwrap();
        write_atomic(&twice, b"made").unwrap();
        assert_eq!(fs::read(dir.join("real/created.json")).unwrap(), b"made");
        assert!(
            fs::symlink_metadata(&twice)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(leftover_temp_files(&dir).is_empty());
        assert!(leftover_temp_files(real.parent().unwrap()).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn dev_null_and_a_fifo_are_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
        let dir = scratch_dir("fifo");
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            println!("SKIPPED the FIFO case: mkfifo is not available");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(&fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert!(leftover_temp_files(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reopened_output_is_hashed_from_the_file() {
        let dir = scratch_dir("reopen");
        crate::checksums::track(&dir).unwrap();
        let target = dir.join("scores.csv");
        let mut out = temp_file_for(&target).unwrap();
        assert_eq!(out.path(), target);
        out.reopen().unwrap().write_all(b"a,b\n1,2\n").unwrap();
        persist(out, &target).unwrap();
        let manifest = fs::read_to_string(dir.join("CHECKSUMS")).unwrap();
        let hash = blake3::hash(b"a,b\n1,2\n").to_hex();
        assert_eq!(manifest, format!("{hash}  scores.csv\n"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temp_files_of_dead_processes_go_at_the_first_write_in_their_folder() {
        let dir = scratch_dir("stale");
        let mut live = std::process::Command::new("sleep").arg("30").spawn();
        let live_pid = live.as_ref().map_or(std::process::id(), |c| c.id());
        // Beyond Linux's largest process id: never running.
        let dead = dir.join(".report.json.tmp-4194305-AbCd1234");
        let running = dir.join(format!(".report.json.tmp-{live_pid}-AbCd1234"));
        let mine = dir.join(format!(".x.tmp-{}-zz", std::process::id()));
        let other = dir.join(".notes.tmp-4194305-"); // not our pattern
        for f in [&dead, &running, &mine, &other] {
            fs::write(f, b"half").unwrap();
        }
        write_atomic(&dir.join("report.json"), b"done").unwrap();
        if let Ok(child) = live.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if cfg!(target_os = "linux") {
            assert!(!dead.exists());
        }
        assert!(running.exists() && mine.exists() && other.exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_full_disk_names_the_file_and_leaves_nothing() {
        let dir = scratch_dir("enospc");
        let mount = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&dir)
            .output();
        match mount {
            Ok(out) if out.status.success() => {}
            other => {
                println!("SKIPPED the full-disk case: cannot mount a tmpfs ({other:?})");
                return;
            }
        }
        let target = dir.join("model.bpk");
        let err = write_atomic(&target, &vec![7u8; 2 << 20]).unwrap_err();
        let listing = leftover_temp_files(&dir);
        let _ = std::process::Command::new("umount").arg(&dir).status();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull, "{err}");
        assert!(
            err.to_string().contains(&*target.to_string_lossy()),
            "{err}"
        );
        assert!(listing.is_empty(), "{listing:?}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
