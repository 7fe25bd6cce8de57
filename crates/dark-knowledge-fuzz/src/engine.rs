//! The fuzzing loop: run an input under `catch_unwind` with its heap counted, keep inputs
//! that do something new, save crashes, replay files.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use crate::mutate::Mutator;
use crate::{Harness, Outcome, Target, alloc};

/// Most inputs kept per target besides the seeds.
const MAX_CORPUS: usize = 512;

/// How one run of the fuzzer is bounded and where crashes go.
#[derive(Debug, Clone)]
pub struct Options {
    /// Wall time per target, in seconds (the seeds always run).
    pub seconds: f64,
    /// Stop after this many executions instead (reproducible runs).
    pub runs: Option<u64>,
    /// Seed of the mutations; each target mixes in its name.
    pub seed: u64,
    /// Peak heap of one input, in bytes, above which the input is a crash.
    pub alloc_limit: usize,
    /// Wall time of one input above which it is a crash (a hang) and the process ends.
    pub timeout: Duration,
    /// Where crash files are written.
    pub crash_dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seconds: 20.0,
            runs: None,
            seed: 0,
            alloc_limit: 256 << 20,
            timeout: Duration::from_secs(30),
            crash_dir: crate::crash_dir(),
        }
    }
}

/// What one input did, as the fuzzer judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Parsed or rejected, invariants held.
    Fine(Outcome),
    /// A panic, an allocation over the limit or a broken invariant.
    Crash {
        /// `panic`, `allocation` or `invariant`.
        kind: &'static str,
        /// What happened.
        message: String,
    },
}

/// A crash saved to a file.
#[derive(Debug, Clone)]
pub struct Crash {
    /// The input's file.
    pub path: PathBuf,
    /// `panic`, `allocation`, `invariant` or `timeout`.
    pub kind: &'static str,
    /// What happened.
    pub message: String,
}

/// The result of fuzzing one target.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// Inputs run, seeds included.
    pub execs: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Inputs that parsed.
    pub parsed: u64,
    /// Seed inputs, and how many of them parsed (all should).
    pub seeds: (usize, usize),
    /// Inputs in the corpus at the end.
    pub corpus: usize,
    /// Highest heap peak of one input, bytes.
    pub peak_alloc: usize,
    /// Distinct crashes, each saved once.
    pub crashes: Vec<Crash>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.execs as f64 / self.seconds.max(1e-9);
        write!(
            f,
            "{:<12} {:>10} execs in {:>6.1} s ({:>7.0}/s), {} parsed, corpus {}, peak heap {:.1} MiB, {} crash(es)",
            self.target,
            self.execs,
            self.seconds,
            rate,
            self.parsed,
            self.corpus,
            self.peak_alloc as f64 / (1 << 20) as f64,
            self.crashes.len()
        )?;
        for c in &self.crashes {
            write!(f, "\n  {} {}: {}", c.kind, c.path.display(), c.message)?;
        }
        Ok(())
    }
}

/// The input a fuzzing thread is running, for the allocation hook and the watchdog.
struct Slot {
    target: &'static str,
    crash_dir: PathBuf,
    input: Mutex<Vec<u8>>,
    /// Milliseconds since [`epoch`] at which the input started; 0 when idle.
    started: AtomicU64,
    timeout_ms: u64,
}

thread_local! {
    static SLOT: RefCell<Option<Arc<Slot>>> = const { RefCell::new(None) };
    static IN_EXEC: Cell<bool> = const { Cell::new(false) };
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static WATCHED: Mutex<Vec<Arc<Slot>>> = Mutex::new(Vec::new());

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// Panics on a thread running an input are recorded (location) instead of printed.
fn install_hooks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        epoch();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_EXEC.with(Cell::get) {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                PANIC_AT.with(|p| *p.borrow_mut() = Some(at));
            } else {
                previous(info);
            }
        }));
        std::thread::spawn(watchdog);
    });
}

/// Ends the process when an input runs longer than its slot's timeout, saving it first.
fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let slots = WATCHED.lock().map(|w| w.clone()).unwrap_or_default();
        for slot in slots {
            let started = slot.started.load(Ordering::Relaxed);
            if started != 0 && now_ms().saturating_sub(started) > slot.timeout_ms {
                let message = format!("one input ran longer than {} ms", slot.timeout_ms);
                die(&slot, "timeout", &message, 2);
            }
        }
    }
}

/// Saves the slot's input as a crash, says so and ends the process with `code`.
fn die(slot: &Slot, kind: &'static str, message: &str, code: i32) -> ! {
    let input = slot.input.try_lock().map(|i| i.clone()).unwrap_or_default();
    let path = save_crash(&slot.crash_dir, slot.target, &input, kind, message);
    eprintln!(
        "dark-knowledge-fuzz: CRASH ({kind}) in target {}: {message}; input saved to {}",
        slot.target,
        path.display()
    );
    std::process::exit(code)
}

/// Called by the allocator instead of an allocation past its hard limit.
fn on_fatal_alloc(live: usize) {
    let slot = SLOT.with(|s| s.try_borrow().ok().and_then(|s| s.clone()));
    let message = format!(
        "an allocation would make {live} bytes live (hard limit {} bytes)",
        alloc::HARD_LIMIT
    );
    match slot {
        Some(slot) => die(&slot, "allocation", &message, 3),
        None => {
            eprintln!("dark-knowledge-fuzz: {message}");
            std::process::exit(3)
        }
    }
}

/// Writes `input` to `<dir>/<target>-<first 16 hex digits of its BLAKE3>` (and what
/// happened beside it, `.txt`); returns the input's path.
pub fn save_crash(dir: &Path, target: &str, input: &[u8], kind: &str, message: &str) -> PathBuf {
    let hash = blake3::hash(input).to_hex();
    let path = dir.join(format!("{target}-{}", &hash[..16]));
    let note = format!("target: {target}\nkind: {kind}\n{message}\n");
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, input))
        .and_then(|()| std::fs::write(path.with_extension("txt"), note));
    if let Err(e) = written {
        eprintln!("dark-knowledge-fuzz: cannot write {}: {e}", path.display());
    }
    path
}

/// Runs one input: the verdict and the input's heap peak in bytes.
pub fn execute(harness: &mut dyn Harness, input: &[u8], alloc_limit: usize) -> (Verdict, usize) {
    install_hooks();
    IN_EXEC.set(true);
    PANIC_AT.with(|p| p.borrow_mut().take());
    alloc::begin(on_fatal_alloc);
    let result = catch_unwind(AssertUnwindSafe(|| harness.run(input)));
    let peak = alloc::end();
    IN_EXEC.set(false);
    let verdict = match result {
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without message".into());
            let at = PANIC_AT.with(|p| p.borrow_mut().take()).unwrap_or_default();
            Verdict::Crash {
                kind: "panic",
                message: format!("panicked at {at}: {text}"),
            }
        }
        Ok(_) if peak > alloc_limit => Verdict::Crash {
            kind: "allocation",
            message: format!("one input made {peak} bytes live (limit {alloc_limit})"),
        },
        Ok(Outcome::Violation(message)) => Verdict::Crash {
            kind: "invariant",
            message,
        },
        Ok(outcome) => Verdict::Fine(outcome),
    };
    (verdict, peak)
}

/// A scratch folder for one target's files: on `/dev/shm` when there is one.
pub fn scratch_dir(target: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    base.join(format!("dk-fuzz-{}-{n}-{target}", std::process::id()))
}

/// What a message says with its numbers, quoted text and the scratch folder left out:
/// inputs whose outcome says something new are kept in the corpus, crashes saying the same
/// are one.
fn signature(text: &str, scratch: &Path) -> String {
    let text = text.replace(&*scratch.to_string_lossy(), "<dir>");
    let mut out = String::with_capacity(text.len().min(120));
    let mut quoted = false;
    for c in text.chars() {
        if out.len() >= 120 {
            break;
        }
        if c == '"' || c == '`' {
            quoted = !quoted;
            out.push(c);
        } else if quoted {
            continue;
        } else if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The state of one target's run.
struct Run<'a> {
    target: &'static str,
    options: &'a Options,
    scratch: PathBuf,
    slot: Arc<Slot>,
    seen: HashSet<String>,
    crashed: HashSet<String>,
    report: Report,
}

impl Run<'_> {
    /// Runs `input`; returns whether it did something new (a new outcome or crash).
    fn exec(&mut self, harness: &mut dyn Harness, input: &[u8]) -> bool {
        if let Ok(mut slot) = self.slot.input.lock() {
            slot.clear();
            slot.extend_from_slice(input);
        }
        self.slot.started.store(now_ms(), Ordering::Relaxed);
        let (verdict, peak) = execute(harness, input, self.options.alloc_limit);
        self.slot.started.store(0, Ordering::Relaxed);
        self.report.execs += 1;
        self.report.peak_alloc = self.report.peak_alloc.max(peak);
        let key = match verdict {
            Verdict::Fine(Outcome::Parsed(kind)) => {
                self.report.parsed += 1;
                format!("parsed: {kind}")
            }
            Verdict::Fine(Outcome::Rejected(e) | Outcome::Violation(e)) => e,
            Verdict::Crash { kind, message } => {
                let key = signature(&format!("{kind} {message}"), &self.scratch);
                if self.crashed.insert(key) && self.report.crashes.len() < 32 {
                    let path =
                        save_crash(&self.options.crash_dir, self.target, input, kind, &message);
                    eprintln!(
                        "dark-knowledge-fuzz: CRASH ({kind}) in {}: {message}; input saved to {}",
                        self.target,
                        path.display()
                    );
                    self.report.crashes.push(Crash {
                        path,
                        kind,
                        message,
                    });
                }
                return false;
            }
        };
        let key = signature(&key, &self.scratch);
        self.seen.len() < 100_000 && self.seen.insert(key)
    }
}

/// Fuzzes `target` as `options` say; the seeds run first.
pub fn fuzz(target: &Target, options: &Options) -> Report {
    install_hooks();
    let scratch = scratch_dir(target.name);
    let _ = std::fs::create_dir_all(&scratch);
    let slot = Arc::new(Slot {
        target: target.name,
        crash_dir: options.crash_dir.clone(),
        input: Mutex::new(Vec::new()),
        started: AtomicU64::new(0),
        timeout_ms: options.timeout.as_millis() as u64,
    });
    SLOT.with(|s| *s.borrow_mut() = Some(slot.clone()));
    if let Ok(mut w) = WATCHED.lock() {
        w.push(slot.clone());
    }
    let start = Instant::now();
    let mut harness = (target.make)(&scratch);
    let seeds = harness.seeds();
    let mut run = Run {
        target: target.name,
        options,
        scratch: scratch.clone(),
        slot: slot.clone(),
        seen: HashSet::new(),
        crashed: HashSet::new(),
        report: Report {
            target: target.name,
            execs: 0,
            seconds: 0.0,
            parsed: 0,
            seeds: (seeds.len(), 0),
            corpus: seeds.len(),
            peak_alloc: 0,
            crashes: Vec::new(),
        },
    };
    for seed in &seeds {
        run.exec(harness.as_mut(), seed);
    }
    run.report.seeds.1 = run.report.parsed as usize;
    mutate_loop(&mut run, harness.as_mut(), seeds, start);
    run.report.seconds = start.elapsed().as_secs_f64();
    if let Ok(mut w) = WATCHED.lock() {
        w.retain(|s| !Arc::ptr_eq(s, &slot));
    }
    SLOT.with(|s| s.borrow_mut().take());
    drop(harness);
    let _ = std::fs::remove_dir_all(&scratch);
    run.report
}

fn mutate_loop(run: &mut Run<'_>, harness: &mut dyn Harness, seeds: Vec<Vec<u8>>, start: Instant) {
    let longest = seeds.iter().map(Vec::len).max().unwrap_or(0);
    let max_len = (longest * 2).clamp(4096, 1 << 20);
    let mut corpus = seeds;
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let num_seeds = corpus.len();
    let name_hash = blake3::hash(run.target.as_bytes());
    let mix = u64::from_le_bytes(name_hash.as_bytes()[..8].try_into().expect("8 bytes"));
    let mut mutator = Mutator::new(run.options.seed ^ mix);
    let deadline = Duration::from_secs_f64(run.options.seconds.max(0.0));
    loop {
        let done = match run.options.runs {
            Some(n) => run.report.execs >= n,
            None => start.elapsed() >= deadline,
        };
        if done {
            break;
        }
        // A third of the inputs start from a seed, so a corpus full of damaged inputs does
        // not crowd the valid ones out.
        let from = if mutator.chance(0.3) {
            num_seeds
        } else {
            corpus.len()
        };
        let mut input = corpus[mutator.below(from)].clone();
        let other = &corpus[mutator.below(corpus.len())];
        mutator.mutate(&mut input, other, max_len);
        if mutator.chance(0.5) {
            harness.fixup(&mut input);
        }
        if run.exec(harness, &input) && corpus.len() < MAX_CORPUS {
            corpus.push(input);
        }
    }
    run.report.corpus = corpus.len();
}

/// Fuzzes every target of `targets` on `threads` threads, in order; returns the reports in
/// the order of `targets`.
pub fn fuzz_all(
    targets: &[Target],
    options: &Options,
    threads: usize,
    on_done: &(dyn Fn(&Report) + Sync),
) -> Vec<Report> {
    let next = AtomicUsize::new(0);
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, targets.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let report = fuzz(target, options);
                    on_done(&report);
                    reports.lock().expect("no panic holds it").push((i, report));
                }
            });
        }
    });
    let mut reports = reports.into_inner().expect("no panic holds it");
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Runs `input` once through `target`, in a scratch folder of its own.
pub fn replay(target: &Target, input: &[u8], options: &Options) -> Verdict {
    let scratch = scratch_dir(target.name);
    let _ = std::fs::create_dir_all(&scratch);
    let mut harness = (target.make)(&scratch);
    let (verdict, _) = execute(harness.as_mut(), input, options.alloc_limit);
    drop(harness);
    let _ = std::fs::remove_dir_all(&scratch);
    verdict
}

/// The target a crash or regression file belongs to: its name up to the last `-`.
pub fn target_of_file<'a>(targets: &'a [Target], path: &Path) -> Option<&'a Target> {
    let name = path.file_name()?.to_str()?;
    let (target, _) = name.rsplit_once('-')?;
    targets.iter().find(|t| t.name == target)
}
