//! Turning an experiment's `[data]` section into train / validation / test datasets.

use crate::bail;
use crate::error::{Context, Result};
use burn::tensor::Device;
use dark_knowledge_data::idx::{DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, FashionMnist};
use dark_knowledge_data::tabular::synthesize::{append_unlabeled, synthesize};
use dark_knowledge_data::tabular::{
    CsvTable, TabularConfig, TabularEncoder, TabularError, TargetEncoding,
};
use dark_knowledge_data::{
    CHURN_CSV, Dataset, LabelBudget, Split, stratified_labeled, stratified_split,
};

use crate::experiment::{DataConfig, DataSource, UnlabeledRows};

/// Datasets ready for training, with what is needed to describe and reproduce them.
pub struct Prepared {
    /// A name for reports.
    pub name: String,
    /// Training rows.
    pub train: Dataset,
    /// Validation rows.
    pub valid: Dataset,
    /// Test rows.
    pub test: Dataset,
    /// Every row the splits were cut from, in file order (row id = position): for CSV data
    /// the whole table, for images the training file. Teacher caches are made over it.
    pub all: Dataset,
    /// Whether the test rows are rows of `all` (CSV data), not of another file (images).
    pub test_in_all: bool,
    /// Class labels, by class index.
    pub class_names: Vec<String>,
    /// The positive class of a binary target.
    pub positive_class: Option<usize>,
    /// The fitted preprocessing of tabular data.
    pub encoder: Option<TabularEncoder>,
    /// The labelled training rows, when `[data]` hides some labels (`train` then holds
    /// every training row, the hidden ones without label).
    pub labeled_train: Option<Dataset>,
    /// Whether a distilled student uses the rows without labels (the transfer set).
    pub transfer: bool,
    /// With `[data] synthetic`: a distilled student's rows followed by the synthetic rows,
    /// without label, their row ids from `all.len()` on (no teacher cache covers them).
    pub synthetic_train: Option<Dataset>,
}

impl Prepared {
    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.train.num_features()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The report's description of these data (majority-class rate on the test split).
    pub fn summary(&self) -> dark_knowledge_eval::DatasetSummary {
        dark_knowledge_eval::DatasetSummary::of(
            self.name.clone(),
            [&self.train, &self.valid, &self.test],
            &self.class_names,
            self.positive_class,
        )
        .with_dropped_columns(self.encoder.as_ref().map_or(&[], |e| e.dropped.as_slice()))
    }

    /// The rows a model trains on: every training row for a distilled student when the
    /// transfer set is used, the labelled ones otherwise; a distilled student's rows end
    /// with the synthetic rows of `[data] synthetic`.
    pub fn train_for(&self, with_teacher: bool) -> &Dataset {
        match (&self.synthetic_train, &self.labeled_train) {
            (Some(synthetic), _) if with_teacher => synthetic,
            (_, Some(labeled)) if !(with_teacher && self.transfer) => labeled,
            _ => &self.train,
        }
    }

    /// Number of synthetic rows (`[data] synthetic`), 0 without.
    pub fn synthetic_rows(&self) -> usize {
        let past_data = |s: &Dataset| {
            s.row_ids()
                .iter()
                .filter(|&&id| id >= self.all.len())
                .count()
        };
        self.synthetic_train.as_ref().map_or(0, past_data)
    }

    /// Makes the synthetic transfer set of `[data] synthetic` from the labelled training
    /// rows (seeded with `seed`), for a distilled student only.
    fn with_synthetic_rows(mut self, config: &DataConfig, seed: u64) -> Result<Self> {
        let Some(synthetic) = &config.synthetic else {
            return Ok(self);
        };
        let Some(encoder) = &self.encoder else {
            bail!(
                "[data] synthetic: allowed only for tabular data (CSV or churn), not {}",
                self.name
            );
        };
        let labeled = self.train_for(false);
        let rows = dark_knowledge_core::tensor_util::to_vec_f32(labeled.features().clone());
        let made = synthesize(&encoder.feature_layout(), &rows, synthetic, seed)
            .context("making the rows of [data] synthetic")?;
        let base = self.train_for(true);
        let extended = append_unlabeled(&self.all, base, &made)?;
        log::info!(
            "synthetic transfer set: {} rows made by {:?} from {} labelled training rows; a \
             distilled student trains on {} rows ({} labelled)",
            extended.len() - base.len(),
            synthetic.generator,
            labeled.len(),
            extended.len(),
            extended.num_labeled()
        );
        self.synthetic_train = Some(extended);
        Ok(self)
    }

    /// Records how the training rows that already lack a label (empty CSV targets) are
    /// used.
    fn with_unlabeled_rows(mut self, config: &DataConfig) -> Result<Self> {
        if self.train.is_partially_labeled() {
            let labeled = self.train.labeled_positions();
            if labeled.is_empty() {
                bail!("no training row has a label: teachers and baselines need labelled rows");
            }
            self.labeled_train = Some(self.train.subset(&labeled)?);
            self.transfer = config.unlabeled_rows == UnlabeledRows::Transfer;
            log::info!(
                "labels: {} training rows have no label ({})",
                self.train.len() - self.train.num_labeled(),
                if self.transfer {
                    "a transfer set"
                } else {
                    "left out"
                }
            );
        }
        Ok(self)
    }

    /// Hides the training labels `config` asks to hide (stratified, seeded with `seed`).
    fn hide_labels(mut self, config: &DataConfig, seed: u64) -> Result<Self> {
        let budget = match (config.labeled_per_class, config.labeled_fraction) {
            (Some(n), _) => LabelBudget::PerClass(n),
            (None, Some(f)) => LabelBudget::Fraction(f),
            (None, None) => return Ok(self),
        };
        let labeled = self.train.labeled_positions();
        let labels: Vec<usize> = labeled
            .iter()
            .map(|&p| self.train.labels_host()[p])
            .collect();
        let keep: Vec<usize> = stratified_labeled(&labels, budget, seed)
            .context("in [data] labeled_per_class / labeled_fraction")?
            .into_iter()
            .map(|i| labeled[i])
            .collect();
        let mut kept = vec![false; self.train.len()];
        for &p in &keep {
            kept[p] = true;
        }
        let hide: Vec<usize> = (0..self.train.len()).filter(|&p| !kept[p]).collect();
        self.labeled_train = Some(self.train.subset(&keep)?);
        self.train = self.train.hide_labels(&hide)?;
        self.transfer = config.unlabeled_rows == UnlabeledRows::Transfer;
        log::info!(
            "labels: {} of {} training rows keep their label; the other {} are {}",
            keep.len(),
            self.train.len(),
            hide.len(),
            if self.transfer {
                "a transfer set (distillation terms only)"
            } else {
                "left out"
            }
        );
        Ok(self)
    }
}

/// Reads and splits the data of `config` (the split is seeded, so the same experiment
/// always gets the same rows in each part), fitting any preprocessing on the training rows.
///
/// The prepared data are checked as [`crate::checks::check_prepared`] says (a binary target
/// with both classes in the test split, non-empty splits, ...), so data that cannot be
/// evaluated are refused before any model trains.
pub fn prepare(config: &DataConfig, seed: u64, device: &Device) -> Result<Prepared> {
    let data = prepare_unchecked(config, seed, device)?;
    crate::checks::check_prepared(&data, config)?;
    Ok(data)
}

fn prepare_unchecked(config: &DataConfig, seed: u64, device: &Device) -> Result<Prepared> {
    match config.source {
        DataSource::Churn => {
            let table = CsvTable::parse(CHURN_CSV).context("reading the embedded churn data")?;
            prepare_table(
                &table,
                "churn (embedded mlc_churn.csv)".into(),
                config,
                seed,
                device,
            )
        }
        DataSource::Csv => {
            let path = config
                .path
                .as_ref()
                .context("[data] source = \"csv\" needs `path`")?;
            let table = match CsvTable::from_path(path) {
                Ok(table) => table,
                // An I/O error names the file already.
                Err(e @ TabularError::Io { .. }) => return Err(e.into()),
                Err(e) => return Err(e).context(format!("reading {}", path.display())),
            };
            prepare_table(&table, path.display().to_string(), config, seed, device)
        }
        DataSource::FashionMnist => prepare_fashion(config, seed, device)?
            .hide_labels(config, seed)?
            .with_synthetic_rows(config, seed),
    }
}

/// Splits and encodes a CSV table as `[data]` says (`target`, `positive`, column choices,
/// fractions, label budgets): the split is stratified and seeded, the preprocessing fitted on
/// the training rows, and the class names and positive class come with the datasets.
///
/// ```no_run
/// use dark_knowledge_data::tabular::CsvTable;
/// use dark_knowledge_experiment::experiment::{DataConfig, DataSource};
/// use dark_knowledge_experiment::prepare::prepare_table;
///
/// # fn main() -> dark_knowledge_experiment::Result<()> {
/// let device = dark_knowledge_core::device_from_name("cpu")?;
/// let table = CsvTable::from_path("customers.csv".as_ref())?;
/// let mut config = DataConfig::new(DataSource::Csv);
/// config.target = Some("churned".into());
/// config.positive = Some("yes".into());
/// let data = prepare_table(&table, "customers".into(), &config, 42, &device)?;
/// println!("{} train rows, classes {:?}", data.train.len(), data.class_names);
/// # Ok(()) }
/// ```
///
/// # Errors
/// No `target`; a target or column the table does not have; values that cannot be encoded.
pub fn prepare_table(
    table: &CsvTable,
    name: String,
    config: &DataConfig,
    seed: u64,
    device: &Device,
) -> Result<Prepared> {
    let target_name = config
        .target
        .as_deref()
        .context("[data] needs `target`, the label column")?;
    let (target, partial) = encode_target(table, target_name, config)?;
    let rows = TableRows::split(&partial, config, seed)?;
    // Preprocessing is fitted on the training rows, unlabelled ones included.
    let mut fit_rows = rows.split.train.clone();
    fit_rows.extend(&rows.unlabeled);
    fit_rows.sort_unstable();
    let encoder = TabularEncoder::fit(table, &fit_rows, &tabular_config(target_name, config))?;
    let all_rows: Vec<usize> = (0..table.len()).collect();
    let features = encoder.encode_rows(table, &all_rows)?;
    let num_classes = target.num_classes();
    let data = Dataset::new(
        features,
        encoder.num_features(),
        rows.labels,
        num_classes,
        device,
    )?;
    let data = if rows.unlabeled.is_empty() {
        data
    } else {
        data.hide_labels(&rows.unlabeled)?
    };
    let mut train_rows = systematic_sample(&rows.split.train, config.max_train_rows);
    train_rows.extend(&rows.unlabeled);
    train_rows.sort_unstable();
    let test_rows = systematic_sample(&rows.split.test, config.max_test_rows);
    let positive_class = match (&target.positive, num_classes) {
        (Some(p), _) => target.index_of(p),
        (None, 2) => Some(1),
        _ => None,
    };
    Prepared {
        name,
        train: data.subset(&train_rows)?,
        valid: data.subset(&rows.split.valid)?,
        test: data.subset(&test_rows)?,
        all: data,
        test_in_all: true,
        class_names: target.classes.clone(),
        positive_class,
        labeled_train: None,
        transfer: false,
        encoder: Some(encoder),
        synthetic_train: None,
    }
    .with_unlabeled_rows(config)?
    .hide_labels(config, seed)?
    .with_synthetic_rows(config, seed)
}

/// The target column's encoding and each row's class, `None` for a row without label
/// (an empty target, allowed by `missing_target_is_unlabeled`).
fn encode_target(
    table: &CsvTable,
    target_name: &str,
    config: &DataConfig,
) -> Result<(TargetEncoding, Vec<Option<usize>>)> {
    let positive = config.positive.as_deref();
    Ok(if config.missing_target_is_unlabeled {
        let target = TargetEncoding::fit_partial(table, target_name, positive)?;
        let partial = target.labels_partial(table)?;
        (target, partial)
    } else {
        let target = TargetEncoding::fit(table, target_name, positive)?;
        let labels = target.labels(table)?;
        (target, labels.into_iter().map(Some).collect())
    })
}

/// The rows of a table by part: the stratified split of the labelled rows, the rows
/// without label (training rows, outside the split), and every row's class (0 when
/// unlabelled).
struct TableRows {
    split: Split,
    unlabeled: Vec<usize>,
    labels: Vec<usize>,
}

impl TableRows {
    /// Splits the labelled rows of `partial` (seeded with `seed`); rows without label take
    /// no part in the split.
    fn split(partial: &[Option<usize>], config: &DataConfig, seed: u64) -> Result<Self> {
        let labeled_rows: Vec<usize> = (0..partial.len())
            .filter(|&r| partial[r].is_some())
            .collect();
        let unlabeled: Vec<usize> = (0..partial.len())
            .filter(|&r| partial[r].is_none())
            .collect();
        let labels: Vec<usize> = partial.iter().map(|l| l.unwrap_or(0)).collect();
        let labeled_labels: Vec<usize> = labeled_rows.iter().map(|&r| labels[r]).collect();
        let mut split = stratified_split(
            &labeled_labels,
            config.valid_fraction,
            config.test_fraction,
            seed,
        )
        .with_context(|| split_context(&labeled_labels, config))?;
        for part in [&mut split.train, &mut split.valid, &mut split.test] {
            part.iter_mut().for_each(|p| *p = labeled_rows[*p]);
        }
        Ok(Self {
            split,
            unlabeled,
            labels,
        })
    }
}

/// What a split that failed was cutting: the labelled rows per class and the fractions.
fn split_context(labels: &[usize], config: &DataConfig) -> String {
    let mut counts: Vec<usize> = Vec::new();
    for &l in labels {
        if counts.len() <= l {
            counts.resize(l + 1, 0);
        }
        counts[l] += 1;
    }
    format!(
        "splitting {} labelled rows ({} per class) with valid_fraction = {} and test_fraction = {} (add rows or raise the fraction of the empty split)",
        labels.len(),
        counts
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" / "),
        config.valid_fraction,
        config.test_fraction
    )
}

/// The tabular preprocessing settings of `[data]`.
fn tabular_config(target_name: &str, config: &DataConfig) -> TabularConfig {
    TabularConfig {
        target: target_name.to_string(),
        positive: config.positive.clone(),
        columns: config.columns.clone(),
    }
}

/// At most `max` of `rows`, spread evenly over them (every k-th row), so a reduced run still
/// covers the whole file rather than its first rows.
fn systematic_sample(rows: &[usize], max: Option<usize>) -> Vec<usize> {
    match max {
        Some(max) if max < rows.len() => {
            let max = max.max(1);
            (0..max).map(|i| rows[i * rows.len() / max]).collect()
        }
        _ => rows.to_vec(),
    }
}

fn prepare_fashion(config: &DataConfig, seed: u64, device: &Device) -> Result<Prepared> {
    let dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| DEFAULT_FASHION_MNIST_DIR.into());
    if !dir.is_dir() {
        bail!(
            "Fashion-MNIST folder {} not found: pass --data-dir DIR (a folder with the four IDX files; on Debian `apt-get install dataset-fashion-mnist` puts them in {DEFAULT_FASHION_MNIST_DIR})",
            dir.display()
        );
    }
    let fm = FashionMnist::load_limited(&dir, config.max_train_rows, config.max_test_rows)?;
    let nf = fm.train.num_features();
    let all = Dataset::new(fm.train.images, nf, fm.train.labels, 10, device)?;
    let split = stratified_split(all.labels_host(), config.valid_fraction, 0.0, seed)?;
    let test = Dataset::new(fm.test.images, nf, fm.test.labels, 10, device)?;
    Ok(Prepared {
        name: format!("fashion-mnist ({})", dir.display()),
        train: all.subset(&split.train)?,
        valid: all.subset(&split.valid)?,
        test,
        all,
        test_in_all: false,
        class_names: FASHION_MNIST_CLASSES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        positive_class: None,
        encoder: None,
        labeled_train: None,
        transfer: false,
        synthetic_train: None,
    })
}

#[cfg(test)]
mod tests {
    use super::systematic_sample;

    #[test]
    fn reduced_runs_sample_rows_evenly() {
        let rows: Vec<usize> = (100..110).collect();
        assert_eq!(
            systematic_sample(&rows, Some(5)),
            vec![100, 102, 104, 106, 108]
        );
        assert_eq!(systematic_sample(&rows, Some(50)), rows);
        assert_eq!(systematic_sample(&rows, None), rows);
        assert_eq!(systematic_sample(&rows, Some(0)), vec![100]);
    }
}
