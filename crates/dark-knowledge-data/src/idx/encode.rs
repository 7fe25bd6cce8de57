//! Writing IDX files: the inverse of the readers, for exporting images and labels (and for
//! making test files).

/// The bytes of an unsigned-byte IDX file (type code `0x08`) with dimensions `dims` and
/// values `data`, row-major: `[n]` for labels, `[n, rows, cols]` for images.
///
/// The caller gives `data` of the length `dims` implies; a file of another length is what
/// [`parse_idx_images`](super::parse_idx_images) and
/// [`parse_idx_labels`](super::parse_idx_labels) refuse as truncated or with trailing bytes.
///
/// ```
/// use dark_knowledge_data::idx::{encode_idx_u8, parse_idx_labels};
/// let bytes = encode_idx_u8(&[3], &[0, 9, 4]);
/// assert_eq!(parse_idx_labels(&bytes, "labels".as_ref()).unwrap(), [0, 9, 4]);
/// ```
pub fn encode_idx_u8(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, 0x08, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}
