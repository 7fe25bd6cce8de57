//! Reader for MNIST-format IDX files, as used by MNIST and Fashion-MNIST.
//!
//! The low-level functions ([`read_idx_images`], [`read_idx_labels`],
//! [`parse_idx_images`], [`parse_idx_labels`]) read unsigned-byte IDX files,
//! raw or gzip-compressed, and check their headers and lengths exactly.
//! [`FashionMnist`] loads the four standard Fashion-MNIST files from a
//! directory into [`ImageSplit`]s with pixels scaled to `[0, 1]`.
//!
//! Nothing here panics on a bad file: every problem is an [`IdxError`]
//! naming the file and what is wrong with it.

mod encode;
mod error;
mod fashion_mnist;
mod format;
#[cfg(test)]
mod test_support;

pub use encode::encode_idx_u8;
pub use error::{IdxError, Result};
pub use fashion_mnist::{
    DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, FashionMnist, ImageSplit, split_files,
};
pub use format::{
    IdxImages, MAX_IDX_BYTES, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels,
};
