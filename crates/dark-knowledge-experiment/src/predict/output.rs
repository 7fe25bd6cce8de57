//! The output file of `predict`: checked before anything is written, written to a
//! temporary file and renamed at the end, removed on every error.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Context, Result};
use crate::experiment::DataSource;
use dark_knowledge_core::io::{OutputFile, STDOUT, persist, temp_file_for};
use dark_knowledge_infer::Error as InferError;

/// The data source recorded in the run's `experiment.toml`, when it can be read (a run
/// folder put together by hand may have none).
pub(super) fn run_data_source(run_dir: &Path) -> Option<DataSource> {
    let text = std::fs::read_to_string(run_dir.join("experiment.toml")).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table.get("data")?.get("source")?.clone().try_into().ok()
}

/// Refuses an output that would replace one of `inputs` (the same path, a symbolic link to
/// it or a hard link: the same file), or that is a folder; before anything is written.
pub(super) fn check_output(out: &Path, inputs: &[&Path]) -> Result<()> {
    if out == Path::new(STDOUT) {
        return Ok(());
    }
    // An output not there yet (nor through a dangling link) cannot be an existing input.
    let Ok(meta) = std::fs::metadata(out) else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(InferError::OutputIsFolder {
            out: out.to_path_buf(),
        }
        .into());
    }
    for input in inputs {
        if same_file(out, &meta, input) {
            return Err(InferError::OutputIsInput {
                out: out.to_path_buf(),
                input: input.to_path_buf(),
            }
            .into());
        }
    }
    Ok(())
}

/// Whether `out` (with metadata `meta`, links followed) and `input` are one file.
fn same_file(out: &Path, meta: &std::fs::Metadata, input: &Path) -> bool {
    if let (Ok(a), Ok(b)) = (out.canonicalize(), input.canonicalize())
        && a == b
    {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(other) = std::fs::metadata(input) {
            return meta.dev() == other.dev() && meta.ino() == other.ino();
        }
    }
    let _ = meta;
    false
}

/// Starts writing `out` (a temporary file beside it, see [`temp_file_for`]).
pub(super) fn create(out: &Path) -> Result<OutputFile> {
    temp_file_for(out).with_context(|| format!("cannot write {}", out.display()))
}

/// Flushes the CSV writer and its buffer into the output file.
pub(super) fn close(writer: csv::Writer<BufWriter<&mut OutputFile>>, out: &Path) -> Result<()> {
    let buffered = writer
        .into_inner()
        .map_err(csv::IntoInnerError::into_error)
        .with_context(|| format!("writing {}", out.display()))?;
    buffered
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .with_context(|| format!("writing {}", out.display()))?
        .flush()
        .with_context(|| format!("writing {}", out.display()))
}

/// Renames the finished temporary file over `out`. On an error (of `result`, or of the
/// rename) the temporary file is removed and `out` is left as it was.
pub(super) fn finish<T>(result: Result<T>, file: OutputFile, out: &Path) -> Result<T> {
    let value = match result {
        Ok(value) => value,
        Err(e) => {
            drop(file); // removes the temporary file
            return Err(e);
        }
    };
    // `persist` removes the temporary file when the rename fails.
    persist(file, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(value)
}

/// A buffered CSV writer into `file`.
pub(super) fn csv_writer(file: &mut OutputFile) -> csv::Writer<BufWriter<&mut OutputFile>> {
    csv::Writer::from_writer(BufWriter::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn finish_removes_the_temporary_file_on_every_error() {
        let dir = std::env::temp_dir().join(format!("dk-predict-finish-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The rename fails: the output became a non-empty folder after the file was started.
        let out = dir.join("scores.csv");
        let mut file = create(&out).unwrap();
        file.write_all(b"a,b\n1,2\n").unwrap();
        assert_eq!(temp_files(&dir).len(), 1);
        std::fs::create_dir_all(out.join("inside")).unwrap();
        assert!(finish(Ok(()), file, &out).is_err());
        assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
        assert!(out.join("inside").is_dir());
        // Scoring failed: nothing is renamed, the temporary file is gone.
        let other = dir.join("other.csv");
        let mut file = create(&other).unwrap();
        file.write_all(b"a,b\n").unwrap();
        let failed: Result<()> = Err(crate::Error::msg("scoring failed"));
        assert!(finish(failed, file, &other).is_err());
        assert!(temp_files(&dir).is_empty() && !other.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_output_that_is_the_input_is_refused() {
        let dir = std::env::temp_dir().join(format!("dk-predict-same-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("in.csv");
        std::fs::write(&input, "a\n1\n").unwrap();
        let refused = |out: &Path| {
            matches!(
                check_output(out, &[&input]).map_err(|e| e.root().to_string()),
                Err(m) if m.contains("is the input file")
            )
        };
        assert!(refused(&input));
        assert!(refused(
            &dir.join("..").join(dir.file_name().unwrap()).join("in.csv")
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&input, dir.join("link.csv")).unwrap();
            std::fs::hard_link(&input, dir.join("hard.csv")).unwrap();
            assert!(refused(&dir.join("link.csv")));
            assert!(refused(&dir.join("hard.csv")));
        }
        check_output(&dir.join("new.csv"), &[&input]).unwrap();
        check_output(Path::new(STDOUT), &[&input]).unwrap();
        assert!(check_output(&dir, &[&input]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
