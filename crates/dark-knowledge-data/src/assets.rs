//! Data compiled into the library.

/// The telecom customer-churn data (`mlc_churn`, 5000 rows, target `churn` with classes
/// `yes` / `no`, MIT-licensed; see `assets/churn/README.md`), as CSV text. Used by
/// `dark-knowledge demo` so the demo needs no download.
pub const CHURN_CSV: &str = include_str!("../assets/churn/mlc_churn.csv");
