//! Checks an optimizer state read from a checkpoint against the model it is for, before
//! burn loads it: burn maps a record it cannot place (a tensor without parameter id, a moment
//! whose shape is not its parameter's) with a panic, at load or at the next step.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Bytes, Tensor};

/// The id, shape and element type of every float parameter of a module.
#[derive(Default)]
struct Parameters(HashMap<u64, (Vec<usize>, burn::tensor::DType)>);

impl ModuleVisitor for Parameters {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        self.0
            .insert(param.id.val(), (value.shape().to_vec(), value.dtype()));
    }
}

/// `Err(reason)` unless every tensor of the optimizer state `bytes` belongs to a parameter of
/// `module` and has its shape, element type and byte length.
pub(crate) fn check_optimizer_state<M: Module>(module: &M, bytes: &[u8]) -> Result<(), String> {
    let mut parameters = Parameters::default();
    module.visit(&mut parameters);
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| format!("not an optimizer state ({e})"))?;
    // burn takes each parameter's rank from its `<id>.__rank` scalar when there is one, and
    // builds the state tensors at that rank.
    for (key, value) in reader.scalars() {
        let Some(id) = key
            .strip_suffix(".__rank")
            .and_then(|id| id.parse::<u64>().ok())
        else {
            continue;
        };
        let Ok(rank) = usize::try_from(*value) else {
            continue;
        };
        match parameters.0.get(&id) {
            Some((shape, _)) if shape.len() == rank => {}
            Some((shape, _)) => {
                return Err(format!(
                    "{key} is {rank}, its parameter has rank {}",
                    shape.len()
                ));
            }
            None => return Err(format!("{key} is for a parameter the model lacks")),
        }
    }
    let tensors = reader
        .into_tensors()
        .map_err(|e| format!("not an optimizer state ({e})"))?;
    for tensor in tensors {
        let name = tensor.name.clone();
        let Some(id) = tensor.param_id else {
            return Err(format!("tensor {name} belongs to no parameter"));
        };
        let Some((shape, dtype)) = parameters.0.get(&id) else {
            return Err(format!(
                "tensor {name} is for parameter {id}, which the model lacks"
            ));
        };
        if tensor.shape.as_slice() != shape.as_slice() || tensor.dtype != *dtype {
            return Err(format!(
                "tensor {name} is {:?} {:?}, its parameter {shape:?} {dtype:?}",
                tensor.shape.as_slice(),
                tensor.dtype
            ));
        }
        let expected = shape
            .iter()
            .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
            .ok_or_else(|| format!("tensor {name} is too large"))?;
        let found = tensor.byte_len();
        if found != expected {
            return Err(format!(
                "tensor {name} holds {found} bytes, its shape {expected}"
            ));
        }
    }
    Ok(())
}
