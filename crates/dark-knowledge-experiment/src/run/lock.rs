//! One writer per run folder: an advisory lock on `OUT/.lock`, held for a command's life.
//!
//! Every command that writes a run folder (`demo`, `train-teacher`, `distill`,
//! `cache-teacher`, `quantize`, `evaluate`, `sweep`, `reproduce`) holds the lock of its
//! folder from before it first touches the folder until it ends; a second writer is refused
//! at once, naming the process that holds it. Readers (`predict`) take no lock.
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows, through
//! [`std::fs::File::try_lock`]): it goes with the process, so a killed command leaves no
//! stale lock. The file holds the holder's process id while it is locked, and is emptied
//! when the lock is released; it is never removed (removing it could let two writers lock
//! two different files).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// The lock file inside a run folder.
pub const LOCK_FILE: &str = ".lock";

/// The lock of a run folder, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Emptied while still locked; the lock itself goes with the file handle.
        let _ = self.file.set_len(0);
    }
}

/// Checks that `dir` is a folder or can be made one: neither it nor the nearest of its
/// ancestors that exists is a file.
///
/// # Errors
/// The output path (or one of its parents) is a file, naming it.
pub fn check_output_folder(dir: &Path) -> Result<()> {
    for path in dir.ancestors().filter(|p| !p.as_os_str().is_empty()) {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.is_dir() {
            return Ok(());
        }
        if path == dir {
            crate::bail!(
                "the output path {} is a file, not a folder: allowed: a folder (it is made when \
                 missing); choose another output folder or move the file away",
                dir.display()
            );
        }
        crate::bail!(
            "the output path {} is inside {}, which is a file, not a folder: allowed: a path \
             whose parents are folders",
            dir.display(),
            path.display()
        );
    }
    Ok(())
}

/// Takes the lock of the run folder `dir`, making the folder when missing.
///
/// # Errors
/// The folder is locked by another writer (the message names its process id); the folder
/// or its lock file cannot be made.
pub fn lock_dir(dir: &Path) -> Result<RunLock> {
    check_output_folder(dir)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("making the run folder {}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    // No truncation on open: the file holds the current holder's id.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = match holder.parse::<u32>() {
                Ok(pid) if pid == std::process::id() => format!("PID {pid}, this process"),
                Ok(pid) => format!("PID {pid}"),
                Err(_) => "a process that has not written its PID yet".to_string(),
            };
            crate::bail!(
                "the run folder {} is being written by another command ({who}; lock file {}): \
                 one command at a time may write a run folder; wait for it to finish, or \
                 choose another output folder",
                dir.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            log::warn!(
                "{}: this file system cannot lock files; nothing stops a second command from writing {} at the same time",
                path.display(),
                dir.display()
            );
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush())
        .with_context(|| format!("writing the lock file {}", path.display()))?;
    Ok(RunLock { file, path })
}
