//! A labelled dataset held as device tensors, batched by index selection on the device.

use burn::tensor::{Device, Int, Tensor, TensorData};
use dark_knowledge_core::error::Error as CoreError;

use crate::error::{Error, Result};

/// A labelled classification dataset kept whole on one device.
///
/// Features are `[len, num_features]` f32, labels `[len]` class indices. Batches are cut by
/// selecting rows on the device, so training never copies features from the host per batch.
/// Every row keeps the id it had in the original data (its row number there), which is what
/// precomputed teacher logits are keyed by.
#[derive(Debug, Clone)]
pub struct Dataset {
    features: Tensor<2>,
    labels: Tensor<1, Int>,
    labels_host: Vec<usize>,
    row_ids: Vec<usize>,
    num_classes: usize,
    /// Per row, whether its label is known; `None` when every row is labelled.
    labeled: Option<Vec<bool>>,
}

/// Checks that a classification task has at least two classes.
pub(crate) fn check_num_classes(num_classes: usize) -> Result<()> {
    if num_classes < 2 {
        return Err(CoreError::InvalidValue {
            name: "num_classes",
            value: num_classes.to_string(),
            allowed: "an integer >= 2",
        }
        .into());
    }
    Ok(())
}

/// The device label of a row whose label is unknown (a transfer-set row).
pub const UNLABELED: i64 = -1;

/// One batch: inputs (float rows `[batch_size, num_features]` by default, or a model's own
/// input type), targets and the dataset row ids of its rows.
#[derive(Debug, Clone)]
pub struct Batch<I = Tensor<2>> {
    /// The model's inputs for these rows.
    pub inputs: I,
    /// `[batch_size]` class indices, [`UNLABELED`] for a row without label.
    pub targets: Tensor<1, Int>,
    /// The original row id of each row (what teacher caches are keyed by).
    pub rows: Vec<usize>,
    /// How many of the rows have a label.
    pub labeled: usize,
}

impl Dataset {
    /// Builds a dataset from row-major features and class labels, on `device`.
    ///
    /// # Errors
    /// [`Error::Empty`] without rows; [`Error::NonFinite`] for a NaN or infinite feature;
    /// [`Error::LabelOutOfRange`] for a label `>= num_classes`; a shape error when
    /// `features.len()` is not `labels.len() * num_features`; an invalid-value error for
    /// fewer than 2 classes or 0 features.
    pub fn new(
        features: Vec<f32>,
        num_features: usize,
        labels: Vec<usize>,
        num_classes: usize,
        device: &Device,
    ) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::Empty { what: "dataset" });
        }
        if num_features == 0 {
            return Err(CoreError::InvalidValue {
                name: "num_features",
                value: "0".into(),
                allowed: "an integer >= 1",
            }
            .into());
        }
        check_num_classes(num_classes)?;
        let len = labels.len();
        if features.len() != len * num_features {
            return Err(CoreError::ShapeMismatch {
                what: "dataset features",
                expected: format!(
                    "{len} rows x {num_features} features = {} values",
                    len * num_features
                ),
                got: format!("{} values", features.len()),
            }
            .into());
        }
        if let Some(i) = features.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                row: i / num_features,
                column: i % num_features,
                value: features[i],
            });
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= num_classes) {
            return Err(Error::LabelOutOfRange {
                row,
                label,
                num_classes,
            });
        }
        let labels_i64: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        Ok(Self {
            features: Tensor::from_data(TensorData::new(features, [len, num_features]), device),
            labels: Tensor::from_data(TensorData::new(labels_i64, [len]), device),
            labels_host: labels,
            row_ids: (0..len).collect(),
            num_classes,
            labeled: None,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels_host.len()
    }

    /// Whether the dataset has no rows (never true for a constructed dataset).
    pub fn is_empty(&self) -> bool {
        self.labels_host.is_empty()
    }

    /// Number of features per row.
    pub fn num_features(&self) -> usize {
        self.features.dims()[1]
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All features, `[len, num_features]`.
    pub fn features(&self) -> &Tensor<2> {
        &self.features
    }

    /// All labels on the device, `[len]`; [`UNLABELED`] (−1) for a row without label.
    pub fn labels(&self) -> &Tensor<1, Int> {
        &self.labels
    }

    /// All labels on the host. A row without label holds 0 here: check
    /// [`Dataset::is_labeled`] on partially labelled data.
    pub fn labels_host(&self) -> &[usize] {
        &self.labels_host
    }

    /// Whether the row at `position` has a label.
    pub fn is_labeled(&self, position: usize) -> bool {
        self.labeled.as_ref().is_none_or(|l| l[position])
    }

    /// Number of rows with a label.
    pub fn num_labeled(&self) -> usize {
        match &self.labeled {
            None => self.len(),
            Some(l) => l.iter().filter(|&&b| b).count(),
        }
    }

    /// Whether some rows have no label.
    pub fn is_partially_labeled(&self) -> bool {
        self.num_labeled() < self.len()
    }

    /// Positions of the rows with a label, in order.
    pub fn labeled_positions(&self) -> Vec<usize> {
        (0..self.len()).filter(|&p| self.is_labeled(p)).collect()
    }

    /// The same rows with the labels at `positions` removed: those rows become transfer-set
    /// rows, which a student learns from through the distillation terms only. The hidden
    /// labels are dropped from the device and the host alike.
    ///
    /// # Errors
    /// A position out of range.
    pub fn hide_labels(&self, positions: &[usize]) -> Result<Self> {
        let mut labeled = self
            .labeled
            .clone()
            .unwrap_or_else(|| vec![true; self.len()]);
        let mut host = self.labels_host.clone();
        for &p in positions {
            if p >= self.len() {
                return Err(CoreError::InvalidValue {
                    name: "position of a label to hide",
                    value: p.to_string(),
                    allowed: "a row position below the dataset length",
                }
                .into());
            }
            labeled[p] = false;
            host[p] = 0;
        }
        let device_labels: Vec<i64> = host
            .iter()
            .zip(&labeled)
            .map(|(&l, &k)| if k { l as i64 } else { UNLABELED })
            .collect();
        let n = device_labels.len();
        Ok(Self {
            labels: Tensor::from_data(TensorData::new(device_labels, [n]), &self.device()),
            labels_host: host,
            labeled: Some(labeled),
            ..self.clone()
        })
    }

    /// The original row id of each row.
    pub fn row_ids(&self) -> &[usize] {
        &self.row_ids
    }

    /// The device the dataset lives on.
    pub fn device(&self) -> Device {
        self.features.device()
    }

    /// The rows at `positions` (0-based positions in this dataset), as a batch.
    ///
    /// # Panics
    /// If a position is out of range (an internal invariant: callers pass positions they
    /// drew from `0..len`).
    pub fn batch(&self, positions: &[usize]) -> Batch {
        let device = self.device();
        let idx: Vec<i64> = positions.iter().map(|&p| p as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(idx, [positions.len()]), &device);
        Batch {
            inputs: self.features.clone().select(0, index.clone()),
            targets: self.labels.clone().select(0, index),
            rows: positions.iter().map(|&p| self.row_ids[p]).collect(),
            labeled: self.count_labeled(positions.iter().copied()),
        }
    }

    /// A consecutive range of rows as a batch (a cheap slice, no index tensor).
    pub fn range(&self, start: usize, end: usize) -> Batch {
        Batch {
            inputs: self.features.clone().narrow(0, start, end - start),
            targets: self.labels.clone().narrow(0, start, end - start),
            rows: self.row_ids[start..end].to_vec(),
            labeled: self.count_labeled(start..end),
        }
    }

    fn count_labeled(&self, positions: impl ExactSizeIterator<Item = usize>) -> usize {
        match &self.labeled {
            None => positions.len(),
            Some(known) => positions.filter(|&p| known[p]).count(),
        }
    }

    /// The rows at `positions` as a new dataset; row ids are preserved.
    ///
    /// # Errors
    /// [`Error::Empty`] for no positions.
    pub fn subset(&self, positions: &[usize]) -> Result<Self> {
        if positions.is_empty() {
            return Err(Error::Empty { what: "subset" });
        }
        let batch = self.batch(positions);
        Ok(Self {
            features: batch.inputs,
            labels: batch.targets,
            labels_host: positions.iter().map(|&p| self.labels_host[p]).collect(),
            row_ids: batch.rows,
            num_classes: self.num_classes,
            labeled: self
                .labeled
                .as_ref()
                .map(|l| positions.iter().map(|&p| l[p]).collect()),
        })
    }

    /// The mean and the (population) standard deviation of every feature value together,
    /// as the usual pixel standardisation of image data computes them.
    pub fn feature_mean_std(&self) -> (f64, f64) {
        let n = (self.len() * self.num_features()) as f64;
        let mean = f64::from(self.features.clone().sum().into_scalar::<f32>()) / n;
        let centered = self.features.clone().sub_scalar(mean);
        let var = f64::from((centered.clone() * centered).sum().into_scalar::<f32>()) / n;
        (mean, var.sqrt())
    }

    /// The same rows with every feature value mapped to `(x − mean) / std`.
    ///
    /// # Errors
    /// A `std` that is not a finite number > 0, or a `mean` that is not finite.
    pub fn standardized(&self, mean: f64, std: f64) -> Result<Self> {
        dark_knowledge_core::error::check_positive("std", std)?;
        if !mean.is_finite() {
            return Err(CoreError::InvalidValue {
                name: "mean",
                value: mean.to_string(),
                allowed: "a finite number",
            }
            .into());
        }
        Ok(Self {
            features: self.features.clone().sub_scalar(mean).div_scalar(std),
            ..self.clone()
        })
    }

    /// The same dataset on another device.
    pub fn to_device(&self, device: &Device) -> Self {
        Self {
            features: self.features.clone().to_device(device),
            labels: self.labels.clone().to_device(device),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dark_knowledge_core::tensor_util::{to_vec_f32, to_vec_i64};

    fn tiny() -> Dataset {
        let f = vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        Dataset::new(f, 2, vec![0, 1, 2], 3, &Device::flex()).unwrap()
    }

    #[test]
    fn batches_select_rows_and_keep_row_ids() {
        let ds = tiny();
        let b = ds.batch(&[2, 0]);
        assert_eq!(to_vec_f32(b.inputs), vec![4.0, 5.0, 0.0, 1.0]);
        assert_eq!(to_vec_i64(b.targets), vec![2, 0]);
        assert_eq!(b.rows, vec![2, 0]);
        let sub = ds.subset(&[2, 1]).unwrap();
        assert_eq!(sub.batch(&[1]).rows, vec![1]);
        assert_eq!(sub.range(0, 1).rows, vec![2]);
    }

    #[test]
    fn hidden_labels_are_gone_from_device_and_host_and_survive_subsets() {
        let ds = tiny().hide_labels(&[1]).unwrap();
        assert_eq!(to_vec_i64(ds.labels().clone()), vec![0, UNLABELED, 2]);
        assert_eq!(ds.labels_host(), &[0, 0, 2]);
        assert_eq!((ds.num_labeled(), ds.is_partially_labeled()), (2, true));
        assert_eq!(ds.labeled_positions(), vec![0, 2]);
        let sub = ds.subset(&[1, 2]).unwrap();
        assert!(!sub.is_labeled(0) && sub.is_labeled(1));
        let labeled = ds.subset(&ds.labeled_positions()).unwrap();
        assert!(!labeled.is_partially_labeled());
        assert!(tiny().hide_labels(&[3]).is_err());
        assert!(!tiny().is_partially_labeled());
    }

    #[test]
    fn standardisation_uses_one_mean_and_std_over_every_value() {
        // Features 0..6: mean 2.5, population variance 17.5 / 6.
        let ds = tiny();
        let (m, s) = ds.feature_mean_std();
        assert!((m - 2.5).abs() < 1e-6 && (s - (17.5f64 / 6.0).sqrt()).abs() < 1e-6);
        let z = ds.standardized(m, s).unwrap();
        let v = to_vec_f32(z.features().clone());
        assert!((v[0] as f64 + 2.5 / s).abs() < 1e-5 && (v[5] as f64 - 2.5 / s).abs() < 1e-5);
        let (m2, s2) = z.feature_mean_std();
        assert!(m2.abs() < 1e-5 && (s2 - 1.0).abs() < 1e-5);
        assert!(ds.standardized(0.0, 0.0).is_err());
        assert!(ds.standardized(f64::NAN, 1.0).is_err());
    }

    #[test]
    fn bad_inputs_are_errors_naming_the_problem() {
        let d = Device::flex();
        let e = Dataset::new(vec![0.0, f32::NAN], 1, vec![0, 1], 2, &d).unwrap_err();
        assert!(e.to_string().contains("row 1, column 0"), "{e}");
        let e = Dataset::new(vec![0.0, 1.0], 1, vec![0, 5], 2, &d).unwrap_err();
        assert!(e.to_string().contains("label 5 at row 1"), "{e}");
        let e = Dataset::new(vec![0.0, 1.0, 2.0], 2, vec![0, 1], 2, &d).unwrap_err();
        assert!(e.to_string().contains("4 values"), "{e}");
        assert!(Dataset::new(vec![], 1, vec![], 2, &d).is_err());
    }
}
