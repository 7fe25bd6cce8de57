//! IDX images and labels (Fashion-MNIST's format), in memory and from files, gzip included.

use dark_knowledge_data::idx::encode_idx_u8 as idx;
use std::path::{Path, PathBuf};

use dark_knowledge_data::idx::{
    IdxImages, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels,
};

use crate::checksum::gzip_stored;
use crate::{Harness, Outcome, check};

/// Images files (3 of 2x3, 2 of 4x4) and labels files.
fn seeds() -> Vec<Vec<u8>> {
    let pixels: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37)).collect();
    vec![
        idx(&[3, 2, 3], &pixels[..18]),
        idx(&[2, 4, 4], &pixels),
        idx(&[10], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        idx(&[1], &[9]),
    ]
}

fn check_images(i: &IdxImages) -> Result<(), Outcome> {
    check(
        i.count > 0
            && i.rows > 0
            && i.cols > 0
            && i.count
                .checked_mul(i.rows)
                .and_then(|n| n.checked_mul(i.cols))
                == Some(i.pixels.len()),
        || {
            format!(
                "{} pixels for {} images of {}x{}",
                i.pixels.len(),
                i.count,
                i.rows,
                i.cols
            )
        },
    )
}

/// What either reader made of one input.
fn judge<E: std::fmt::Display>(
    images: Result<IdxImages, E>,
    labels: Result<Vec<u8>, E>,
) -> Outcome {
    let mut parsed = Vec::new();
    match images {
        Ok(i) => {
            if let Err(o) = check_images(&i) {
                return o;
            }
            parsed.push("images");
        }
        Err(e) if labels.is_err() => return Outcome::rejected(e),
        Err(_) => {}
    }
    if let Ok(l) = labels {
        if l.is_empty() {
            return Outcome::Violation("an empty labels file parsed".into());
        }
        parsed.push("labels");
    }
    Outcome::Parsed(parsed.join("+"))
}

/// `idx`: the bytes as an uncompressed IDX file, parsed in memory.
pub(crate) struct Idx;

impl Harness for Idx {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        seeds()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let path = Path::new("fuzz.idx");
        judge(parse_idx_images(input, path), parse_idx_labels(input, path))
    }
}

/// `idx-gz`: the bytes as an IDX file on disk, usually gzip-compressed.
pub(crate) struct IdxFile {
    path: PathBuf,
}

impl Harness for IdxFile {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let raw = seeds();
        let mut out: Vec<Vec<u8>> = raw.iter().map(|r| gzip_stored(r, None)).collect();
        out.push(gzip_stored(&raw[0], Some("train-images-idx3-ubyte")));
        // Two members: MultiGzDecoder reads both.
        let (head, tail) = raw[2].split_at(7);
        let mut two = gzip_stored(head, None);
        two.extend(gzip_stored(tail, None));
        out.push(two);
        out.push(raw[1].clone());
        out
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        if let Err(e) = std::fs::write(&self.path, input) {
            return Outcome::Violation(format!("cannot write the scratch file: {e}"));
        }
        judge(read_idx_images(&self.path), read_idx_labels(&self.path))
    }
}

/// Builds the `idx` harness.
pub(crate) fn idx_memory(_: &Path) -> Box<dyn Harness> {
    Box::new(Idx)
}

/// Builds the `idx-gz` harness.
pub(crate) fn idx_file(scratch: &Path) -> Box<dyn Harness> {
    Box::new(IdxFile {
        path: scratch.join("images-idx3-ubyte.gz"),
    })
}
