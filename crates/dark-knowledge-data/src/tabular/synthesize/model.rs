//! The feature layout of an encoder, and the training rows decoded into column values.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;

use crate::error::Result;
use crate::source::mix_seed;
use dark_knowledge_core::error::Error as CoreError;

/// Where one input column's features sit in an encoded row, and what they mean.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnLayout {
    /// The column's name in the CSV.
    pub name: String,
    /// Index of the column's first feature.
    pub offset: usize,
    /// What its features are.
    pub slots: ColumnSlots,
}

/// The features of one input column.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnSlots {
    /// `z = (x − mean) / std` at `offset`; a missing value is `z = 0`, flagged by a 1 at
    /// `offset + 1` when `missing_indicator`.
    Numeric {
        /// Training mean.
        mean: f64,
        /// Training standard deviation.
        std: f64,
        /// Whether the feature after the value is the missing indicator.
        missing_indicator: bool,
    },
    /// One-hot over `levels` slots for the training levels, then `<unknown>` (slot
    /// `levels`), then `<missing>` (slot `levels + 1`).
    Categorical {
        /// Number of training levels.
        levels: usize,
    },
}

impl ColumnLayout {
    /// Number of features of the column.
    pub fn width(&self) -> usize {
        match self.slots {
            ColumnSlots::Numeric {
                missing_indicator, ..
            } => 1 + usize::from(missing_indicator),
            ColumnSlots::Categorical { levels } => levels + 2,
        }
    }
}

/// The layout of an encoded row: its columns, in feature order.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureLayout {
    /// The columns, in the order their features appear.
    pub columns: Vec<ColumnLayout>,
}

impl FeatureLayout {
    /// Number of features per row.
    pub fn num_features(&self) -> usize {
        self.columns.iter().map(ColumnLayout::width).sum()
    }
}

/// One column's value in one row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Value {
    /// A present number, standardized.
    Num(f64),
    /// A missing number.
    Missing,
    /// A categorical slot.
    Slot(usize),
}

/// What the training rows say about a numeric column.
#[derive(Clone, Debug)]
pub(super) struct NumericRange {
    mean: f64,
    std: f64,
    indicator: bool,
    /// Smallest and largest present `z`.
    lo: f64,
    hi: f64,
    /// Smallest and largest raw value when every present value is an integer.
    integers: Option<(f64, f64)>,
}

/// The training rows as column values, with what generators must respect.
#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) layout: FeatureLayout,
    /// Per column: the numeric range, `None` for a categorical column.
    ranges: Vec<Option<NumericRange>>,
    pub(super) rows: Vec<Vec<Value>>,
}

/// Whether raw value `x`, decoded from the f32 `z`, is an integer up to f32 rounding.
pub(super) fn is_integer(x: f64, z: f64, std: f64) -> bool {
    let tolerance = 4.0 * f64::from(f32::EPSILON) * (z.abs() * std).max(1.0) + 1e-9 * x.abs();
    (x - x.round()).abs() <= tolerance
}

/// How `encode_into` turns a raw number into its feature.
pub(super) fn encode_number(x: f64, mean: f64, std: f64) -> f32 {
    let limit = f64::from(f32::MAX);
    ((x - mean) / std).clamp(-limit, limit) as f32
}

fn bad_row(row: usize, column: &str, what: &str) -> crate::Error {
    CoreError::InvalidValue {
        name: "synthesizer training rows",
        value: format!("row {row}, column {column:?}: {what}"),
        allowed: "rows encoded by the encoder the layout comes from (finite values, one-hot \
                  groups with exactly one 1, missing indicators 0 or 1)",
    }
    .into()
}

impl Table {
    /// Decodes the row-major encoded rows `data` of `layout`.
    pub(super) fn decode(layout: &FeatureLayout, data: &[f32]) -> Result<Self> {
        let nf = layout.num_features();
        if data.is_empty() || nf == 0 || !data.len().is_multiple_of(nf) {
            return Err(CoreError::ShapeMismatch {
                what: "synthesizer training rows",
                expected: format!("a non-empty whole number of rows of {nf} features"),
                got: format!("{} values", data.len()),
            }
            .into());
        }
        let mut rows = Vec::with_capacity(data.len() / nf);
        for (r, row) in data.chunks(nf).enumerate() {
            rows.push(
                layout
                    .columns
                    .iter()
                    .map(|c| decode_cell(c, &row[c.offset..c.offset + c.width()], r))
                    .collect::<Result<Vec<Value>>>()?,
            );
        }
        let ranges = (0..layout.columns.len())
            .map(|c| numeric_range(&layout.columns[c], rows.iter().map(|r| r[c])))
            .collect();
        Ok(Self {
            layout: layout.clone(),
            ranges,
            rows,
        })
    }

    /// The same table restricted to at most `max` rows (a seeded sample, in row order).
    pub(super) fn pool(&self, max: usize, seed: u64) -> Self {
        if self.rows.len() <= max {
            return self.clone();
        }
        let mut rng = StdRng::seed_from_u64(mix_seed(seed ^ 0x706f_6f6c));
        let mut picked = sample(&mut rng, self.rows.len(), max).into_vec();
        picked.sort_unstable();
        Self {
            rows: picked.iter().map(|&i| self.rows[i].clone()).collect(),
            ..self.clone()
        }
    }

    /// Number of columns.
    pub(super) fn num_columns(&self) -> usize {
        self.layout.columns.len()
    }

    /// A drawn number for column `col` made valid: rounded to an integer for an integer
    /// column, and within the column's training range.
    pub(super) fn settle(&self, col: usize, z: f64) -> Value {
        let Some(r) = &self.ranges[col] else {
            return Value::Num(z);
        };
        match r.integers {
            Some((lo, hi)) => {
                let x = (z * r.std + r.mean).round().clamp(lo, hi);
                Value::Num(f64::from(encode_number(x, r.mean, r.std)))
            }
            None => Value::Num(z.clamp(r.lo, r.hi)),
        }
    }

    /// Appends the features of `row`.
    pub(super) fn encode_into(&self, row: &[Value], out: &mut Vec<f32>) {
        let columns = self.layout.columns.iter().zip(&self.ranges);
        for ((c, range), value) in columns.zip(row) {
            match (&c.slots, *value) {
                (ColumnSlots::Numeric { .. }, Value::Num(z)) => {
                    out.push(z as f32);
                    if range.as_ref().is_some_and(|r| r.indicator) {
                        out.push(0.0);
                    }
                }
                (ColumnSlots::Numeric { .. }, _) => out.extend([0.0, 1.0]),
                (ColumnSlots::Categorical { levels }, v) => {
                    let slot = match v {
                        Value::Slot(s) => s,
                        _ => levels + 1,
                    };
                    out.extend((0..levels + 2).map(|i| if i == slot { 1.0 } else { 0.0 }));
                }
            }
        }
    }
}

/// The distance between two values of one column: squared difference of two numbers, 1
/// for different categories or a number missing in one row only, 0 otherwise.
pub(super) fn cell_distance(a: Value, b: Value) -> f64 {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => (x - y) * (x - y),
        (Value::Slot(i), Value::Slot(j)) => f64::from(u8::from(i != j)),
        (Value::Missing, Value::Missing) => 0.0,
        _ => 1.0,
    }
}

/// The distance between two rows: the sum of [`cell_distance`] over the columns.
pub(super) fn row_distance(a: &[Value], b: &[Value]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| cell_distance(x, y)).sum()
}

fn decode_cell(column: &ColumnLayout, cells: &[f32], row: usize) -> Result<Value> {
    if let Some(v) = cells.iter().find(|v| !v.is_finite()) {
        return Err(bad_row(row, &column.name, &format!("value {v}")));
    }
    match column.slots {
        ColumnSlots::Numeric {
            missing_indicator, ..
        } => match (missing_indicator, cells.get(1).copied()) {
            (true, Some(1.0)) => Ok(Value::Missing),
            (true, Some(0.0)) | (false, _) => Ok(Value::Num(f64::from(cells[0]))),
            (_, flag) => Err(bad_row(
                row,
                &column.name,
                &format!("missing indicator {flag:?}"),
            )),
        },
        ColumnSlots::Categorical { .. } => {
            let ones: Vec<usize> = (0..cells.len()).filter(|&i| cells[i] == 1.0).collect();
            let zeros = cells.iter().filter(|&&v| v == 0.0).count();
            if ones.len() != 1 || zeros + 1 != cells.len() {
                return Err(bad_row(row, &column.name, "not a one-hot group"));
            }
            Ok(Value::Slot(ones[0]))
        }
    }
}

fn numeric_range(
    column: &ColumnLayout,
    values: impl Iterator<Item = Value>,
) -> Option<NumericRange> {
    let ColumnSlots::Numeric {
        mean,
        std,
        missing_indicator,
    } = column.slots
    else {
        return None;
    };
    let present: Vec<f64> = values
        .filter_map(|v| match v {
            Value::Num(z) => Some(z),
            _ => None,
        })
        .collect();
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let raw = |z: f64| z * std + mean;
    let integers = (!present.is_empty() && present.iter().all(|&z| is_integer(raw(z), z, std)))
        .then(|| (raw(lo).round(), raw(hi).round()));
    Some(NumericRange {
        mean,
        std,
        indicator: missing_indicator,
        lo: if present.is_empty() { 0.0 } else { lo },
        hi: if present.is_empty() { 0.0 } else { hi },
        integers,
    })
}

/// `f(0), f(1), ..., f(n − 1)`, computed on the available threads in contiguous chunks and
/// returned in order: the result does not depend on the number of threads.
pub(super) fn parallel_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let chunk = n.div_ceil(threads.clamp(1, n.max(1))).max(1);
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                s.spawn(move || (start..(start + chunk).min(n)).map(f).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Vec<T>>()
    })
}

/// A standard normal draw (Box–Muller).
pub(super) fn standard_normal(rng: &mut StdRng) -> f64 {
    use rand::RngExt;
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A generator seeded by `seed` and a stream number (a pass or a row).
pub(super) fn stream(seed: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(mix_seed(seed ^ mix_seed(stream.wrapping_add(0x9E37_79B9))))
}
