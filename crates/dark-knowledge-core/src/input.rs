//! What a model reads: any batch type that can move on and off the autodiff device.

use burn::tensor::kind::Autodiff;
use burn::tensor::{Device, Tensor};

/// The input of a [`Classifier`](crate::Classifier) for one batch: float rows
/// `Tensor<2>` (tables), images `Tensor<4>`, token ids `Tensor<2, Int>`, or a user's own
/// struct of tensors (e.g. token ids with their padding mask).
///
/// The trainer feeds the student on the autodiff device ([`autodiff`](Self::autodiff)) and
/// the teacher off it ([`without_autodiff`](Self::without_autodiff)), so no graph is ever
/// recorded through the teacher. Tensors, and tuples of up to three inputs, implement it; a
/// struct implements it by moving each of its tensors:
///
/// ```
/// use burn::tensor::{Bool, Device, Int, Tensor};
/// use dark_knowledge_core::ModelInput;
///
/// #[derive(Clone, Debug)]
/// struct Tokens {
///     ids: Tensor<2, Int>,
///     mask: Tensor<2, Bool>,
/// }
///
/// impl ModelInput for Tokens {
///     fn autodiff(self) -> Self {
///         Self { ids: self.ids.autodiff(), mask: self.mask.autodiff() }
///     }
///     fn without_autodiff(self) -> Self {
///         Self { ids: self.ids.without_autodiff(), mask: self.mask.without_autodiff() }
///     }
///     fn batch_size(&self) -> usize {
///         self.ids.dims()[0]
///     }
///     fn device(&self) -> Device {
///         self.ids.device()
///     }
/// }
/// ```
pub trait ModelInput: Clone + Send + 'static {
    /// The same batch on the autodiff device (a no-op when it is there already).
    #[must_use]
    fn autodiff(self) -> Self;

    /// The same batch off the autodiff device, detached from any graph.
    #[must_use]
    fn without_autodiff(self) -> Self;

    /// The number of examples in the batch (the first dimension of its tensors).
    fn batch_size(&self) -> usize;

    /// The device the batch is on.
    fn device(&self) -> Device;
}

impl<const D: usize, K: Autodiff + 'static> ModelInput for Tensor<D, K>
where
    Tensor<D, K>: Send,
{
    fn autodiff(self) -> Self {
        Tensor::autodiff(self)
    }

    fn without_autodiff(self) -> Self {
        Tensor::without_autodiff(self)
    }

    fn batch_size(&self) -> usize {
        self.dims()[0]
    }

    fn device(&self) -> Device {
        Tensor::device(self)
    }
}

impl<A: ModelInput, B: ModelInput> ModelInput for (A, B) {
    fn autodiff(self) -> Self {
        (self.0.autodiff(), self.1.autodiff())
    }

    fn without_autodiff(self) -> Self {
        (self.0.without_autodiff(), self.1.without_autodiff())
    }

    fn batch_size(&self) -> usize {
        self.0.batch_size()
    }

    fn device(&self) -> Device {
        self.0.device()
    }
}

impl<A: ModelInput, B: ModelInput, C: ModelInput> ModelInput for (A, B, C) {
    fn autodiff(self) -> Self {
        (self.0.autodiff(), self.1.autodiff(), self.2.autodiff())
    }

    fn without_autodiff(self) -> Self {
        (
            self.0.without_autodiff(),
            self.1.without_autodiff(),
            self.2.without_autodiff(),
        )
    }

    fn batch_size(&self) -> usize {
        self.0.batch_size()
    }

    fn device(&self) -> Device {
        self.0.device()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Int, Tensor};

    use super::*;

    #[test]
    fn tensors_of_every_kind_move_on_and_off_autodiff() {
        let device = Device::flex();
        let ids = Tensor::<2, Int>::from_ints([[1, 2, 3], [4, 5, 6]], &device);
        let rows = Tensor::<2>::zeros([2, 4], &device);
        let both = (ids, rows).autodiff();
        assert!(both.0.is_autodiff() && both.1.is_autodiff());
        assert_eq!(both.batch_size(), 2);
        let off = both.without_autodiff();
        assert!(!off.0.is_autodiff() && !off.1.is_autodiff());
        let values: Vec<i64> = off.0.into_data().iter::<i64>().collect();
        assert_eq!(
            values,
            vec![1, 2, 3, 4, 5, 6],
            "ids travel exactly, as integers"
        );
    }
}
