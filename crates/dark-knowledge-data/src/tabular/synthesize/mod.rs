//! Synthetic transfer sets for tabular distillation, for when rows without labels are
//! scarce: new rows made from the labelled training rows, which the teacher then labels
//! (softly) for the student.
//!
//! Two generators, both over the encoded rows of a [`TabularEncoder`](super::TabularEncoder)
//! (its [`FeatureLayout`]):
//!
//! * **MUNGE** (Bucilă, Caruana & Niculescu-Mizil 2006, *Model compression*): each pass
//!   copies the training rows; for each row `e` and its nearest neighbour `e'` (distance:
//!   squared differences of the standardized numbers + 1 per categorical column that
//!   differs, + 1 per numeric column missing in one of the two), each column is swapped
//!   with probability `p`: a categorical value (or a numeric one missing in `e` or `e'`) is
//!   exchanged, two numbers are redrawn as `e_a ~ N(e'_a, |e_a − e'_a| / s)` and
//!   `e'_a ~ N(e_a, |e_a − e'_a| / s)`. Passes repeat until `multiple × n` rows exist.
//! * **Gibbs-style per-column resampling** (after Fakoor et al. 2020, *FAST-DAD*): start from
//!   a random training row; for each column in random order, replace its value by the value
//!   of one of its `k` nearest training rows measured on the *other* columns; `rounds` sweeps.
//!
//! Every synthetic row stays valid for the encoder: numbers within the column's training
//! `[min, max]`, integers (columns whose training values are all integers) stay integers,
//! missing indicators 0 or 1 with a missing value encoded as 0, categorical groups exactly
//! one-hot over the slots the training rows use. Output is a function of the seed only
//! (each pass or row draws from its own seeded generator), whatever the number of threads.
//!
//! The nearest-neighbour search is exact. MUNGE's is `O(n²)`: at most [`MAX_NEIGHBOR_ROWS`]
//! training rows take part, above that a seeded sample of that many rows is used. Gibbs
//! resampling costs `rows made × n × columns × rounds`: at most [`MAX_GIBBS_ROWS`] training
//! rows are searched (a seeded sample above), and more than [`MAX_GIBBS_WORK`] is refused.

mod gibbs;
mod model;
mod munge;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::Result;
use dark_knowledge_core::error::Error as CoreError;

pub use model::{ColumnLayout, ColumnSlots, FeatureLayout};

/// MUNGE: at most this many training rows take part in the (exact, `O(n²)`) neighbour
/// search; a larger training set is subsampled (seeded) to this many.
pub const MAX_NEIGHBOR_ROWS: usize = 20_000;

/// Gibbs: at most this many training rows are searched for each column's neighbours; a
/// larger training set is subsampled (seeded) to this many.
pub const MAX_GIBBS_ROWS: usize = 5_000;

/// Gibbs: the largest `synthetic rows × training rows × columns × rounds` allowed (a test
/// build on two cores does about 1.5·10⁸ a second, so this is a few minutes there).
pub const MAX_GIBBS_WORK: f64 = 5e10;

/// The largest `multiple` allowed.
pub const MAX_MULTIPLE: f64 = 100.0;

/// At most this many synthetic rows are made in one call.
pub const MAX_SYNTHETIC_ROWS: usize = 2_000_000;

/// Which generator makes the rows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// MUNGE (Bucilă et al. 2006).
    Munge,
    /// Per-column resampling among nearest neighbours (Fakoor et al. 2020).
    Gibbs,
}

/// How a synthetic transfer set is made: `[data] synthetic = { generator = "munge",
/// multiple = 4 }` in an experiment file. Settings of the other generator are refused.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SynthesizerConfig {
    /// `munge` or `gibbs`.
    pub generator: Generator,
    /// Synthetic rows = `multiple` × the labelled training rows (rounded, at least 1);
    /// `(0, 100]`.
    pub multiple: f64,
    /// MUNGE: probability `p` that a column is swapped with the neighbour's, `[0, 1]`
    /// (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_probability: Option<f64>,
    /// MUNGE: the spread `s`; a swapped number is drawn with standard deviation
    /// `|e_a − e'_a| / s`, finite `> 0` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// Gibbs: sweeps over the columns per row, `1..=100` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<usize>,
    /// Gibbs: neighbours `k` a value is drawn from, `1..=1000` (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbors: Option<usize>,
    /// Seed of the generator; the experiment's seed when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn invalid(name: &'static str, value: impl ToString, allowed: &'static str) -> crate::Error {
    CoreError::InvalidValue {
        name,
        value: value.to_string(),
        allowed,
    }
    .into()
}

impl SynthesizerConfig {
    /// A configuration of `generator` with `multiple` and the defaults.
    pub fn new(generator: Generator, multiple: f64) -> Self {
        Self {
            generator,
            multiple,
            swap_probability: None,
            spread: None,
            rounds: None,
            neighbors: None,
            seed: None,
        }
    }

    /// MUNGE's swap probability `p` (default 0.5).
    pub fn swap_probability(&self) -> f64 {
        self.swap_probability.unwrap_or(0.5)
    }

    /// MUNGE's spread `s` (default 1).
    pub fn spread(&self) -> f64 {
        self.spread.unwrap_or(1.0)
    }

    /// Gibbs sweeps per row (default 1).
    pub fn rounds(&self) -> usize {
        self.rounds.unwrap_or(1)
    }

    /// Gibbs neighbours `k` (default 10).
    pub fn neighbors(&self) -> usize {
        self.neighbors.unwrap_or(10)
    }

    /// Checks every setting, naming the key (`[data] synthetic.<key>`) and what is allowed.
    ///
    /// # Errors
    /// A value out of range, or a setting of the other generator.
    pub fn validate(&self) -> Result<()> {
        let m = self.multiple;
        if !(m.is_finite() && m > 0.0 && m <= MAX_MULTIPLE) {
            return Err(invalid(
                "[data] synthetic.multiple",
                m,
                "a finite number > 0 and <= 100 (synthetic rows = multiple x labelled training rows)",
            ));
        }
        let (munge, gibbs) = (
            self.swap_probability.is_some() || self.spread.is_some(),
            self.rounds.is_some() || self.neighbors.is_some(),
        );
        match self.generator {
            Generator::Munge if gibbs => Err(invalid(
                "[data] synthetic (generator = \"munge\")",
                "rounds / neighbors",
                "swap_probability and spread (rounds and neighbors are settings of generator = \"gibbs\")",
            )),
            Generator::Gibbs if munge => Err(invalid(
                "[data] synthetic (generator = \"gibbs\")",
                "swap_probability / spread",
                "rounds and neighbors (swap_probability and spread are settings of generator = \"munge\")",
            )),
            _ => self.validate_values(),
        }
    }

    fn validate_values(&self) -> Result<()> {
        let p = self.swap_probability();
        if !(0.0..=1.0).contains(&p) {
            return Err(invalid(
                "[data] synthetic.swap_probability",
                p,
                "a probability in [0, 1]",
            ));
        }
        let s = self.spread();
        if !(s.is_finite() && s > 0.0) {
            return Err(invalid("[data] synthetic.spread", s, "a finite number > 0"));
        }
        if !(1..=100).contains(&self.rounds()) {
            return Err(invalid(
                "[data] synthetic.rounds",
                self.rounds(),
                "an integer in 1..=100",
            ));
        }
        if !(1..=1000).contains(&self.neighbors()) {
            return Err(invalid(
                "[data] synthetic.neighbors",
                self.neighbors(),
                "an integer in 1..=1000",
            ));
        }
        Ok(())
    }

    /// The number of synthetic rows made from `n` training rows: `multiple × n`, rounded,
    /// at least 1.
    ///
    /// # Errors
    /// More than [`MAX_SYNTHETIC_ROWS`] rows.
    pub fn num_rows(&self, n: usize) -> Result<usize> {
        let rows = (self.multiple * n as f64).round().max(1.0);
        if rows > MAX_SYNTHETIC_ROWS as f64 {
            return Err(invalid(
                "[data] synthetic.multiple",
                format!("{} ({rows} rows from {n} training rows)", self.multiple),
                "a multiple giving at most 2,000,000 synthetic rows",
            ));
        }
        Ok(rows as usize)
    }
}

/// Makes `config.num_rows(n)` synthetic rows from the `n` encoded training rows `train`
/// (row-major, `layout.num_features()` values per row, as the encoder the layout comes from
/// wrote them), seeded with `config.seed` or else `seed`. Returns the rows, row-major.
///
/// # Errors
/// An invalid `config`; `train` empty, of the wrong length, or not an encoding of the layout
/// (a one-hot group without exactly one 1, a missing indicator not 0 or 1, a non-finite
/// value).
pub fn synthesize(
    layout: &FeatureLayout,
    train: &[f32],
    config: &SynthesizerConfig,
    seed: u64,
) -> Result<Vec<f32>> {
    config.validate()?;
    let seed = config.seed.unwrap_or(seed);
    let table = model::Table::decode(layout, train)?;
    let count = config.num_rows(table.rows.len())?;
    let rows = match config.generator {
        Generator::Munge => {
            munge::generate(&table.pool(MAX_NEIGHBOR_ROWS, seed), config, count, seed)
        }
        Generator::Gibbs => {
            let pool = table.pool(MAX_GIBBS_ROWS, seed);
            check_gibbs_work(count, &pool, config)?;
            gibbs::generate(&pool, config, count, seed)
        }
    };
    let mut out = Vec::with_capacity(count * layout.num_features());
    for row in &rows {
        table.encode_into(row, &mut out);
    }
    Ok(out)
}

/// Refuses Gibbs resampling that would run for too long ([`MAX_GIBBS_WORK`]).
fn check_gibbs_work(count: usize, pool: &model::Table, config: &SynthesizerConfig) -> Result<()> {
    let (n, columns) = (pool.rows.len(), pool.num_columns());
    let work = count as f64 * n as f64 * columns as f64 * config.rounds() as f64;
    if work > MAX_GIBBS_WORK {
        return Err(invalid(
            "[data] synthetic (generator = \"gibbs\")",
            format!(
                "multiple = {}, rounds = {}: {count} rows x {n} training rows x {columns} \
                 columns x {} rounds = {work:.1e}",
                config.multiple,
                config.rounds(),
                config.rounds()
            ),
            "at most 5e10 (rows made x training rows searched x columns x rounds): lower \
             multiple or rounds, or use generator = \"munge\"",
        ));
    }
    Ok(())
}

/// The rows of `base` (a subset of `all`, keeping its row ids) followed by the synthetic
/// rows `synthetic` (row-major, `all.num_features()` values per row) as rows without label,
/// with row ids `all.len()`, `all.len() + 1`, ... — past every row of `all`, so they are
/// never mistaken for rows of the data. The labels `base` hides stay hidden.
///
/// # Errors
/// `synthetic` empty or not a whole number of rows; a non-finite value.
pub fn append_unlabeled(all: &Dataset, base: &Dataset, synthetic: &[f32]) -> Result<Dataset> {
    let nf = all.num_features();
    if synthetic.is_empty() || !synthetic.len().is_multiple_of(nf) {
        return Err(CoreError::ShapeMismatch {
            what: "synthetic rows",
            expected: format!("a non-empty whole number of rows of {nf} features"),
            got: format!("{} values", synthetic.len()),
        }
        .into());
    }
    let extra = synthetic.len() / nf;
    let mut features = dark_knowledge_core::tensor_util::to_vec_f32(all.features().clone());
    features.extend_from_slice(synthetic);
    let mut labels = all.labels_host().to_vec();
    labels.resize(all.len() + extra, 0);
    let combined = Dataset::new(features, nf, labels, all.num_classes(), &all.device())?;
    let mut positions = base.row_ids().to_vec();
    positions.extend(all.len()..all.len() + extra);
    let rows = combined.subset(&positions)?;
    let hide: Vec<usize> = (0..positions.len())
        .filter(|&p| p >= base.len() || !base.is_labeled(p))
        .collect();
    rows.hide_labels(&hide)
}

#[cfg(test)]
mod tests;
