//! Grouping patterns into training samples (physics.md §2): gridsize 1 takes each seed pattern
//! alone; gridsize g > 1 takes g² of the seed's nearest neighbours (k-d tree), seeded.

use std::num::NonZero;
use std::ops::Range;

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use ndarray::{Array2, Array3, Array4, Axis, s};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

use super::{Dataset, DatasetError};

/// How to group patterns.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupingConfig {
    /// Number of groups to draw (all patterns when ≥ M).
    pub n_groups: usize,
    /// K: neighbours considered around each seed (gridsize > 1).
    pub neighbor_count: usize,
    /// g: a group has g² patterns.
    pub gridsize: usize,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        Self {
            n_groups: 512,
            neighbor_count: 4,
            gridsize: 1,
            seed: 42,
        }
    }
}

/// Groups of patterns. Channel c of a group sits at grid (row c / g, column c mod g).
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    /// g.
    pub gridsize: usize,
    /// `[n_groups, c]` pattern index of each channel.
    pub indices: Array2<usize>,
    /// `[n_groups, c, 2]` positions `[x, y]` (object pixels).
    pub coords: Array3<f64>,
    /// `[n_groups, 2]` mean position of each group.
    pub offsets: Array2<f64>,
    /// `[n_groups, c, 2]` = −(coords − offsets).
    pub coords_relative: Array3<f64>,
}

impl Groups {
    /// Groups the patterns of `dataset` as `config` says.
    pub fn build(dataset: &Dataset, config: &GroupingConfig) -> Result<Self, DatasetError> {
        let positions = dataset.positions_px();
        let m = positions.len();
        let g = config.gridsize;
        if g == 0 {
            return Err(DatasetError::Grouping("gridsize must be at least 1".into()));
        }
        let c = g * g;
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let n_groups = config.n_groups.min(m);
        if n_groups == 0 {
            return Err(DatasetError::Grouping("n_groups must be at least 1".into()));
        }
        let seeds = sample(&mut rng, m, n_groups).into_vec();
        let mut indices = Array2::<usize>::zeros((n_groups, c));
        if g == 1 {
            indices.column_mut(0).assign(&ndarray::Array1::from(seeds));
        } else {
            let k = config.neighbor_count;
            if k < c {
                return Err(DatasetError::Grouping(format!(
                    "neighbor_count {k} is smaller than the {c} patterns of a gridsize-{g} group"
                )));
            }
            if m < k + 1 {
                return Err(DatasetError::Grouping(format!(
                    "{m} patterns are too few for {k} neighbours plus the seed"
                )));
            }
            let tree: ImmutableKdTree<f64, 2> = ImmutableKdTree::new_from_slice(positions);
            let want = NonZero::new(k + 1).unwrap_or(NonZero::<usize>::MIN);
            for (row, &seed) in seeds.iter().enumerate() {
                let mut near: Vec<usize> = tree
                    .nearest_n::<SquaredEuclidean>(&positions[seed], want)
                    .into_iter()
                    .map(|nn| nn.item as usize)
                    .filter(|&i| i != seed)
                    .collect();
                near.truncate(k);
                for (col, pick) in sample(&mut rng, near.len(), c).into_iter().enumerate() {
                    indices[[row, col]] = near[pick];
                }
            }
        }
        let coords =
            Array3::from_shape_fn((n_groups, c, 2), |(i, j, d)| positions[indices[[i, j]]][d]);
        let offsets = coords
            .mean_axis(Axis(1))
            .unwrap_or_else(|| Array2::zeros((n_groups, 2)));
        let mut coords_relative = coords.clone();
        for (mut group, offset) in coords_relative.outer_iter_mut().zip(offsets.outer_iter()) {
            for mut channel in group.outer_iter_mut() {
                channel.zip_mut_with(&offset, |v, &o| *v = -(*v - o));
            }
        }
        Ok(Self {
            gridsize: g,
            indices,
            coords,
            offsets,
            coords_relative,
        })
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.indices.nrows()
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Channels per group, g².
    pub fn channels(&self) -> usize {
        self.indices.ncols()
    }

    /// The diffraction of groups `range`, `[b, c, n, n]`, unnormalised.
    pub fn diffraction(
        &self,
        dataset: &Dataset,
        range: Range<usize>,
    ) -> Result<Array4<f32>, DatasetError> {
        let rows: Vec<usize> = range.collect();
        self.diffraction_rows(dataset, &rows)
    }

    /// The diffraction of the groups `rows` (in that order), `[rows.len(), c, n, n]`, unnormalised.
    /// Patterns come from memory, or are read from the spill file as needed.
    pub fn diffraction_rows(
        &self,
        dataset: &Dataset,
        rows: &[usize],
    ) -> Result<Array4<f32>, DatasetError> {
        let n = dataset.n();
        let c = self.channels();
        let mut out = Array4::<f32>::zeros((rows.len(), c, n, n));
        for (b, &row) in rows.iter().enumerate() {
            for ch in 0..c {
                out.slice_mut(s![b, ch, .., ..])
                    .assign(&dataset.pattern(self.indices[[row, ch]])?);
            }
        }
        Ok(out)
    }

    /// `coords_relative` of the groups `rows`, one `[x, y]` per channel (`rows.len() · c`).
    pub fn coords_relative_rows(&self, rows: &[usize]) -> Vec<[f64; 2]> {
        rows.iter()
            .flat_map(|&row| {
                (0..self.channels()).map(move |ch| {
                    [
                        self.coords_relative[[row, ch, 0]],
                        self.coords_relative[[row, ch, 1]],
                    ]
                })
            })
            .collect()
    }

    /// The normalisation factor over all channels of all groups (physics.md §2, step 4).
    pub fn normalization_factor(&self, dataset: &Dataset) -> Option<f64> {
        let energies = dataset.frames().energies();
        super::normalize::factor_from_energies(
            dataset.n(),
            self.indices.iter().map(|&i| energies[i]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetParts;
    use num_complex::Complex32;

    fn raster(side: usize) -> Dataset {
        let m = side * side;
        Dataset::new(DatasetParts {
            diffraction: Array3::from_shape_fn((m, 64, 64), |(i, _, _)| i as f32),
            positions_px: (0..m)
                .map(|i| [(i % side) as f64 * 5.0, (i / side) as f64 * 5.0])
                .collect(),
            probe: Array2::from_elem((64, 64), Complex32::new(1.0, 0.0)),
            object: None,
            scan_index: None,
        })
        .unwrap()
    }

    #[test]
    fn gridsize_one_takes_distinct_seeds() {
        let ds = raster(10);
        let cfg = GroupingConfig {
            n_groups: 30,
            ..Default::default()
        };
        let g = Groups::build(&ds, &cfg).unwrap();
        assert_eq!((g.len(), g.channels()), (30, 1));
        let mut seen: Vec<_> = g.indices.iter().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 30);
        assert!(g.coords_relative.iter().all(|&v| v == 0.0));
        assert_eq!(Groups::build(&ds, &cfg).unwrap(), g, "seeded");
        let all = Groups::build(
            &ds,
            &GroupingConfig {
                n_groups: 1000,
                ..cfg
            },
        )
        .unwrap();
        assert_eq!(all.len(), 100);
    }

    #[test]
    fn gridsize_two_takes_near_neighbours_with_the_reference_sign() {
        let ds = raster(12);
        let cfg = GroupingConfig {
            n_groups: 50,
            gridsize: 2,
            neighbor_count: 6,
            seed: 3,
        };
        let g = Groups::build(&ds, &cfg).unwrap();
        assert_eq!(g.channels(), 4);
        for i in 0..g.len() {
            let mut idx: Vec<_> = g.indices.row(i).to_vec();
            idx.sort_unstable();
            idx.dedup();
            assert_eq!(idx.len(), 4, "channels are distinct");
            for c in 0..4 {
                for d in 0..2 {
                    let rel = g.coords_relative[[i, c, d]];
                    assert!((rel + (g.coords[[i, c, d]] - g.offsets[[i, d]])).abs() < 1e-12);
                    // the 6 nearest neighbours on a 5-px raster are within 2 steps
                    assert!(rel.abs() <= 10.0);
                }
            }
        }
        let batch = g.diffraction(&ds, 2..4).unwrap();
        assert_eq!(batch.dim(), (2, 4, 64, 64));
        assert_eq!(batch[[1, 2, 0, 0]], g.indices[[3, 2]] as f32);
        let too_few = GroupingConfig {
            neighbor_count: 3,
            ..cfg
        };
        assert!(Groups::build(&ds, &too_few).is_err());
    }
}
