//! The language-model study's settings and errors (the reduced study itself runs from the
//! command line: `crates/dark-knowledge-cli/tests/lm_study.rs`).

use std::path::Path;

use burn::tensor::Device;
use dark_knowledge_text::study::{CorpusSource, LmStudyConfig, run_study, standard_arms};

const FORTUNES: &str = "/usr/share/games/fortunes";

#[test]
fn study_files_parse_with_unknown_keys_refused() {
    let config = LmStudyConfig::reduced(CorpusSource::Files(vec!["a.txt".into()]));
    let text = toml::to_string(&config).unwrap();
    let back: LmStudyConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, config);
    let bad = format!("{text}\nepochs = 3\n");
    let err = toml::from_str::<LmStudyConfig>(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("epochs"), "{err}");
    let mut twice = config.clone();
    twice.arms = [standard_arms(4, 4, 10), standard_arms(4, 4, 10)].concat();
    assert!(
        twice
            .validate()
            .unwrap_err()
            .to_string()
            .contains("arm name")
    );
}

#[test]
fn a_missing_corpus_is_a_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let config = LmStudyConfig::reduced(CorpusSource::Fortunes(out.path().join("none")));
    let err = run_study(&config, out.path(), &Device::flex(), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("none"), "{err}");
}

#[test]
fn the_example_study_file_is_the_full_preset() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/experiments/lm-study.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let file: LmStudyConfig = toml::from_str(&text).unwrap();
    assert_eq!(
        file,
        LmStudyConfig::full(CorpusSource::Fortunes(FORTUNES.into()))
    );
}
