//! The language-model study end to end: the reduced setting on Debian's fortunes (the corpus
//! CI installs), its table, and resuming from its files.

use std::path::Path;

use burn::tensor::Device;
use dark_knowledge_text::study::{CorpusSource, LmStudyConfig, run_study, standard_arms};

const FORTUNES: &str = "/usr/share/games/fortunes";

/// The fortunes folder, or `None` to skip (a failure when DARK_KNOWLEDGE_REQUIRE_DATA=1).
fn fortunes() -> Option<&'static Path> {
    let dir = Path::new(FORTUNES);
    if dir.join("computers").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("DARK_KNOWLEDGE_REQUIRE_DATA").is_none(),
        "DARK_KNOWLEDGE_REQUIRE_DATA is set but {FORTUNES} is missing (apt-get install fortunes)"
    );
    eprintln!("skipped: {FORTUNES} is missing (apt-get install fortunes)");
    None
}

#[test]
fn the_reduced_study_distils_students_better_than_from_scratch_and_resumes() {
    let Some(dir) = fortunes() else { return };
    let out = tempfile::tempdir().unwrap();
    let config = LmStudyConfig::reduced(CorpusSource::Fortunes(dir.into()));
    let device = Device::flex();
    let study = run_study(&config, out.path(), &device, false).unwrap();
    println!("{}", study.markdown());
    let bits = |arm: &str| study.arm(arm).unwrap().mean;
    let scratch = bits("scratch");
    assert!(
        bits("teacher") < scratch,
        "the teacher must know more than the student"
    );
    // Forward KL (mass-covering: cross-entropy to the teacher) is the divergence that lowers
    // bits per character; reverse KL and GKD (mode-seeking) are run and reported, as in the
    // full study (docs/reproductions.md).
    for arm in ["forward_kl", "forward_kl_top8_cache"] {
        assert!(
            bits(arm) < scratch,
            "{arm}: {:.4} bits/char, scratch {scratch:.4}",
            bits(arm)
        );
    }
    assert!(
        study
            .runs
            .iter()
            .any(|r| r.arm == "gkd" && r.on_policy_batches > 0)
    );
    for file in [
        "study.json",
        "study.md",
        "tokenizer.json",
        "runs/seed-1/teacher.json",
    ] {
        assert!(out.path().join(file).exists(), "{file}");
    }
    // Resuming reads every run back instead of training again: the same numbers, and no
    // run file or teacher written anew.
    let written = |file: &str| {
        std::fs::metadata(out.path().join("runs/seed-1").join(file))
            .and_then(|m| m.modified())
            .unwrap()
    };
    let files = [
        "teacher.json",
        "teacher-model.bpk",
        "teacher-model.json",
        "scratch.json",
        "gkd.json",
    ];
    let before: Vec<_> = files.iter().map(|f| written(f)).collect();
    let again = run_study(&config, out.path(), &device, false).unwrap();
    assert_eq!(again.runs, study.runs);
    let after: Vec<_> = files.iter().map(|f| written(f)).collect();
    assert_eq!(before, after, "a resumed study rewrote finished runs");
}

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
