//! [`OutputFile`]: where the bytes of one write go — a temporary file renamed over a
//! regular file, or straight into standard output, a device or a FIFO.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// The output path that means standard output.
pub const STDOUT: &str = "-";

/// Symbolic links followed from one output path before giving up (as Linux does).
const MAX_LINKS: usize = 40;

/// A file being written by [`super::temp_file_for`], finished by [`super::persist`].
///
/// For a regular file (or a path that does not exist yet) the bytes go to a temporary file
/// beside the real file: the target of `path` when `path` is a symbolic link (the link
/// stays). For standard output (`-`) and for anything else that is not a regular file or a
/// folder (a character device such as `/dev/null`, a FIFO) they go straight into it: there
/// is nothing to replace atomically, and a temporary file next to `/dev/null` is not ours
/// to leave. Write errors name `path`.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    kind: Kind,
}

// One value per file being written: the size of the hasher does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Kind {
    /// A temporary file to rename over `target`; `hasher` holds the BLAKE3 hash of what
    /// went through [`Write`] (`None` once the file was reopened and written behind it).
    Replace {
        tmp: NamedTempFile,
        target: PathBuf,
        hasher: Option<blake3::Hasher>,
    },
    /// Standard output, a device or a FIFO, written in place.
    Direct(File),
}

/// What a finished [`OutputFile`] leaves to do: nothing for a direct write; for a replaced
/// file, its path and the BLAKE3 hash of its new contents.
pub(crate) enum Finished {
    Direct,
    Replaced { target: PathBuf, hash: blake3::Hash },
}

/// The error `e` met writing `path`, naming it (same kind).
pub(crate) fn naming(path: &Path, e: io::Error) -> io::Error {
    if path == Path::new(STDOUT) {
        return io::Error::new(e.kind(), format!("cannot write to standard output: {e}"));
    }
    io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
}

impl OutputFile {
    /// Starts writing `path` (see the type's docs); the temporary file of a regular file
    /// is created by `make_temp` in the folder of the real file.
    pub(crate) fn open(
        path: &Path,
        make_temp: impl FnOnce(&Path) -> io::Result<NamedTempFile>,
    ) -> io::Result<Self> {
        let kind = match resolve(path)? {
            Resolved::Stdout => Kind::Direct(stdout_file()?),
            Resolved::Direct => Kind::Direct(OpenOptions::new().write(true).open(path)?),
            Resolved::Replace(target) => Kind::Replace {
                tmp: make_temp(&target)?,
                target,
                hasher: Some(blake3::Hasher::new()),
            },
        };
        Ok(Self {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// The path being written, as given to [`super::temp_file_for`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file the bytes go to (the temporary file, or the output itself).
    pub fn as_file(&self) -> &File {
        match &self.kind {
            Kind::Replace { tmp, .. } => tmp.as_file(),
            Kind::Direct(file) => file,
        }
    }

    /// A second handle on [`Self::as_file`], e.g. for a buffered writer; [`super::persist`]
    /// then reads the temporary file back to hash it.
    ///
    /// # Errors
    /// The file cannot be opened again.
    pub fn reopen(&mut self) -> io::Result<File> {
        match &mut self.kind {
            Kind::Replace { tmp, hasher, .. } => {
                *hasher = None;
                tmp.reopen()
            }
            Kind::Direct(file) => file.try_clone(),
        }
    }

    /// Flushes the bytes to disk and moves a temporary file over its target (or, for a
    /// direct write, only flushes): the errors name [`Self::path`].
    pub(crate) fn finish(self) -> io::Result<Finished> {
        let path = self.path;
        match self.kind {
            Kind::Direct(mut file) => {
                file.flush().map_err(|e| naming(&path, e))?;
                Ok(Finished::Direct)
            }
            Kind::Replace {
                tmp,
                target,
                hasher,
            } => {
                let hash = match hasher {
                    Some(h) => h.finalize(),
                    None => hash_file(tmp.as_file()).map_err(|e| naming(&path, e))?,
                };
                tmp.as_file().sync_all().map_err(|e| naming(&path, e))?;
                tmp.persist(&target).map_err(|e| naming(&path, e.error))?;
                Ok(Finished::Replaced { target, hash })
            }
        }
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = match &mut self.kind {
            Kind::Replace { tmp, hasher, .. } => {
                let n = tmp.as_file_mut().write(buf);
                if let (Ok(n), Some(h)) = (&n, hasher) {
                    h.update(&buf[..*n]);
                }
                n
            }
            Kind::Direct(file) => file.write(buf),
        };
        written.map_err(|e| naming(&self.path, e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let path = &self.path;
        match &mut self.kind {
            Kind::Replace { tmp, .. } => tmp.as_file_mut().flush(),
            Kind::Direct(file) => file.flush(),
        }
        .map_err(|e| naming(path, e))
    }
}

/// The BLAKE3 hash of a whole file, read from its start.
fn hash_file(file: &File) -> io::Result<blake3::Hash> {
    let mut file = file;
    file.rewind()?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buf[..n]);
    }
}

/// Where a write to a path goes.
enum Resolved {
    Stdout,
    /// The path itself, written in place (a device, a FIFO).
    Direct,
    /// A regular file (or none yet) at this path, replaced by renaming.
    Replace(PathBuf),
}

fn resolve(path: &Path) -> io::Result<Resolved> {
    if path == Path::new(STDOUT) {
        return Ok(Resolved::Stdout);
    }
    match fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(Resolved::Replace(real_path(path))),
        // Renaming over a folder fails, with an error naming it.
        Ok(m) if m.is_dir() => Ok(Resolved::Replace(path.to_path_buf())),
        Ok(_) => Ok(Resolved::Direct),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Resolved::Replace(link_target(path)?)),
        Err(e) => Err(e),
    }
}

/// `path` itself, or the file it links to when it is a symbolic link to an existing file.
pub(crate) fn real_path(path: &Path) -> PathBuf {
    let is_link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && let Ok(real) = fs::canonicalize(path) {
        return real;
    }
    path.to_path_buf()
}

/// The file a chain of symbolic links ending nowhere names (to be created), or `path`.
fn link_target(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&at)?;
                at = match at.parent() {
                    Some(dir) => dir.join(to),
                    None => to,
                };
            }
            _ => return Ok(at),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("more than {MAX_LINKS} symbolic links to follow"),
    ))
}

/// A handle on this process's standard output, after flushing what was printed before.
#[cfg(unix)]
fn stdout_file() -> io::Result<File> {
    use std::os::fd::AsFd;
    io::stdout().flush()?;
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

/// A handle on this process's standard output, after flushing what was printed before.
#[cfg(windows)]
fn stdout_file() -> io::Result<File> {
    use std::os::windows::io::AsHandle;
    io::stdout().flush()?;
    Ok(File::from(io::stdout().as_handle().try_clone_to_owned()?))
}

/// Standard output as a file is not supported on this platform.
#[cfg(not(any(unix, windows)))]
fn stdout_file() -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "writing to standard output (`-`) is not supported on this platform",
    ))
}
