//! Float rows as burn items: a burn `Dataset` over a host copy of a [`Dataset`]'s rows and a
//! burn `Batcher` that stacks them into a [`LabeledBatch`], for burn's `DataLoaderBuilder`
//! (and so for burn-train's `Learner`).

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::{Dataset as BurnDataset, DatasetError};
use burn::tensor::{Device, Tensor, TensorData};
use dark_knowledge_core::error::Error as CoreError;
use dark_knowledge_core::tensor_util::to_vec_f32;

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::loader::LabeledBatch;

/// One labelled row: its feature values and its class.
#[derive(Debug, Clone, PartialEq)]
pub struct RowItem {
    /// The feature values, `num_features` of them.
    pub features: Vec<f32>,
    /// The class index.
    pub label: usize,
}

/// The rows of a [`Dataset`] copied to the host once, as a burn dataset of [`RowItem`]s.
///
/// Unlike burn's `InMemDataset`, [`get`](BurnDataset::get) never panics: an index beyond the
/// rows is an `Err`.
#[derive(Debug, Clone)]
pub struct RowItems {
    features: Arc<[f32]>,
    labels: Arc<[usize]>,
    num_features: usize,
}

impl RowItems {
    /// The rows of `data`, in order.
    ///
    /// # Errors
    /// [`CoreError::InvalidValue`] when some rows have no label (a burn batch has one class
    /// per row).
    pub fn from_dataset(data: &Dataset) -> Result<Self> {
        if data.is_partially_labeled() {
            return Err(CoreError::InvalidValue {
                name: "rows for a burn data loader",
                value: format!(
                    "{} of {} rows without label",
                    data.len() - data.num_labeled(),
                    data.len()
                ),
                allowed: "labelled rows only",
            }
            .into());
        }
        Ok(Self {
            features: to_vec_f32(data.features().clone()).into(),
            labels: data.labels_host().into(),
            num_features: data.num_features(),
        })
    }

    /// The number of feature values per row.
    pub fn num_features(&self) -> usize {
        self.num_features
    }
}

impl BurnDataset<RowItem> for RowItems {
    fn get(&self, index: usize) -> std::result::Result<RowItem, DatasetError> {
        let len = self.labels.len();
        if index >= len {
            return Err(DatasetError::new(Error::RowOutOfRange { row: index, len }));
        }
        let d = self.num_features;
        Ok(RowItem {
            features: self.features[index * d..(index + 1) * d].to_vec(),
            label: self.labels[index],
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Stacks [`RowItem`]s into a [`LabeledBatch`] of float rows `[batch_size, num_features]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowBatcher {
    num_features: usize,
}

impl RowBatcher {
    /// A batcher for rows of `num_features` values.
    pub fn new(num_features: usize) -> Self {
        Self { num_features }
    }
}

impl Batcher<RowItem, LabeledBatch<Tensor<2>>> for RowBatcher {
    /// # Panics
    /// If an item does not hold `num_features` values (an internal invariant: the items come
    /// from one [`RowItems`]).
    fn batch(&self, items: Vec<RowItem>, device: &Device) -> LabeledBatch<Tensor<2>> {
        let n = items.len();
        let mut features = Vec::with_capacity(n * self.num_features);
        let mut labels = Vec::with_capacity(n);
        for item in items {
            assert_eq!(item.features.len(), self.num_features, "row width");
            features.extend_from_slice(&item.features);
            labels.push(item.label as i64);
        }
        LabeledBatch {
            inputs: Tensor::from_data(TensorData::new(features, [n, self.num_features]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use dark_knowledge_core::tensor_util::to_vec_i64;

    use super::*;

    fn data() -> Dataset {
        let features = vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        Dataset::new(features, 2, vec![1, 0, 1], 2, &Device::flex()).unwrap()
    }

    #[test]
    fn items_and_batches_hold_the_dataset_rows_in_order() {
        let items = RowItems::from_dataset(&data()).unwrap();
        assert_eq!(items.len(), 3);
        let row = items.get(2).unwrap();
        assert_eq!(
            row,
            RowItem {
                features: vec![4.0, 5.0],
                label: 1
            }
        );
        assert!(
            items.get(3).is_err(),
            "out of range is an error, not a panic"
        );
        let batch = RowBatcher::new(2).batch(
            vec![items.get(1).unwrap(), items.get(0).unwrap()],
            &Device::flex(),
        );
        assert_eq!(to_vec_f32(batch.inputs), vec![2.0, 3.0, 0.0, 1.0]);
        assert_eq!(to_vec_i64(batch.targets), vec![0, 1]);
    }

    #[test]
    fn partially_labelled_data_is_refused() {
        let partial = data().hide_labels(&[1]).unwrap();
        let err = RowItems::from_dataset(&partial).unwrap_err().to_string();
        assert!(err.contains("1 of 3 rows without label"), "{err}");
    }
}
