//! Small conversions between tensors and host vectors.

use burn::tensor::{Int, Tensor};

/// The values of a float tensor, row-major, as `f32`.
pub fn to_vec_f32<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}

/// The values of an integer tensor, row-major, as `i64` (flex and wgpu store `i32`).
pub fn to_vec_i64<const D: usize>(tensor: Tensor<D, Int>) -> Vec<i64> {
    tensor.into_data().iter::<i64>().collect()
}

/// The single value of a one-element float tensor, as `f64`.
pub fn scalar_f64<const D: usize>(tensor: Tensor<D>) -> f64 {
    f64::from(tensor.into_scalar::<f32>())
}
