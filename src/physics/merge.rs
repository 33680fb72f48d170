//! The gridsize > 1 `object_big` merge (physics.md §3.2, the recipe in
//! `../shared/fixtures/pinn-parity/README.md`): each sample's channels are placed on one canvas
//! at their relative positions, averaged with weights, and re-extracted. Per sample, never across
//! the batch.

use burn::prelude::*;

use super::CTensor;
use super::translate::Translation;

/// How the channels are weighted where they overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MergeWeights {
    /// Ones on the central N/2 × N/2 box (rows and columns N/4 … 3N/4 − 1), zeros elsewhere.
    CentralBox,
    /// |P|², the probe's intensity.
    ProbeIntensity,
}

/// Canvas side for gridsize g: N + (g − 1)·4 + 10.
pub fn canvas_size(n: usize, gridsize: usize) -> usize {
    n + gridsize.saturating_sub(1) * 4 + 10
}

/// The central-box weight map, `[n, n]`.
pub fn central_box(n: usize, device: &Device) -> Tensor<2> {
    let (lo, hi) = (n / 4, 3 * n / 4);
    let values: Vec<f32> = (0..n * n)
        .map(|i| {
            let (r, c) = (i / n, i % n);
            if (lo..hi).contains(&r) && (lo..hi).contains(&c) {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [n, n]), device)
}

/// Merges and re-extracts the channels of every sample.
///
/// `coords_relative` holds `b·c` entries `[x, y]` (batch-major); channel c is placed at
/// −coords_relative and read back at +coords_relative. `weights` is the `[n, n]` weight map;
/// `kind` sets the threshold of the overlap mask (1e-6, or 1e-6 · max Σ W per sample for probe
/// weights).
///
/// # Shapes
/// - patches: `[b, c, n, n]` → `[b, c, n, n]`
pub fn merge_and_extract(
    patches: &CTensor<4>,
    coords_relative: &[[f64; 2]],
    weights: &Tensor<2>,
    kind: MergeWeights,
    gridsize: usize,
) -> CTensor<4> {
    let [b, c, n, _] = patches.dims();
    let device = patches.re.device();
    let m = canvas_size(n, gridsize);
    let (before, after) = ((m - n) / 2, m - n - (m - n) / 2);
    let pad = |t: Tensor<4>| t.pad([(before, after), (before, after)], 0.0);
    let place_shifts: Vec<[f64; 2]> = coords_relative.iter().map(|p| [-p[0], -p[1]]).collect();
    let place = Translation::new(&place_shifts, b, c, m, m, &device);
    let extract = Translation::new(coords_relative, b, c, m, m, &device);

    let w = place.apply(pad(weights.clone().reshape([1, 1, n, n]))); // [b, c, m, m]
    let placed = patches.map(|t| place.apply(pad(t))); // [b, c, m, m]
    let numerator = placed.mul_real(&w).map(|t| t.sum_dim(1)); // [b, 1, m, m]
    let total = w.sum_dim(1); // [b, 1, m, m]
    let threshold = match kind {
        MergeWeights::CentralBox => Tensor::<4>::full([b, 1, 1, 1], 1e-6, &device),
        MergeWeights::ProbeIntensity => total
            .clone()
            .reshape([b, m * m])
            .max_dim(1)
            .reshape([b, 1, 1, 1])
            .mul_scalar(1e-6),
    };
    let covered = (total.clone() - threshold).greater_elem(0.0).float();
    let factor = covered / total.clamp_min(1e-12); // [b, 1, m, m]
    let merged = numerator.mul_real(&factor);
    merged.map(|t| {
        extract
            .apply(t)
            .slice(s![.., .., before..before + n, before..before + n])
    })
}
