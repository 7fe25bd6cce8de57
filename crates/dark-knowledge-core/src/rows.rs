//! Row-wise helpers shared by training, evaluation and inference: the batches of an in-order
//! pass over `len` rows, and the arg-max of each row (on the host and on the device).

use std::ops::Range;

use burn::tensor::{Int, Tensor};

/// The consecutive row ranges of an in-order pass over `len` rows in batches of
/// `batch_size` (0 counts as 1): `0..b`, `b..2b`, …, the last one shorter when `b` does not
/// divide `len`; nothing when `len == 0`.
///
/// ```
/// use dark_knowledge_core::rows::batch_ranges;
/// let ranges: Vec<_> = batch_ranges(5, 2).collect();
/// assert_eq!(ranges, vec![0..2, 2..4, 4..5]);
/// ```
pub fn batch_ranges(len: usize, batch_size: usize) -> impl Iterator<Item = Range<usize>> {
    let size = batch_size.max(1);
    (0..len)
        .step_by(size)
        .map(move |start| start..(start + size).min(len))
}

/// The index of the largest value of `row`.
///
/// Ties go to the lowest index and NaN values never win; an empty row, or one of only
/// NaNs, gives 0.
///
/// ```
/// use dark_knowledge_core::rows::argmax;
/// assert_eq!(argmax(&[0.2f32, 0.5, 0.5, f32::NAN]), 1);
/// assert_eq!(argmax(&[f32::NAN, 0.1]), 1);
/// ```
pub fn argmax<T: PartialOrd + Copy>(row: &[T]) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, &v) in row.iter().enumerate() {
        // NaN is the one value not comparable with itself.
        if v.partial_cmp(&v).is_none() {
            continue;
        }
        match best {
            Some((_, b)) if v <= b => {}
            _ => best = Some((i, v)),
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// [`argmax`] of each row of a row-major matrix with `num_classes` columns.
///
/// Infallible by design: a trailing incomplete row is ignored and `num_classes == 0` gives
/// an empty vector.
pub fn argmax_rows<T: PartialOrd + Copy>(values: &[T], num_classes: usize) -> Vec<usize> {
    if num_classes == 0 {
        return Vec::new();
    }
    values.chunks_exact(num_classes).map(argmax).collect()
}

/// The arg-max class of each row of `logits`, on their device.
///
/// # Shapes
/// - `logits`: `[batch_size, num_classes]`
/// - output: `[batch_size]`
pub fn predicted_classes(logits: Tensor<2>) -> Tensor<1, Int> {
    let [batch_size, _] = logits.dims();
    logits.argmax(1).reshape([batch_size])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_ranges_cover_every_row_once_in_order() {
        let ranges: Vec<_> = batch_ranges(7, 3).collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..7]);
        assert_eq!(batch_ranges(6, 3).count(), 2);
        assert_eq!(batch_ranges(0, 3).count(), 0);
        assert_eq!(batch_ranges(2, 0).collect::<Vec<_>>(), vec![0..1, 1..2]);
    }

    #[test]
    fn argmax_breaks_ties_low_and_skips_nan() {
        let p = [
            0.1f32,
            0.7,
            0.2, //
            0.5,
            0.5,
            0.0, //
            f32::NAN,
            0.1,
            0.9, //
            f32::NAN,
            f32::NAN,
            f32::NAN,
        ];
        assert_eq!(argmax_rows(&p, 3), vec![1, 0, 2, 0]);
        assert_eq!(argmax_rows(&[0.1f32, 0.9, 0.5], 2), vec![1]);
        assert!(argmax_rows(&p, 0).is_empty());
        assert_eq!(argmax::<f64>(&[]), 0);
        assert_eq!(argmax(&[1.0f64, 3.0, -2.0]), 1);
    }
}
