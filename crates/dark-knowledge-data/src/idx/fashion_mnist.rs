//! Loading Fashion-MNIST (or any dataset laid out like MNIST) from IDX files.

use std::path::{Path, PathBuf};

use crate::idx::error::{IdxError, Result};
use crate::idx::format::{IdxImages, read_idx_images, read_idx_labels};

/// Names of the ten Fashion-MNIST classes, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Directory where Fashion-MNIST is looked for by default.
pub const DEFAULT_FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// One split of an image dataset: pixels scaled to [0, 1] (value / 255),
/// row-major [count, rows*cols].
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSplit {
    /// Pixels scaled to `[0, 1]`, `len() * rows * cols` values, one image
    /// after the other, each row-major.
    pub images: Vec<f32>,
    /// Class index of each image.
    pub labels: Vec<usize>,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
}

impl ImageSplit {
    /// Number of images (and labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of values per image, `rows * cols`.
    pub fn num_features(&self) -> usize {
        self.rows * self.cols
    }
}

/// The Fashion-MNIST dataset: a training split and a test split.
#[derive(Debug, Clone, PartialEq)]
pub struct FashionMnist {
    /// Training split (60,000 images in the real dataset).
    pub train: ImageSplit,
    /// Test split (10,000 images in the real dataset).
    pub test: ImageSplit,
}

impl FashionMnist {
    /// Loads the four standard files from `dir`: train-images-idx3-ubyte,
    /// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
    /// each either with `.gz` or raw (prefer .gz if both).
    ///
    /// Missing file -> [`IdxError::MissingFile`] listing the names tried.
    /// Validates: image/label counts equal per split, any rows/cols (28x28 is
    /// not required) but train and test must have the same rows/cols, labels
    /// < 10.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_limited(dir, None, None)
    }

    /// Same as [`FashionMnist::load`], keeping only the first `max_train` /
    /// `max_test` rows of each split (for quick runs); `None` = all.
    ///
    /// Whole files are still read and validated, so a bad file is reported
    /// even if the bad part would have been dropped.
    pub fn load_limited(
        dir: &Path,
        max_train: Option<usize>,
        max_test: Option<usize>,
    ) -> Result<Self> {
        let paths = locate_files(dir)?;
        let [train_images, train_labels, test_images, test_labels] = &paths;

        let train = load_split(train_images, train_labels, max_train)?;
        let test = load_split(test_images, test_labels, max_test)?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(IdxError::ShapeMismatch {
                path: test_images.clone(),
                what: format!(
                    "test images are {}x{} but train images ({}) are {}x{}",
                    test.rows,
                    test.cols,
                    train_images.display(),
                    train.rows,
                    train.cols
                ),
            });
        }
        Ok(FashionMnist { train, test })
    }
}

/// The images file of one split in `dir` (`t10k-images-idx3-ubyte` for the test split,
/// `train-images-idx3-ubyte` for the training split, `.gz` preferred) and its labels file
/// when present, for scoring images whose labels may be unknown.
///
/// # Errors
/// [`IdxError::MissingFile`] when the images file is not there.
pub fn split_files(dir: &Path, train: bool) -> Result<(PathBuf, Option<PathBuf>)> {
    let (images, labels) = if train {
        (TRAIN_IMAGES, TRAIN_LABELS)
    } else {
        (TEST_IMAGES, TEST_LABELS)
    };
    let find = |base: &str| {
        [format!("{base}.gz"), base.to_string()]
            .into_iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
    };
    let images_path = find(images).ok_or_else(|| IdxError::MissingFile {
        dir: dir.to_path_buf(),
        tried: vec![format!("{images}.gz"), images.to_string()],
    })?;
    Ok((images_path, find(labels)))
}

/// Finds the four files in `dir`, preferring `NAME.gz` over `NAME`.
///
/// If any is missing, the error lists every name tried for every missing file.
fn locate_files(dir: &Path) -> Result<[PathBuf; 4]> {
    let mut tried = Vec::new();
    let found = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS].map(|base| {
        let candidates = [format!("{base}.gz"), base.to_string()];
        let hit = candidates
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file());
        if hit.is_none() {
            tried.extend(candidates);
        }
        hit
    });
    match found {
        [Some(a), Some(b), Some(c), Some(d)] => Ok([a, b, c, d]),
        _ => Err(IdxError::MissingFile {
            dir: dir.to_path_buf(),
            tried,
        }),
    }
}

/// Reads and checks one images/labels pair, keeping at most `max` items.
fn load_split(images_path: &Path, labels_path: &Path, max: Option<usize>) -> Result<ImageSplit> {
    let IdxImages {
        count,
        rows,
        cols,
        pixels,
    } = read_idx_images(images_path)?;
    let labels = read_idx_labels(labels_path)?;
    if labels.len() != count {
        return Err(IdxError::CountMismatch {
            images: count,
            labels: labels.len(),
            images_path: images_path.to_path_buf(),
            labels_path: labels_path.to_path_buf(),
        });
    }
    let num_classes = FASHION_MNIST_CLASSES.len();
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| usize::from(l) >= num_classes)
    {
        return Err(IdxError::LabelOutOfRange {
            path: labels_path.to_path_buf(),
            index,
            label,
            num_classes,
        });
    }

    let keep = max.map_or(count, |m| m.min(count));
    // `pixels.len() == count * rows * cols` was checked by the parser.
    let images = pixels[..keep * rows * cols]
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let labels = labels[..keep].iter().map(|&l| usize::from(l)).collect();
    Ok(ImageSplit {
        images,
        labels,
        rows,
        cols,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::test_support::{
        PIXELS as TRAIN_PIXELS, TempDir, gzip, images_bytes, labels_bytes,
    };

    const TRAIN_LABELS_V: [u8; 3] = [9, 0, 5];
    /// 2 test images of 2x3.
    const TEST_PIXELS: [u8; 12] = [
        51, 51, 0, 0, 255, 255, //
        1, 2, 3, 4, 5, 6,
    ];
    const TEST_LABELS_V: [u8; 2] = [3, 7];

    /// Writes a small valid dataset into `dir`, gzipped or raw.
    fn write_dataset(dir: &TempDir, gz: bool) {
        let files = [
            (TRAIN_IMAGES, images_bytes(3, 2, 3, &TRAIN_PIXELS)),
            (TRAIN_LABELS, labels_bytes(&TRAIN_LABELS_V)),
            (TEST_IMAGES, images_bytes(2, 2, 3, &TEST_PIXELS)),
            (TEST_LABELS, labels_bytes(&TEST_LABELS_V)),
        ];
        for (name, bytes) in files {
            if gz {
                dir.write(&format!("{name}.gz"), &gzip(&bytes));
            } else {
                dir.write(name, &bytes);
            }
        }
    }

    fn check_small_dataset(ds: &FashionMnist) {
        let train = &ds.train;
        assert_eq!((train.len(), train.rows, train.cols), (3, 2, 3));
        assert_eq!(train.num_features(), 6);
        assert!(!train.is_empty());
        assert_eq!(train.labels, vec![9, 0, 5]);
        assert_eq!(
            &train.images[..6],
            &[1.0, 0.0, 0.2, 0.4, 0.6, 0.8],
            "255 -> 1.0, 0 -> 0.0, 51 -> 0.2"
        );
        assert_eq!(&train.images[6..12], &[0.0; 6]);
        assert_eq!(&train.images[12..], &[1.0, 1.0, 1.0, 0.2, 0.2, 0.2]);

        let test = &ds.test;
        assert_eq!((test.len(), test.rows, test.cols), (2, 2, 3));
        assert_eq!(test.labels, vec![3, 7]);
        assert_eq!(test.images.len(), 12);
        assert_eq!(&test.images[..6], &[0.2, 0.2, 0.0, 0.0, 1.0, 1.0]);
        for (got, raw) in test.images[6..].iter().zip(&TEST_PIXELS[6..]) {
            assert!((got - f32::from(*raw) / 255.0).abs() < 1e-7);
        }
    }

    #[test]
    fn loads_raw_files_exactly() {
        let dir = TempDir::new("fm-raw");
        write_dataset(&dir, false);
        check_small_dataset(&FashionMnist::load(dir.path()).unwrap());
    }

    #[test]
    fn loads_gzipped_files_exactly() {
        let dir = TempDir::new("fm-gz");
        write_dataset(&dir, true);
        check_small_dataset(&FashionMnist::load(dir.path()).unwrap());
    }

    #[test]
    fn prefers_gz_when_both_exist() {
        let dir = TempDir::new("fm-both");
        write_dataset(&dir, true);
        // Raw files that would fail to load if they were chosen.
        for name in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
            dir.write(name, b"not an idx file");
        }
        check_small_dataset(&FashionMnist::load(dir.path()).unwrap());
    }

    #[test]
    fn missing_files_name_all_tried() {
        let dir = TempDir::new("fm-missing");
        match FashionMnist::load(dir.path()) {
            Err(IdxError::MissingFile { dir: d, tried }) => {
                assert_eq!(d, dir.path());
                for base in [
                    "train-images-idx3-ubyte",
                    "train-labels-idx1-ubyte",
                    "t10k-images-idx3-ubyte",
                    "t10k-labels-idx1-ubyte",
                ] {
                    assert!(tried.contains(&base.to_string()), "{base} in {tried:?}");
                    assert!(
                        tried.contains(&format!("{base}.gz")),
                        "{base}.gz in {tried:?}"
                    );
                }
                assert_eq!(tried.len(), 8);
            }
            other => panic!("expected MissingFile, got {other:?}"),
        }

        // Only one file missing: only its names are listed.
        write_dataset(&dir, false);
        std::fs::remove_file(dir.path().join(TEST_LABELS)).unwrap();
        match FashionMnist::load(dir.path()) {
            Err(IdxError::MissingFile { tried, .. }) => assert_eq!(
                tried,
                vec![
                    "t10k-labels-idx1-ubyte.gz".to_string(),
                    "t10k-labels-idx1-ubyte".to_string()
                ]
            ),
            other => panic!("expected MissingFile, got {other:?}"),
        }
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = TempDir::new("fm-count");
        write_dataset(&dir, false);
        dir.write(TRAIN_LABELS, &labels_bytes(&[1, 2]));
        match FashionMnist::load(dir.path()) {
            Err(IdxError::CountMismatch {
                images,
                labels,
                images_path,
                labels_path,
            }) => {
                assert_eq!((images, labels), (3, 2));
                assert_eq!(images_path, dir.path().join(TRAIN_IMAGES));
                assert_eq!(labels_path, dir.path().join(TRAIN_LABELS));
            }
            other => panic!("expected CountMismatch, got {other:?}"),
        }
    }

    #[test]
    fn label_out_of_range() {
        let dir = TempDir::new("fm-label");
        write_dataset(&dir, false);
        dir.write(TEST_LABELS, &labels_bytes(&[3, 12]));
        match FashionMnist::load(dir.path()) {
            Err(IdxError::LabelOutOfRange {
                path,
                index,
                label,
                num_classes,
            }) => {
                assert_eq!(path, dir.path().join(TEST_LABELS));
                assert_eq!((index, label, num_classes), (1, 12, 10));
            }
            other => panic!("expected LabelOutOfRange, got {other:?}"),
        }
        // Label 10 is already out of range; 9 is fine (checked by the good dataset).
        dir.write(TEST_LABELS, &labels_bytes(&[10, 0]));
        assert!(matches!(
            FashionMnist::load(dir.path()),
            Err(IdxError::LabelOutOfRange {
                index: 0,
                label: 10,
                ..
            })
        ));
    }

    #[test]
    fn train_and_test_must_share_image_size() {
        let dir = TempDir::new("fm-shape");
        write_dataset(&dir, false);
        dir.write(TEST_IMAGES, &images_bytes(2, 3, 2, &TEST_PIXELS));
        match FashionMnist::load(dir.path()) {
            Err(IdxError::ShapeMismatch { path, what }) => {
                assert_eq!(path, dir.path().join(TEST_IMAGES));
                assert!(what.contains("3x2") && what.contains("2x3"), "{what}");
            }
            other => panic!("expected ShapeMismatch, got {other:?}"),
        }
    }

    #[test]
    fn file_errors_propagate_with_the_file_path() {
        let dir = TempDir::new("fm-bad");
        write_dataset(&dir, false);
        // Labels file where the train images should be.
        dir.write(TRAIN_IMAGES, &labels_bytes(&[1, 2, 3]));
        match FashionMnist::load(dir.path()) {
            Err(IdxError::BadMagic {
                path,
                found,
                expected,
            }) => {
                assert_eq!(path, dir.path().join(TRAIN_IMAGES));
                assert_eq!((found, expected), (0x801, 0x803));
            }
            other => panic!("expected BadMagic, got {other:?}"),
        }
    }

    #[test]
    fn load_limited_truncates() {
        let dir = TempDir::new("fm-limit");
        write_dataset(&dir, true);
        let ds = FashionMnist::load_limited(dir.path(), Some(2), Some(1)).unwrap();
        assert_eq!(ds.train.len(), 2);
        assert_eq!(ds.train.labels, vec![9, 0]);
        assert_eq!(ds.train.images.len(), 12);
        assert_eq!(&ds.train.images[..6], &[1.0, 0.0, 0.2, 0.4, 0.6, 0.8]);
        assert_eq!(ds.test.len(), 1);
        assert_eq!(ds.test.labels, vec![3]);
        assert_eq!(ds.test.images, vec![0.2, 0.2, 0.0, 0.0, 1.0, 1.0]);

        // Limits above the size keep everything; None keeps everything.
        let ds = FashionMnist::load_limited(dir.path(), Some(100), None).unwrap();
        check_small_dataset(&ds);

        // Zero keeps nothing but the shape.
        let ds = FashionMnist::load_limited(dir.path(), Some(0), Some(0)).unwrap();
        assert!(ds.train.is_empty() && ds.test.is_empty());
        assert!(ds.train.images.is_empty());
        assert_eq!(ds.train.num_features(), 6);
    }

    #[test]
    fn class_names() {
        assert_eq!(FASHION_MNIST_CLASSES.len(), 10);
        assert_eq!(FASHION_MNIST_CLASSES[0], "T-shirt/top");
        assert_eq!(FASHION_MNIST_CLASSES[9], "Ankle boot");
    }

    #[test]
    fn real_fashion_mnist_if_installed() {
        let dir = Path::new(DEFAULT_FASHION_MNIST_DIR);
        if let Err(e) = locate_files(dir) {
            println!("skipped: Fashion-MNIST not installed in {DEFAULT_FASHION_MNIST_DIR} ({e})");
            return;
        }
        let ds = FashionMnist::load(dir).unwrap();
        assert_eq!((ds.train.rows, ds.train.cols), (28, 28));
        assert_eq!(ds.train.num_features(), 784);
        assert_eq!(ds.train.len(), 60_000);
        assert_eq!(ds.train.images.len(), 60_000 * 784);
        assert_eq!(ds.test.len(), 10_000);
        assert_eq!(ds.test.images.len(), 10_000 * 784);
        assert!(
            ds.train
                .images
                .iter()
                .chain(&ds.test.images)
                .all(|v| (0.0..=1.0).contains(v))
        );
        let mut counts = [0usize; 10];
        for &l in &ds.train.labels {
            counts[l] += 1;
        }
        assert_eq!(counts, [6000; 10]);
    }
}
