//! Printing that never panics: results on stdout through [`line`] (a failed write is an
//! error of the command), messages on stderr through [`note`] (dropped when stderr is
//! closed: there is nowhere left to tell).
//!
//! Exit codes: a command whose stdout reader went away (`dark-knowledge … | head -1`, a
//! `BrokenPipe`) stops quietly with 0, as a command that was cut short by its reader on
//! purpose; any other failure to write stdout (`> /dev/full`) is an error naming standard
//! output, exit code 1 like every other error; usage errors exit 2 (clap's).

use std::fmt::Arguments;
use std::io::{self, IsTerminal, Write};

use dark_knowledge_experiment::{Context, Error, Result};

/// What the command reports on a failed write to stdout.
const STDOUT: &str = "cannot write to standard output";

/// Writes `args` and a newline to stdout, flushed.
///
/// # Errors
/// The write failed (the [`io::Error`] kept as the root cause, see [`is_broken_pipe`]).
pub fn line(args: Arguments<'_>) -> Result<()> {
    write_stdout(&format!("{args}\n")).context(STDOUT)
}

/// Writes `args` and a newline to stderr, ignoring a closed or failing stderr.
pub fn note(args: Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{args}").and_then(|()| err.flush());
}

fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Whether `e` comes from writing into a pipe (or FIFO) whose reader is gone.
pub fn is_broken_pipe(e: &Error) -> bool {
    match e.root() {
        Error::Io(io) => return io.kind() == io::ErrorKind::BrokenPipe,
        Error::Csv(c) => {
            if let csv::ErrorKind::Io(io) = c.kind() {
                return io.kind() == io::ErrorKind::BrokenPipe;
            }
        }
        _ => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Ends the process on an error of the command: quietly with 0 for a closed stdout pipe,
/// else with the message on stderr and 1.
pub fn fail(e: &Error) -> ! {
    if is_broken_pipe(e) {
        std::process::exit(0);
    }
    note(format_args!("error: {e}"));
    std::process::exit(1);
}

/// Ends the process on what clap returned instead of arguments: `--help` and `--version`
/// on stdout (checked as [`line`] is), usage errors as clap prints them (stderr, exit 2).
pub fn clap_exit(e: &clap::Error) -> ! {
    if e.use_stderr() {
        e.exit();
    }
    let text = if io::stdout().is_terminal() {
        e.render().ansi().to_string()
    } else {
        e.render().to_string()
    };
    match write_stdout(&text).context(STDOUT) {
        Ok(()) => std::process::exit(0),
        Err(e) => fail(&e),
    }
}

/// `println!` through [`line`]: `?`-propagates a failed write.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::out::line(format_args!($($arg)*))?
    };
}

/// `eprintln!` through [`note`]: never fails.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::note(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};
