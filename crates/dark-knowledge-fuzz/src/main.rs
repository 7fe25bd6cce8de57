//! `dark-knowledge-fuzz <target|all|list> [--seconds N] [--seed S] …` and
//! `dark-knowledge-fuzz replay FILE…`: see `docs/fuzzing.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use dark_knowledge_fuzz::engine::{self, Options, Verdict};
use dark_knowledge_fuzz::targets::{self, ALL};
use dark_knowledge_fuzz::{Outcome, Target};

const USAGE: &str = "usage:
  dark-knowledge-fuzz <target>... | all | list  [--seconds N] [--runs N] [--seed S]
                      [--threads T] [--timeout SECONDS] [--alloc-limit-mib M]
  dark-knowledge-fuzz replay FILE...   (the target is the file name up to its last '-')

--seconds: wall time per target (default 60); --runs: stop after N inputs per target
instead; --threads: targets fuzzed at once (default 2); crashes go to
crates/dark-knowledge-fuzz/crashes/<target>-<blake3 prefix>.";

struct Args {
    names: Vec<String>,
    options: Options,
    threads: usize,
}

fn value<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
    v.as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        names: Vec::new(),
        options: Options {
            seconds: 60.0,
            ..Options::default()
        },
        threads: 2,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let o = &mut out.options;
        match arg.as_str() {
            "--seconds" => o.seconds = value(&arg, args.next())?,
            "--runs" => o.runs = Some(value(&arg, args.next())?),
            "--seed" => o.seed = value(&arg, args.next())?,
            "--threads" => out.threads = value(&arg, args.next())?,
            "--timeout" => o.timeout = Duration::from_secs_f64(value(&arg, args.next())?),
            "--alloc-limit-mib" => o.alloc_limit = value::<usize>(&arg, args.next())? << 20,
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => out.names.push(arg),
        }
    }
    Ok(out)
}

fn fuzz(names: &[String], options: &Options, threads: usize) -> Result<bool, String> {
    let chosen: Vec<Target> = if names.iter().any(|n| n == "all") {
        ALL.to_vec()
    } else {
        names
            .iter()
            .map(|n| {
                targets::find(n)
                    .copied()
                    .ok_or_else(|| format!("no target {n:?}"))
            })
            .collect::<Result<_, _>>()?
    };
    println!(
        "fuzzing {} target(s), {} s each, seed {}, {threads} thread(s)",
        chosen.len(),
        options.seconds,
        options.seed
    );
    let reports = engine::fuzz_all(&chosen, options, threads, &|r| println!("{r}"));
    let total: u64 = reports.iter().map(|r| r.execs).sum();
    let crashes: usize = reports.iter().map(|r| r.crashes.len()).sum();
    println!("total: {total} executions, {crashes} crash(es)");
    for r in &reports {
        if r.seeds.1 < r.seeds.0 {
            println!(
                "warning: {}: only {} of {} seeds parse",
                r.target, r.seeds.1, r.seeds.0
            );
        }
    }
    Ok(crashes == 0)
}

fn replay(files: &[String], options: &Options) -> Result<bool, String> {
    let mut ok = true;
    for file in files {
        let path = PathBuf::from(file);
        let target = engine::target_of_file(ALL, &path)
            .ok_or_else(|| format!("{file}: no target matches the file name"))?;
        let input = std::fs::read(&path).map_err(|e| format!("{file}: {e}"))?;
        match engine::replay(target, &input, options) {
            Verdict::Crash { kind, message } => {
                ok = false;
                println!("{file}: CRASH ({kind}) in {}: {message}", target.name);
            }
            Verdict::Fine(Outcome::Parsed(what)) => println!("{file}: parsed ({what})"),
            Verdict::Fine(outcome) => println!("{file}: {outcome:?}"),
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.names.first().map(String::as_str) {
        None => Err(USAGE.to_string()),
        Some("list") => {
            for t in ALL {
                println!("{:<12} {}", t.name, t.about);
            }
            Ok(true)
        }
        Some("replay") => replay(&args.names[1..], &args.options),
        Some(_) => fuzz(&args.names, &args.options, args.threads),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
