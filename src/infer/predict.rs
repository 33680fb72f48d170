//! Running a network over a scan (physics.md §6): groups are streamed to the device one batch at
//! a time, the predicted patches come back to the host and are stitched as they arrive, so a
//! 10 000-pattern file never has to fit on the device at once and a viewer can show the object
//! filling in.

use std::time::Instant;

use burn::prelude::*;
use ndarray::{Array2, Array4, s};
use num_complex::Complex32;

use super::stitch::{StitchWeights, Stitcher};
use crate::data::grouping::{GroupingConfig, Groups};
use crate::data::{Dataset, DatasetError};
use crate::model::PinnNet;

/// How to run inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferOptions {
    /// Groups per forward pass.
    pub batch_size: usize,
    /// g of the model.
    pub gridsize: usize,
    /// K of the grouping (gridsize > 1).
    pub neighbor_count: usize,
    /// Seed of the grouping (gridsize > 1).
    pub seed: u64,
    /// Stitch only the central M × M of each patch with unit weights (the reference's stitch);
    /// `None`: weight each patch by the probe's intensity (see [`StitchWeights`]).
    pub crop: Option<usize>,
    /// Resolve each patch's twin and global phase against its overlapping neighbours before
    /// the final stitch (see [`super::overlap`]). Off by default: on the network's patches of
    /// the reference's test scan it lowered the phase Pearson (docs/quality.md).
    pub overlap_pass: bool,
}

impl Default for InferOptions {
    fn default() -> Self {
        Self {
            batch_size: 64,
            gridsize: 1,
            neighbor_count: 4,
            seed: 42,
            crop: None,
            overlap_pass: false,
        }
    }
}

/// Errors running inference.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The data do not fit the model.
    #[error("the scan has N = {found}, the model was trained for N = {expected}")]
    PatternSize {
        /// The scan's N.
        found: usize,
        /// The model's N.
        expected: usize,
    },
    /// Grouping failed.
    #[error(transparent)]
    Data(#[from] DatasetError),
    /// All patterns are zero.
    #[error("every diffraction pattern is zero: nothing to normalise")]
    EmptyData,
    /// Reading results back from the device failed.
    #[error("reading the prediction from the device failed: {0}")]
    Device(String),
}

/// A stitched object.
#[derive(Debug, Clone)]
pub struct Stitched {
    /// `[h, w]` the object.
    pub object: Array2<Complex32>,
    /// Object coordinates `[x, y]` of pixel (0, 0).
    pub origin_px: [f64; 2],
    /// Patterns that went through the network.
    pub patterns: usize,
    /// Wall-clock seconds (network and stitching).
    pub duration_secs: f64,
    /// True when the callback stopped it early.
    pub stopped: bool,
    /// Patches the overlap pass replaced by their twin.
    pub twins: usize,
}

/// Copies a host array to a tensor on `device`.
pub fn to_tensor(x: &Array4<f32>, device: &Device) -> Tensor<4> {
    let dims = x.dim();
    let values: Vec<f32> = x.iter().copied().collect();
    Tensor::from_data(
        TensorData::new(values, [dims.0, dims.1, dims.2, dims.3]),
        device,
    )
}

/// Reads a tensor back to the host.
pub fn to_host(t: Tensor<4>) -> Result<Array4<f32>, InferError> {
    let [b, c, h, w] = t.dims();
    let values = t
        .try_into_vec_as::<f32>()
        .map_err(|e| InferError::Device(format!("{e:?}")))?;
    Array4::from_shape_vec((b, c, h, w), values).map_err(|e| InferError::Device(e.to_string()))
}

/// The network's object patches A·e^{iΦ} for normalised inputs `x`.
///
/// # Shapes
/// - x: `[b, g², n, n]` → `[b, c_out, n, n]`
pub fn predict_patches(
    network: &PinnNet,
    x: &Array4<f32>,
    device: &Device,
) -> Result<Array4<Complex32>, InferError> {
    let (amplitude, phase) = network.forward(to_tensor(x, device));
    let amplitude = to_host(amplitude)?;
    let phase = to_host(phase)?;
    Ok(ndarray::Zip::from(&amplitude)
        .and(&phase)
        .map_collect(|&a, &p| Complex32::from_polar(a, p)))
}

/// Predicts the groups `rows` of `groups` in batches and stitches each channel's patch at its
/// pattern's position into `stitcher`. `on_batch(done_groups, stitcher)` runs after every batch;
/// returning false stops early. Returns the patterns processed and whether it stopped.
#[allow(clippy::too_many_arguments)]
pub fn stitch_rows(
    network: &PinnNet,
    dataset: &Dataset,
    groups: &Groups,
    rows: &[usize],
    normalization_factor: f64,
    batch_size: usize,
    stitcher: &mut Stitcher,
    device: &Device,
    mut on_batch: impl FnMut(usize, &Stitcher) -> bool,
) -> Result<(usize, bool), InferError> {
    let mut patterns = 0;
    let c = groups.channels();
    for (i, chunk) in rows.chunks(batch_size.max(1)).enumerate() {
        let mut x = groups.diffraction_rows(dataset, chunk)?;
        x.mapv_inplace(|v| v * normalization_factor as f32);
        let patches = predict_patches(network, &x, device)?;
        let c_out = patches.dim().1;
        for (b, &row) in chunk.iter().enumerate() {
            for ch in 0..c_out {
                // One patch per channel at that pattern's position; a single patch goes to the
                // group's centre.
                let position = if c_out == c {
                    [groups.coords[[row, ch, 0]], groups.coords[[row, ch, 1]]]
                } else {
                    [groups.offsets[[row, 0]], groups.offsets[[row, 1]]]
                };
                stitcher.add(&patches.slice(s![b, ch, .., ..]), position);
            }
        }
        patterns += chunk.len() * c;
        let done = (i * batch_size.max(1) + chunk.len()).min(rows.len());
        if !on_batch(done, stitcher) {
            return Ok((patterns, true));
        }
    }
    Ok((patterns, false))
}

/// Runs `network` over every pattern of `dataset` (gridsize 1: each pattern once; gridsize g:
/// one group seeded at every pattern) and stitches the object. The scan is normalised with its
/// own factor (physics.md §2), so a scan at another dose gives the same object.
/// `on_batch(done_groups, total_groups, stitcher)` may return false to stop.
pub fn reconstruct(
    network: &PinnNet,
    dataset: &Dataset,
    options: &InferOptions,
    device: &Device,
    mut on_batch: impl FnMut(usize, usize, &Stitcher) -> bool,
) -> Result<Stitched, InferError> {
    let started = Instant::now();
    if dataset.n() != network.n() {
        return Err(InferError::PatternSize {
            found: dataset.n(),
            expected: network.n(),
        });
    }
    let groups = Groups::build(
        dataset,
        &GroupingConfig {
            n_groups: dataset.len(),
            neighbor_count: options.neighbor_count,
            gridsize: options.gridsize,
            seed: options.seed,
        },
    )?;
    let factor = groups
        .normalization_factor(dataset)
        .ok_or(InferError::EmptyData)?;
    let weights = StitchWeights::from_crop(options.crop).patch_weights(dataset.probe());
    let mut stitcher = Stitcher::new(dataset.positions_px(), weights);
    if options.overlap_pass {
        stitcher = stitcher.with_overlap_pass(dataset.probe());
    }
    // Row order = the patterns' own order for gridsize 1, so the object fills in along the scan.
    let mut rows: Vec<usize> = (0..groups.len()).collect();
    rows.sort_by_key(|&r| groups.indices[[r, 0]]);
    let total = rows.len();
    let (patterns, stopped) = stitch_rows(
        network,
        dataset,
        &groups,
        &rows,
        factor,
        options.batch_size,
        &mut stitcher,
        device,
        |done, st| on_batch(done, total, st),
    )?;
    let twins = if stopped {
        0
    } else {
        stitcher.resolve_overlaps()
    };
    Ok(Stitched {
        object: stitcher.object(),
        origin_px: stitcher.origin_px(),
        patterns,
        duration_secs: started.elapsed().as_secs_f64(),
        stopped,
        twins,
    })
}
