use burn::module::Module;
use burn::tensor::Tensor;
use dark_knowledge_core::Classifier;
use dark_knowledge_core::tensor_util::to_vec_f32;
use dark_knowledge_core::{FrozenTeacher, Teacher, TeacherBatch};

use super::*;

/// A CNN spec with 2 and 3 channels and a dense layer of 5, for 28×28 images and 4
/// classes, built on `device`.
fn small_cnn(dropout: f64, device: &Device) -> AnyModel {
    ModelSpec::Cnn {
        channels_1: 2,
        channels_2: 3,
        hidden_size: 5,
        dropout,
    }
    .build(784, 4, device)
    .unwrap()
}

#[test]
fn specs_build_the_described_models_and_reject_bad_shapes() {
    let device = Device::flex();
    let spec: ModelSpec =
        serde_json::from_str(r#"{"kind": "mlp", "hidden_sizes": [8, 4]}"#).unwrap();
    let model = spec.build(5, 3, &device).unwrap();
    assert_eq!(model.num_params(), 5 * 8 + 8 + 8 * 4 + 4 + 4 * 3 + 3);
    assert_eq!(spec.describe(5, 3), "MLP 5-8-4-3");
    let cnn: ModelSpec = serde_json::from_str(r#"{"kind": "cnn"}"#).unwrap();
    assert_eq!(cnn.build(784, 10, &device).unwrap().num_features(), 784);
    let err = cnn.build(19, 2, &device).unwrap_err().to_string();
    assert!(err.contains("square image"), "{err}");
    let err =
        serde_json::from_str::<ModelSpec>(r#"{"kind": "mlp", "hidden_sizes": [], "width": 3}"#)
            .unwrap_err()
            .to_string();
    assert!(err.contains("width"), "{err}");
}

#[test]
fn the_parameter_count_without_building_is_the_built_models() {
    let device = Device::flex();
    let specs = [
        ModelSpec::mlp(vec![], 0.0),
        ModelSpec::mlp(vec![7], 0.1),
        ModelSpec::mlp(vec![9, 3, 5], 0.0),
    ];
    for spec in &specs {
        for (features, classes) in [(1, 2), (5, 3), (19, 7)] {
            let built = spec.build(features, classes, &device).unwrap().num_params();
            assert_eq!(
                spec.num_parameters(features, classes),
                Some(built),
                "{spec:?}"
            );
        }
    }
    for (c1, c2, hidden) in [(16, 32, 128), (2, 3, 5), (1, 1, 1)] {
        let cnn = ModelSpec::Cnn {
            channels_1: c1,
            channels_2: c2,
            hidden_size: hidden,
            dropout: 0.0,
        };
        let built = cnn.build(784, 4, &device).unwrap().num_params();
        assert_eq!(cnn.num_parameters(784, 4), Some(built), "{cnn:?}");
    }
    let huge = ModelSpec::mlp(vec![usize::MAX / 2, usize::MAX / 2], 0.0);
    assert_eq!(huge.num_parameters(5, 3), None);
}

#[test]
fn any_model_delegates_forward_features() {
    let device = Device::flex();
    let cnn = small_cnn(0.0, &device);
    let features = cnn.forward_features(Tensor::ones([2, 784], &device));
    assert_eq!(features.maps.len(), 2);
    assert_eq!(features.hidden[0].dims(), [2, 5]);
    let mlp = ModelSpec::mlp(vec![8, 4], 0.0)
        .build(5, 3, &device)
        .unwrap();
    let features = mlp.forward_features(Tensor::ones([2, 5], &device));
    assert_eq!(features.hidden.len(), 2);
    assert_eq!(features.logits.dims(), [2, 3]);
}

#[test]
fn a_frozen_teacher_gives_features_without_gradient_tracking() {
    // Built on the autodiff device, as a teacher fresh from training would be.
    let device = Device::flex().autodiff();
    device.seed(2);
    let model = small_cnn(0.5, &device);
    let teacher = FrozenTeacher::new(model);
    let inputs = Tensor::<2>::ones([2, 784], &device);
    let batch = TeacherBatch {
        inputs: &inputs,
        rows: &[0, 1],
    };
    let features = teacher.features(batch).unwrap();
    assert_eq!(features.maps.len(), 2);
    assert_eq!(features.hidden.len(), 1);
    let untracked = |t: (bool, bool, bool)| t == (false, false, false);
    let state2 = |t: &Tensor<2>| (t.is_tracked(), t.is_require_grad(), t.is_autodiff());
    let state4 = |t: &Tensor<4>| (t.is_tracked(), t.is_require_grad(), t.is_autodiff());
    assert!(untracked(state2(&features.logits)));
    assert!(features.hidden.iter().all(|h| untracked(state2(h))));
    assert!(features.maps.iter().all(|m| untracked(state4(m))));
    let logits = teacher.logits(batch).unwrap();
    assert_eq!(to_vec_f32(features.logits), to_vec_f32(logits));
}
