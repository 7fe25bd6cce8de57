//! Experiment files (`Experiment::from_toml` and its validation).

use std::path::{Path, PathBuf};

use dark_knowledge_experiment::Experiment;

use crate::{Harness, Outcome, check, text};

/// The experiment files shipped in `examples/experiments`.
const EXAMPLES: [&str; 9] = [
    include_str!("../../../../examples/experiments/churn.toml"),
    include_str!("../../../../examples/experiments/fashion-mnist.toml"),
    include_str!("../../../../examples/experiments/methods/assistant.toml"),
    include_str!("../../../../examples/experiments/methods/attention-cnn.toml"),
    include_str!("../../../../examples/experiments/methods/born-again.toml"),
    include_str!("../../../../examples/experiments/methods/ensemble.toml"),
    include_str!("../../../../examples/experiments/methods/features.toml"),
    include_str!("../../../../examples/experiments/methods/logit-losses.toml"),
    include_str!("../../../../examples/experiments/methods/mutual.toml"),
];

pub(crate) struct ExperimentToml;

/// The first float of `value` that is not finite, with its key path.
fn non_finite(value: &toml::Value, path: &str) -> Option<String> {
    match value {
        toml::Value::Float(f) if !f.is_finite() => Some(format!("{path} = {f}")),
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite(v, &format!("{path}[{i}]"))),
        toml::Value::Table(t) => t
            .iter()
            .find_map(|(k, v)| non_finite(v, &format!("{path}.{k}"))),
        _ => None,
    }
}

/// What a parsed experiment must do: write itself as TOML that reads back the same, with
/// no NaN or infinity in it.
fn check_experiment(e: &Experiment) -> Result<(), Outcome> {
    let written = e.to_toml().map_err(|err| {
        Outcome::Violation(format!("a valid experiment does not serialize: {err}"))
    })?;
    let again = Experiment::from_toml(&written).map_err(|err| {
        Outcome::Violation(format!("the resolved experiment does not reload: {err:#}"))
    })?;
    check(&again == e, || {
        let (before, after) = (format!("{e:#?}"), format!("{again:#?}"));
        let first = before
            .lines()
            .zip(after.lines())
            .find(|(b, a)| b != a)
            .map_or_else(String::new, |(b, a)| {
                format!(": `{}` reloads as `{}`", b.trim(), a.trim())
            });
        format!("the resolved experiment reloads differently{first}")
    })?;
    let value: toml::Value = toml::from_str(&written)
        .map_err(|err| Outcome::Violation(format!("written TOML does not parse: {err}")))?;
    match non_finite(&value, "") {
        Some(at) => Err(Outcome::Violation(format!(
            "a validated experiment has {at}"
        ))),
        None => Ok(()),
    }
}

impl Harness for ExperimentToml {
    fn seeds(&mut self) -> Vec<Vec<u8>> {
        let out = || PathBuf::from("runs/fuzz");
        let cpu = || "cpu".to_string();
        let written = [
            Experiment::churn_demo(out(), 42, cpu()),
            Experiment::csv_demo(
                out(),
                7,
                cpu(),
                "data.csv".into(),
                "label".into(),
                Some("yes".into()),
            ),
            Experiment::fashion_demo(out(), 1, cpu(), "fashion".into()),
        ]
        .map(|e| e.to_toml().expect("a demo serializes").into_bytes());
        written
            .into_iter()
            .chain(EXAMPLES.iter().map(|s| s.as_bytes().to_vec()))
            .collect()
    }

    fn run(&mut self, input: &[u8]) -> Outcome {
        let experiment = match Experiment::from_toml(&text(input)) {
            Ok(e) => e,
            Err(e) => return Outcome::rejected(format!("{e:#}")),
        };
        match check_experiment(&experiment) {
            Ok(()) => Outcome::Parsed(format!("{:?}", experiment.data.source)),
            Err(o) => o,
        }
    }
}

/// Builds the `experiment` harness.
pub(crate) fn experiment(_: &Path) -> Box<dyn Harness> {
    Box::new(ExperimentToml)
}
