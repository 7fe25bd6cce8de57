//! `dark-knowledge lm-study`: the language-model distillation study, printed as a table.

use dark_knowledge_experiment::{Context, Result};
use dark_knowledge_text::study::{CorpusSource, LmStudyConfig, run_study};

use crate::args::LmStudyArgs;
use crate::out::{errln, outln};

/// Runs the study and prints its table.
pub(crate) fn lm_study(a: LmStudyArgs) -> Result<()> {
    let corpus = if a.text.is_empty() {
        CorpusSource::Fortunes(a.fortunes)
    } else {
        CorpusSource::Files(a.text)
    };
    let mut config = match &a.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str::<LmStudyConfig>(&text)
                .with_context(|| format!("reading {}", path.display()))?
        }
        None if a.reduced => LmStudyConfig::reduced(corpus),
        None => LmStudyConfig::full(corpus),
    };
    if let Some(k) = a.seeds {
        config.seeds = (1..=k).collect();
    }
    let device = dark_knowledge_core::device_from_name(&a.device)?;
    let study = run_study(&config, &a.out, &device, true).context("the language-model study")?;
    outln!("{}", study.markdown());
    errln!(
        "lm-study: {:.0} s; written to {}",
        study.seconds,
        a.out.join("study.md").display()
    );
    Ok(())
}
