//! Building a row store from a CSV file in streaming passes, with the encoder
//! [`TabularEncoder::fit`] would fit on all the file's rows.

use std::path::Path;

use super::csv_fit::fit_encoder;
use super::csv_records::CsvRecords;
use super::csv_scan::Scan;
use super::error::{Result, StoreError};
use super::format::StoreHeader;
use super::writer::RowStoreWriter;
use crate::tabular::{TabularConfig, TabularEncoder};

/// Rows between two progress reports within a pass.
const PROGRESS_EVERY: usize = 1 << 14;

/// Options of [`write_csv_store_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvStoreOptions {
    /// A row whose target cell is missing becomes a row without label (stored as
    /// [`crate::UNLABELED`]) instead of an error naming its line; the
    /// `missing_target_is_unlabeled = true` of the CLI's `[data]` section. Default `false`.
    pub missing_target_is_unlabeled: bool,
}

/// What a pass over the CSV is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvPass {
    /// The first pass: column kinds, levels, labels, counts, sums and errors.
    Scan,
    /// A pass for exact statistics: the variance around the mean of the scan (and, only for
    /// columns with values beyond ±1e100 or numeric-looking columns with many distinct values
    /// that turn out categorical, their mean or levels).
    Statistics,
    /// The last pass: every row encoded into the store.
    Encode,
}

/// A progress report of [`write_csv_store`]: sent every few thousand rows and at the end of
/// each pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvProgress {
    /// The pass under way.
    pub pass: CsvPass,
    /// Data rows read in this pass so far.
    pub rows_done: usize,
    /// Data rows of the file, once the scan pass has counted them.
    pub total_rows: Option<usize>,
}

/// What [`write_csv_store`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSummary {
    /// The store's header: rows, features, classes, rows without label.
    pub header: StoreHeader,
    /// Passes read over the CSV (scan, statistics, encode: usually 3).
    pub csv_passes: usize,
    /// Size of the store file in bytes.
    pub file_bytes: u64,
}

/// Fits a [`TabularEncoder`] on every row of the CSV at `csv` and writes the encoded rows to
/// a row store at `out`, in streaming passes that never hold the table in memory.
///
/// Same as [`write_csv_store_with`] with the default [`CsvStoreOptions`]: a row without
/// label is an error naming its line.
pub fn write_csv_store(
    csv: &Path,
    config: &TabularConfig,
    out: &Path,
    progress: impl FnMut(CsvProgress),
) -> Result<(TabularEncoder, StoreSummary)> {
    write_csv_store_with(csv, config, &CsvStoreOptions::default(), out, progress)
}

/// Fits a [`TabularEncoder`] on every row of the CSV at `csv` and writes the encoded rows to
/// a row store at `out`, in streaming passes that never hold the table in memory.
///
/// The encoder equals `TabularEncoder::fit(&table, &all_rows, config)` on the same file read
/// as a [`CsvTable`](crate::tabular::CsvTable), and row `i` of the store is
/// `encoder.encode_rows(&table, &[i])` bit for bit, with the label `labels_partial` gives.
/// The passes ([`CsvPass`]): a scan (the column kinds need every value of a column, the
/// standard deviations the mean of the scan), a statistics pass for the exact variances, and
/// the encoding pass. Memory stays bounded by one record plus the distinct labels, the
/// distinct levels of categorical columns (which the encoder holds anyway: list a
/// high-cardinality text column in `drop_columns` to not gather its values) and at most 1024
/// distinct values per numeric-looking column (kept in case a later text makes it
/// categorical; past that its levels are read again in a statistics pass).
///
/// The encoder is fitted on every row; fitting on a subset (as the CLI fits on its training
/// split) is not offered here.
///
/// # Errors
/// Every error the in-memory path gives, naming the line (see [`crate::tabular`]); errors
/// that depend only on the header (a missing target column, unknown or conflicting column
/// names in `config`) come before any row is read, where the in-memory path would first
/// report a malformed row further down. The store is written atomically
/// ([`RowStoreWriter`]): on any error nothing appears at `out` and a file there is untouched.
/// [`StoreError::CsvChanged`] if the file changes between passes.
pub fn write_csv_store_with(
    csv: &Path,
    config: &TabularConfig,
    options: &CsvStoreOptions,
    out: &Path,
    mut progress: impl FnMut(CsvProgress),
) -> Result<(TabularEncoder, StoreSummary)> {
    let progress: &mut dyn FnMut(CsvProgress) = &mut progress;
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(csv), std::fs::canonicalize(out))
        && a == b
    {
        return Err(StoreError::InvalidPath {
            path: out.to_path_buf(),
            reason: "it is the CSV being read; choose another path for the store",
        });
    }
    let mut records = CsvRecords::open(csv)?;
    let mut scan = Scan::start(&records, config)?;
    while records.advance()? {
        scan.add(&records);
        tick(progress, CsvPass::Scan, scan.rows, None, false);
    }
    tick(progress, CsvPass::Scan, scan.rows, None, true);
    let (headers, rows, unlabeled) = (scan.headers.clone(), scan.rows, scan.unlabeled);
    let (encoder, statistics_passes) = fit_encoder(scan, csv, config, options, progress)?;
    let header = encode_pass(csv, &headers, rows, unlabeled, &encoder, out, progress)?;
    let file_bytes = header.layout().map_or(0, |l| l.file_len as u64);
    let summary = StoreSummary {
        header,
        csv_passes: 2 + statistics_passes,
        file_bytes,
    };
    Ok((encoder, summary))
}

/// Reports progress every [`PROGRESS_EVERY`] rows, and at the end of a pass (`done`).
fn tick(
    progress: &mut dyn FnMut(CsvProgress),
    pass: CsvPass,
    rows_done: usize,
    total_rows: Option<usize>,
    done: bool,
) {
    if done || rows_done.is_multiple_of(PROGRESS_EVERY) {
        progress(CsvProgress {
            pass,
            rows_done,
            total_rows,
        });
    }
}

fn changed(path: &Path, reason: String) -> StoreError {
    StoreError::CsvChanged {
        path: path.to_path_buf(),
        reason,
    }
}

/// One more pass over the CSV after the scan, calling `f` on every record; checks that the
/// file still has the header and the number of rows the scan found.
pub(crate) fn run_pass(
    path: &Path,
    headers: &[String],
    rows: usize,
    pass: CsvPass,
    progress: &mut dyn FnMut(CsvProgress),
    mut f: impl FnMut(&CsvRecords) -> Result<()>,
) -> Result<()> {
    let mut records = CsvRecords::open(path)?;
    if records.headers() != headers {
        return Err(changed(path, "its header line is different".into()));
    }
    while records.advance()? {
        if records.rows() > rows {
            return Err(changed(path, format!("it has more than {rows} data rows")));
        }
        f(&records)?;
        tick(progress, pass, records.rows(), Some(rows), false);
    }
    if records.rows() != rows {
        let found = records.rows();
        return Err(changed(
            path,
            format!("it has {found} data rows, not {rows}"),
        ));
    }
    tick(progress, pass, rows, Some(rows), true);
    Ok(())
}

/// The last pass: every row encoded and pushed to a [`RowStoreWriter`] for `out`.
fn encode_pass(
    csv: &Path,
    headers: &[String],
    rows: usize,
    unlabeled: usize,
    encoder: &TabularEncoder,
    out: &Path,
    progress: &mut dyn FnMut(CsvProgress),
) -> Result<StoreHeader> {
    let position = |name: &str| headers.iter().position(|h| h == name).unwrap_or(usize::MAX);
    let cols: Vec<usize> = encoder.columns.iter().map(|c| position(&c.name)).collect();
    let target = &encoder.target;
    let target_col = position(&target.column);
    let mut writer = RowStoreWriter::create(out, encoder.num_features(), target.num_classes())?;
    let mut row = Vec::with_capacity(encoder.num_features());
    let mut seen_unlabeled = 0;
    run_pass(csv, headers, rows, CsvPass::Encode, progress, |records| {
        row.clear();
        for (column, &col) in encoder.columns.iter().zip(&cols) {
            if let Err(bad) = column.encode_into(records.cell(col), &mut row) {
                return Err(bad.at(records.line()?, &column.name).into());
            }
        }
        let label = match records.cell(target_col) {
            None => {
                seen_unlabeled += 1;
                None
            }
            Some(label) => Some(target.index_of(label).ok_or_else(|| {
                let line = records
                    .line()
                    .map_or(String::new(), |l| format!(" on line {l}"));
                changed(
                    csv,
                    format!("label {label:?}{line} was not in the first pass"),
                )
            })?),
        };
        writer.push(&row, label)
    })?;
    if seen_unlabeled != unlabeled {
        let reason =
            format!("{seen_unlabeled} rows have no label, the first pass found {unlabeled}");
        return Err(changed(csv, reason));
    }
    writer.finish()
}
