//! The workflow's messages (the `log` crate) as plain lines on stderr: `info` as they are,
//! `warn` and `error` with their level in front (dropped when stderr is closed).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Lines;

static LINES: Lines = Lines;

impl Log for Lines {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info && metadata.target().starts_with("dark_knowledge")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match record.level() {
            Level::Info => crate::out::note(*record.args()),
            level => crate::out::note(format_args!(
                "{}: {}",
                level.as_str().to_lowercase(),
                record.args()
            )),
        }
    }

    fn flush(&self) {}
}

/// Installs the stderr lines as the process's logger (once; later calls do nothing).
pub fn install() {
    if log::set_logger(&LINES).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
