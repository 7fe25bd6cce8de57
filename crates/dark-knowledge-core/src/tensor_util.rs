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

/// The path (`layer.weight`) of the first float parameter of `model` holding a NaN or an
/// infinity: what a model loader refuses.
pub fn first_non_finite<M: burn::module::Module>(model: &M) -> Option<String> {
    #[derive(Default)]
    struct Find {
        path: Vec<String>,
        found: Option<String>,
    }
    impl burn::module::ModuleVisitor for Find {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if self.found.is_none() && !param.val().into_data().iter::<f32>().all(f32::is_finite) {
                self.found = Some(self.path.join("."));
            }
        }
    }
    let mut find = Find::default();
    model.visit(&mut find);
    find.found
}

/// Every float parameter of `module`, in visiting order, flattened into one vector.
///
/// Used to compare models bit for bit (reproducibility, frozen teachers).
pub fn parameters_to_vec<M: burn::module::Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            self.0.extend(param.val().into_data().iter::<f32>());
        }
    }
    let mut collect = Collect(Vec::new());
    module.visit(&mut collect);
    collect.0
}

/// For each float parameter of `module`, whether `grads` holds a gradient for it.
pub fn parameters_with_gradient<M: burn::module::Module>(
    module: &M,
    grads: &burn::tensor::Gradients,
) -> Vec<bool> {
    struct Check<'a>(&'a burn::tensor::Gradients, Vec<bool>);
    impl burn::module::ModuleVisitor for Check<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            self.1.push(param.val().grad(self.0).is_some());
        }
    }
    let mut check = Check(grads, Vec::new());
    module.visit(&mut check);
    check.1
}

/// Every parameter's gradient in `grads`, flattened and concatenated in visiting order, or
/// `None` when some parameter has none.
pub fn gradients_to_vec<M: burn::module::Module>(
    module: &M,
    grads: &burn::tensor::Gradients,
) -> Option<Vec<f32>> {
    struct Collect<'a>(&'a burn::tensor::Gradients, Option<Vec<f32>>);
    impl burn::module::ModuleVisitor for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            match (param.val().grad(self.0), self.1.as_mut()) {
                (Some(g), Some(all)) => all.extend(to_vec_f32(g)),
                _ => self.1 = None,
            }
        }
    }
    let mut collect = Collect(grads, Some(Vec::new()));
    module.visit(&mut collect);
    collect.1
}
