//! Every fuzz target for a bounded time, and every regression input replayed.
//!
//! `DARK_KNOWLEDGE_FUZZ_SECONDS` sets the wall time per target (default 20); two targets run
//! at once, so the whole test takes about 14 targets × seconds / 2 (~140 s by default).
//! `DARK_KNOWLEDGE_FUZZ_SEED` sets the mutation seed (default 0).

use std::path::PathBuf;

use dark_knowledge_fuzz::engine::{self, Options, Verdict};
use dark_knowledge_fuzz::targets::ALL;
use dark_knowledge_fuzz::{Outcome, regression_dir};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn every_target_survives_its_fuzzing_budget() {
    let options = Options {
        seconds: env_or("DARK_KNOWLEDGE_FUZZ_SECONDS", 20.0),
        seed: env_or("DARK_KNOWLEDGE_FUZZ_SEED", 0),
        ..Options::default()
    };
    let reports = engine::fuzz_all(ALL, &options, 2, &|r| println!("{r}"));
    let total: u64 = reports.iter().map(|r| r.execs).sum();
    println!("total: {total} executions over {} targets", reports.len());
    let mut problems = Vec::new();
    for r in &reports {
        if r.seeds.1 < r.seeds.0 {
            problems.push(format!(
                "{}: only {} of {} seeds parse (a seed must be a valid file)",
                r.target, r.seeds.1, r.seeds.0
            ));
        }
        for c in &r.crashes {
            problems.push(format!(
                "{}: {} crash, input {}: {}",
                r.target,
                c.kind,
                c.path.display(),
                c.message
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The files of the regression folder (crash inputs that were fixed), `.txt` notes left out.
fn regression_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(regression_dir())
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && p.extension().is_none());
    files.sort();
    files
}

#[test]
fn every_regression_input_is_handled() {
    let options = Options::default();
    let files = regression_files();
    let mut problems = Vec::new();
    for path in &files {
        let Some(target) = engine::target_of_file(ALL, path) else {
            problems.push(format!("{}: no target matches the name", path.display()));
            continue;
        };
        let input = std::fs::read(path).expect("regression file");
        match engine::replay(target, &input, &options) {
            Verdict::Crash { kind, message } => {
                problems.push(format!("{}: {kind}: {message}", path.display()))
            }
            Verdict::Fine(Outcome::Parsed(what)) => println!("{}: parsed ({what})", path.display()),
            Verdict::Fine(outcome) => println!("{}: {outcome:?}", path.display()),
        }
    }
    println!("{} regression inputs replayed", files.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
