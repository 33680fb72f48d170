//! The groups a run trains and validates on, normalised, with the constant lnΓ(k + 1) term of
//! each pattern precomputed for reporting the full negative log-likelihood.

use ndarray::Array4;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::config::TrainConfig;
use super::error::TrainError;
use crate::data::grouping::Groups;
use crate::data::{Dataset, DatasetError};
use crate::physics::forward::intensity_scale;
use crate::physics::loss::deviance_offset;

/// Some groups of one dataset with its normalisation.
#[derive(Debug)]
pub struct GroupSet<'a> {
    /// The dataset the groups index.
    pub dataset: &'a Dataset,
    /// All groups drawn from it.
    pub groups: Groups,
    /// The groups of this set (rows of `groups`).
    pub rows: Vec<usize>,
    /// The dataset's normalisation factor (physics.md §2).
    pub factor: f64,
    /// Per pattern of `dataset`: mean over pixels of [`deviance_offset`] (k = (s · X)²), which
    /// turns the training loss into the full negative log-likelihood per pixel.
    offsets: Vec<f64>,
}

impl<'a> GroupSet<'a> {
    fn new(
        dataset: &'a Dataset,
        groups: Groups,
        rows: Vec<usize>,
        factor: f64,
        scale: f64,
    ) -> Result<Self, DatasetError> {
        let mut used = vec![false; dataset.len()];
        for &r in &rows {
            for &i in groups.indices.row(r) {
                used[i] = true;
            }
        }
        let scale2 = (scale * factor).powi(2);
        let offsets = (0..dataset.len())
            .into_par_iter()
            .map(|i| {
                if !used[i] {
                    return Ok(0.0);
                }
                let pattern = dataset.pattern(i)?;
                let sum: f64 = pattern
                    .iter()
                    .map(|&x| deviance_offset(scale2 * f64::from(x) * f64::from(x)))
                    .sum();
                Ok(sum / pattern.len().max(1) as f64)
            })
            .collect::<Result<_, DatasetError>>()?;
        Ok(Self {
            dataset,
            groups,
            rows,
            factor,
            offsets,
        })
    }

    /// Normalised network inputs of `rows`, `[b, c, n, n]` (read from the spill file when the
    /// scan is on disk).
    pub fn inputs(&self, rows: &[usize]) -> Result<Array4<f32>, DatasetError> {
        let mut x = self.groups.diffraction_rows(self.dataset, rows)?;
        let factor = self.factor as f32;
        x.mapv_inplace(|v| v * factor);
        Ok(x)
    }

    /// The relative coordinates (physics.md §2: −(position − the group's mean position)) of
    /// `rows`, `b·c` entries `[x, y]`, computed from `positions` (one per pattern of the
    /// dataset, e.g. refined ones) instead of the dataset's.
    pub fn coords_relative_at(&self, rows: &[usize], positions: &[[f64; 2]]) -> Vec<[f64; 2]> {
        let mut out = Vec::with_capacity(rows.len() * self.groups.channels());
        for &r in rows {
            let members = self.groups.indices.row(r);
            let count = members.len().max(1) as f64;
            let mean = members.iter().fold([0.0, 0.0], |m, &i| {
                [
                    m[0] + positions[i][0] / count,
                    m[1] + positions[i][1] / count,
                ]
            });
            out.extend(
                members
                    .iter()
                    .map(|&i| [mean[0] - positions[i][0], mean[1] - positions[i][1]]),
            );
        }
        out
    }

    /// Mean [`deviance_offset`] per pixel over the groups `rows`.
    pub fn offset_mean(&self, rows: &[usize]) -> f64 {
        let mut total = 0.0;
        let mut count = 0usize;
        for &r in rows {
            for &i in self.groups.indices.row(r) {
                total += self.offsets[i];
                count += 1;
            }
        }
        if count == 0 {
            0.0
        } else {
            total / count as f64
        }
    }
}

/// Training and validation groups.
#[derive(Debug)]
pub struct Splits<'a> {
    /// Training groups.
    pub train: GroupSet<'a>,
    /// Validation groups (possibly none).
    pub validation: GroupSet<'a>,
    /// Where the validation groups come from, for the log.
    pub validation_source: String,
}

impl<'a> Splits<'a> {
    /// Groups the training data and either holds out `validation_fraction` of the groups or
    /// groups the test data for validation.
    pub fn build(
        train: &'a Dataset,
        test: Option<&'a Dataset>,
        config: &TrainConfig,
    ) -> Result<Self, TrainError> {
        let scale = intensity_scale(config.nphotons, config.n);
        let groups = Groups::build(train, &config.grouping())?;
        let factor = groups
            .normalization_factor(train)
            .ok_or_else(|| DatasetError::Grouping("every training pattern is zero".into()))?;
        let mut rows: Vec<usize> = (0..groups.len()).collect();
        if let Some(test) = test {
            if test.n() != train.n() {
                return Err(TrainError::Mismatch(format!(
                    "the test data have N = {}, the training data N = {}",
                    test.n(),
                    train.n()
                )));
            }
            let test_groups = Groups::build(test, &config.grouping())?;
            let test_factor = test_groups
                .normalization_factor(test)
                .ok_or_else(|| DatasetError::Grouping("every test pattern is zero".into()))?;
            let test_rows = (0..test_groups.len()).collect();
            return Ok(Self {
                train: GroupSet::new(train, groups, rows, factor, scale)?,
                validation: GroupSet::new(test, test_groups, test_rows, test_factor, scale)?,
                validation_source: "the test file".into(),
            });
        }
        let n_val = if config.validation_fraction > 0.0 && rows.len() >= 2 {
            ((rows.len() as f64 * config.validation_fraction).round() as usize)
                .clamp(1, rows.len() - 1)
        } else {
            0
        };
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(0x5EED));
        rows.shuffle(&mut rng);
        let val_rows = rows.split_off(rows.len() - n_val);
        let train_set = GroupSet::new(train, groups.clone(), rows, factor, scale)?;
        Ok(Self {
            validation: GroupSet::new(train, groups, val_rows, factor, scale)?,
            train: train_set,
            validation_source: format!(
                "{:.0} % of the training groups",
                config.validation_fraction * 100.0
            ),
        })
    }
}
