//! The example's reduced setting: every model learns far above chance (10 %), and the
//! augmented loader path reaches the teacher network on every batch.

use std::path::Path;

use dark_knowledge::burn::tensor::Device;
use fashion_cnn::{Settings, run};

#[test]
fn the_reduced_run_learns_the_images() {
    let dir = Path::new(dark_knowledge::data::idx::DEFAULT_FASHION_MNIST_DIR);
    if !dir.join("train-images-idx3-ubyte.gz").exists()
        && !dir.join("train-images-idx3-ubyte").exists()
    {
        assert!(
            std::env::var_os("DARK_KNOWLEDGE_REQUIRE_DATA").is_none(),
            "Fashion-MNIST is required here: apt-get install dataset-fashion-mnist"
        );
        eprintln!(
            "skipped: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let out = run(dir, &Settings::reduced(), &Device::flex()).unwrap();
    eprintln!("{out:?}");
    assert!(out.teacher > 0.70, "teacher {out:?}");
    assert!(out.baseline > 0.55, "baseline {out:?}");
    assert!(out.distilled > 0.55, "distilled {out:?}");
    assert!(out.params.0 > 10 * out.params.1, "{out:?}");
}
