//! The checkpoint file: a checksummed container of one JSON header and binary sections,
//! written atomically, listed and pruned (temporary files left by a killed run are removed
//! by the next write in the folder, see `dark_knowledge_core::io::temp_file_for`).
//!
//! Layout (little-endian):
//!
//! ```text
//! magic "DKCKPT\0\x01" (8) | body length u64 | body | CRC-32 of magic, length and body (u32)
//! body = section count u32 | header length u64 | header (JSON) | { length u64 | bytes }*
//! ```

use std::path::{Path, PathBuf};

use dark_knowledge_core::io::write_atomic;

use super::CheckpointError;

const MAGIC: &[u8; 8] = b"DKCKPT\x00\x01";
const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".dkc";

/// The decoded parts of a checkpoint file.
pub(crate) struct Parts {
    pub header: Vec<u8>,
    pub sections: Vec<Vec<u8>>,
}

/// The bytes of a checkpoint file holding `header` and `sections`.
pub(crate) fn encode(header: &[u8], sections: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    body.extend_from_slice(&(header.len() as u64).to_le_bytes());
    body.extend_from_slice(header);
    for s in sections {
        body.extend_from_slice(&(s.len() as u64).to_le_bytes());
        body.extend_from_slice(s);
    }
    let mut out = Vec::with_capacity(body.len() + 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Splits a checkpoint file read from `path` into its header and sections, checking the
/// magic, the length and the checksum before anything is parsed.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Parts, CheckpointError> {
    let damaged = |details: String| CheckpointError::Damaged {
        path: path.to_path_buf(),
        details,
    };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
        });
    }
    if bytes.len() < 16 {
        return Err(CheckpointError::Truncated {
            path: path.to_path_buf(),
            expected: 20,
            found: bytes.len() as u64,
        });
    }
    let body_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let expected = body_len.saturating_add(20);
    if (bytes.len() as u64) < expected {
        return Err(CheckpointError::Truncated {
            path: path.to_path_buf(),
            expected,
            found: bytes.len() as u64,
        });
    }
    if (bytes.len() as u64) > expected {
        return Err(damaged(format!(
            "{} bytes where the length field says {expected}",
            bytes.len()
        )));
    }
    let end = bytes.len() - 4;
    let stored = u32::from_le_bytes(bytes[end..].try_into().expect("4 bytes"));
    let actual = crc32fast::hash(&bytes[..end]);
    if stored != actual {
        return Err(damaged(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file was changed after it was written"
        )));
    }
    let mut cursor = Cursor {
        bytes: &bytes[16..end],
        at: 0,
    };
    let count = cursor
        .u32()
        .ok_or_else(|| damaged("no section count".into()))?;
    let header = cursor.chunk().ok_or_else(|| damaged("no header".into()))?;
    let mut sections = Vec::with_capacity(count.min(1024) as usize);
    for i in 0..count {
        let s = cursor
            .chunk()
            .ok_or_else(|| damaged(format!("section {i} of {count} is cut short")))?;
        sections.push(s.to_vec());
    }
    Ok(Parts {
        header: header.to_vec(),
        sections,
    })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn chunk(&mut self) -> Option<&'a [u8]> {
        let n = u64::from_le_bytes(self.take(8)?.try_into().ok()?);
        self.take(usize::try_from(n).ok()?)
    }
}

/// The file name of the checkpoint after global step `step`.
pub(crate) fn file_name(step: usize) -> String {
    format!("{PREFIX}{step:010}{SUFFIX}")
}

/// The checkpoints in `dir`, oldest first, by step; an absent directory has none.
pub(crate) fn list(dir: &Path) -> Result<Vec<(usize, PathBuf)>, CheckpointError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CheckpointError::Io {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(step) = name
            .strip_prefix(PREFIX)
            .and_then(|s| s.strip_suffix(SUFFIX))
            .and_then(|s| s.parse::<usize>().ok())
        {
            found.push((step, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Writes `bytes` as the checkpoint of `step` in `dir` (temporary file + rename: the
/// previous checkpoints stay whole until the new one is complete), then removes all but the
/// newest `keep`.
pub(crate) fn write(
    dir: &Path,
    step: usize,
    bytes: &[u8],
    keep: usize,
) -> Result<PathBuf, CheckpointError> {
    let path = dir.join(file_name(step));
    write_atomic(&path, bytes).map_err(|source| CheckpointError::Io {
        path: path.clone(),
        source,
    })?;
    let all = list(dir)?;
    let excess = all.len().saturating_sub(keep.max(1));
    for (_, old) in all.into_iter().take(excess) {
        // Best effort: a checkpoint that cannot be removed is only disk space.
        let _ = std::fs::remove_file(old);
    }
    Ok(path)
}

/// Removes every checkpoint in `dir` (a run starting afresh owns its directory: an older
/// run's checkpoints would otherwise be taken for its own on resume).
pub(crate) fn clear(dir: &Path) -> Result<(), CheckpointError> {
    for (_, path) in list(dir)? {
        std::fs::remove_file(&path).map_err(|source| CheckpointError::Io { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dark_knowledge_core::io::remove_stale_temp_files;

    #[test]
    fn round_trip_and_every_damage_is_named() {
        let path = Path::new("c.dkc");
        let sections = vec![vec![1u8, 2, 3], Vec::new(), vec![9; 1000]];
        let bytes = encode(b"{\"a\":1}", &sections);
        let parts = decode(path, &bytes).unwrap();
        assert_eq!(parts.header, b"{\"a\":1}");
        assert_eq!(parts.sections, sections);
        // Every single flipped bit anywhere is caught, by the magic, the length or the CRC.
        for i in 0..bytes.len() {
            for bit in [0u8, 3, 7] {
                let mut bad = bytes.clone();
                bad[i] ^= 1 << bit;
                assert!(decode(path, &bad).is_err(), "flip at byte {i} bit {bit}");
            }
        }
        for cut in [0, 5, 12, 16, bytes.len() / 2, bytes.len() - 1] {
            let err = decode(path, &bytes[..cut]).err().unwrap().to_string();
            assert!(
                err.contains("truncated") || err.contains("not a dark-knowledge checkpoint"),
                "{cut}: {err}"
            );
        }
        let mut flipped = bytes.clone();
        flipped[30] ^= 0x10;
        let err = decode(path, &flipped).err().unwrap().to_string();
        assert!(err.contains("checksum") && err.contains("c.dkc"), "{err}");
    }

    #[test]
    fn keeps_the_newest_and_cleans_dead_temp_files() {
        let dir = std::env::temp_dir().join(format!("dk-ckpt-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for step in [3, 10, 7, 12] {
            write(&dir, step, b"x", 2).unwrap();
        }
        let steps: Vec<usize> = list(&dir).unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(steps, vec![10, 12]);
        // A temp file of a dead process goes; one of this process stays.
        let dead = dir.join(".checkpoint-0000000013.dkc.tmp-4000000000-0");
        let mine = dir.join(format!(".checkpoint-x.dkc.tmp-{}-0", std::process::id()));
        std::fs::write(&dead, b"half").unwrap();
        std::fs::write(&mine, b"half").unwrap();
        assert_eq!(remove_stale_temp_files(&dir), 1);
        assert!(!dead.exists() && mine.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
