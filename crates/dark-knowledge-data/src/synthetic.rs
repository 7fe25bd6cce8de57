//! Synthetic classification tasks for tests, examples and benchmarks.

use burn::tensor::Device;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::dataset::Dataset;
use crate::error::Result;

/// A Gaussian-mixture task: each class is a mixture of `clusters_per_class` spherical
/// clusters with random centres. With two or more clusters per class the classes are not
/// linearly separable, so a hidden layer matters.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureConfig {
    /// Number of rows.
    pub num_samples: usize,
    /// Number of features.
    pub num_features: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// Clusters per class.
    pub clusters_per_class: usize,
    /// Standard deviation of each cluster (centres are drawn uniformly in `[-3, 3]`).
    pub cluster_std: f32,
    /// Seed of the generator: the same seed gives the same data.
    pub seed: u64,
}

impl Default for GaussianMixtureConfig {
    fn default() -> Self {
        Self {
            num_samples: 2000,
            num_features: 10,
            num_classes: 4,
            clusters_per_class: 2,
            cluster_std: 1.0,
            seed: 0,
        }
    }
}

impl GaussianMixtureConfig {
    /// `num_samples` rows of `num_features` features in `num_classes` classes, one cluster
    /// per class of standard deviation 1, from seed 0.
    pub fn new(num_samples: usize, num_features: usize, num_classes: usize) -> Self {
        Self {
            num_samples,
            num_features,
            num_classes,
            clusters_per_class: 1,
            cluster_std: 1.0,
            seed: 0,
        }
    }

    /// The same mixture drawn from `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Generates row-major features and labels.
    pub fn generate(&self) -> (Vec<f32>, Vec<usize>) {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let n_clusters = self.num_classes * self.clusters_per_class.max(1);
        let centres: Vec<Vec<f32>> = (0..n_clusters)
            .map(|_| {
                (0..self.num_features)
                    .map(|_| rng.random_range(-3.0f32..3.0))
                    .collect()
            })
            .collect();
        let mut features = Vec::with_capacity(self.num_samples * self.num_features);
        let mut labels = Vec::with_capacity(self.num_samples);
        for i in 0..self.num_samples {
            let cluster = i % n_clusters;
            labels.push(cluster % self.num_classes);
            for &c in &centres[cluster] {
                features.push(c + self.cluster_std * standard_normal(&mut rng));
            }
        }
        (features, labels)
    }

    /// Generates the task as a [`Dataset`] on `device`.
    ///
    /// # Errors
    /// As [`Dataset::new`] (e.g. fewer than 2 classes).
    pub fn dataset(&self, device: &Device) -> Result<Dataset> {
        let (features, labels) = self.generate();
        Dataset::new(
            features,
            self.num_features,
            labels,
            self.num_classes,
            device,
        )
    }
}

/// A standard normal draw (Box–Muller).
pub(crate) fn standard_normal(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0f32..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let config = GaussianMixtureConfig::default();
        assert_eq!(config.generate(), config.generate());
        let other = GaussianMixtureConfig {
            seed: 1,
            ..config.clone()
        };
        assert_ne!(config.generate().0, other.generate().0);
        let (f, l) = config.generate();
        assert_eq!(f.len(), 2000 * 10);
        assert_eq!(
            (0..4)
                .map(|c| l.iter().filter(|&&x| x == c).count())
                .collect::<Vec<_>>(),
            vec![500; 4]
        );
    }
}
