//! Helpers of this crate's unit tests.

use burn::tensor::{Device, Tensor, TensorData};

use crate::tensor_util::to_vec_f32;

/// A float tensor of shape `dims` holding `values` (row-major) on `device`.
pub(crate) fn tensor<const D: usize>(
    values: Vec<f32>,
    dims: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, dims), device)
}

/// Back-propagates `loss` and checks that every entry of the gradient of `input` is finite.
pub(crate) fn assert_finite_gradient<const D: usize>(loss: &Tensor<1>, input: &Tensor<D>) {
    let grads = loss.backward();
    let grad = to_vec_f32(input.grad(&grads).unwrap());
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
}

/// Checks that `init` refuses each configuration with a message containing its needle.
pub(crate) fn assert_each_refused<C: std::fmt::Debug, T: std::fmt::Debug>(
    cases: impl IntoIterator<Item = (C, &'static str)>,
    init: impl Fn(&C) -> crate::Result<T>,
) {
    for (config, needle) in cases {
        let msg = init(&config).unwrap_err().to_string();
        assert!(msg.contains(needle), "{config:?}: {msg}");
    }
}

/// Checks that `json` does not parse as a `C` because of the unknown key `key`.
pub(crate) fn assert_unknown_key_refused<C: serde::de::DeserializeOwned + std::fmt::Debug>(
    json: &str,
    key: &str,
) {
    let err = serde_json::from_str::<C>(json).unwrap_err().to_string();
    assert!(err.contains(key), "{err}");
}
