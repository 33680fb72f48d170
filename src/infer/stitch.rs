//! Stitching predicted patches into one object (physics.md §6). Every patch pixel carries a
//! weight; a patch is placed at its scan position with a bilinear shift, and each canvas pixel
//! is the weighted mean of the patches that reach it. Incremental, so a viewer can show the
//! object as batches arrive.
//!
//! Two weightings ([`StitchWeights`]):
//! - **illumination** (the default): each patch pixel weighted by the probe's intensity |P|²
//!   inside the network's own N/2 × N/2 object support. This is the least-squares combination of
//!   the patches (a pixel is trusted as much as it was lit), it covers the whole illuminated
//!   area, and its weights fall smoothly to zero, so no crop edges show as seams;
//! - **central crop** M × M with unit weights (the reference's stitch, M = 20 at N = 64), kept
//!   for comparisons with the reference's figures.
//!
//! The patch of position (x, y) covers object pixels x − N/2 … (the `data` convention): patch
//! pixel (r, c) sits at object (y − N/2 + r, x − N/2 + c), the reference's TensorFlow sign.

use ndarray::{Array2, ArrayRef2, s};
use num_complex::Complex32;

use super::overlap::{self, KeptPatch};

/// The central crop size M for pattern size N: 20 at N = 64 (the reference), scaled with N.
pub fn default_crop(n: usize) -> usize {
    (n * 20 / 64).max(1)
}

/// How patch pixels are weighted when patches are stitched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StitchWeights {
    /// |P|² inside the central N/2 × N/2 object support.
    Illumination,
    /// Unit weights on the central M × M.
    CentralCrop(usize),
}

impl StitchWeights {
    /// The crop when given, the illumination otherwise.
    pub fn from_crop(crop: Option<usize>) -> Self {
        crop.map_or(Self::Illumination, Self::CentralCrop)
    }

    /// The `[n, n]` weight of every patch pixel, largest value 1. `probe` (`[n, n]`) is used by
    /// [`StitchWeights::Illumination`]; a probe without intensity inside the support falls back
    /// to the central crop.
    pub fn patch_weights(self, probe: &ArrayRef2<Complex32>) -> Array2<f32> {
        let (n, _) = probe.dim();
        let crop = |m: usize| {
            let m = m.clamp(1, n);
            let start = (n - m) / 2;
            Array2::from_shape_fn((n, n), |(r, c)| {
                let inside = (start..start + m).contains(&r) && (start..start + m).contains(&c);
                if inside { 1.0 } else { 0.0 }
            })
        };
        match self {
            Self::CentralCrop(m) => crop(m),
            Self::Illumination => {
                let support = crop(n / 2);
                let mut w = Array2::from_shape_fn((n, n), |(r, c)| {
                    probe[[r, c]].norm_sqr() * support[[r, c]]
                });
                let peak = w.iter().copied().fold(0.0f32, f32::max);
                if !(peak.is_finite() && peak > 0.0) {
                    return crop(default_crop(n));
                }
                w.mapv_inplace(|v| v / peak);
                w
            }
        }
    }
}

/// Rows and columns `[r0, r1, c0, c1]` (exclusive ends) of the non-zero weights.
fn support_box(weights: &Array2<f32>) -> [usize; 4] {
    let (n, m) = weights.dim();
    let mut b = [n, 0, m, 0];
    for ((r, c), &w) in weights.indexed_iter() {
        if w > 0.0 {
            b = [b[0].min(r), b[1].max(r + 1), b[2].min(c), b[3].max(c + 1)];
        }
    }
    if b[0] >= b[1] { [0, 0, 0, 0] } else { b }
}

/// Accumulates weighted patches on a canvas that covers every position.
#[derive(Debug, Clone)]
pub struct Stitcher {
    /// `[n, n]` weight of each patch pixel.
    patch_weights: Array2<f32>,
    /// Where the weights are non-zero, `[r0, r1, c0, c1]`.
    support: [usize; 4],
    /// Object coordinates `[x, y]` of canvas pixel (0, 0).
    origin_px: [f64; 2],
    sum: Array2<Complex32>,
    weight: Array2<f32>,
    /// With the overlap pass on: every patch added so far (on the support box) and its
    /// position.
    kept: Option<Kept>,
}

/// The patches the overlap pass works on.
#[derive(Debug, Clone)]
struct Kept {
    /// The probe's twin reflection centre, if it has one.
    twin_centre: Option<usize>,
    patches: Vec<KeptPatch>,
    positions: Vec<[f64; 2]>,
}

impl Stitcher {
    /// A canvas for `positions_px` (`[x, y]`, object pixels) and patches weighted by
    /// `patch_weights` (`[n, n]`, from [`StitchWeights::patch_weights`]).
    pub fn new(positions_px: &[[f64; 2]], patch_weights: Array2<f32>) -> Self {
        let (n, _) = patch_weights.dim();
        let support = support_box(&patch_weights);
        let half = n as f64 / 2.0;
        // The support's reach from the patch centre on each side (at least one pixel).
        let before = (half - support[0].min(support[2]) as f64).max(1.0);
        let after = (support[1].max(support[3]) as f64 - half).max(1.0);
        let [x0, x1, y0, y1] = crate::geometry::bounding_box(positions_px).unwrap_or([0.0; 4]);
        let origin_px = [(x0 - before).floor() - 1.0, (y0 - before).floor() - 1.0];
        let cols = (x1 + after + 2.0 - origin_px[0]).ceil() as usize + 1;
        let rows = (y1 + after + 2.0 - origin_px[1]).ceil() as usize + 1;
        Self {
            patch_weights,
            support,
            origin_px,
            sum: Array2::zeros((rows, cols)),
            weight: Array2::zeros((rows, cols)),
            kept: None,
        }
    }

    /// Keeps every added patch for [`Stitcher::resolve_overlaps`] (memory: the weights'
    /// support box per patch, twice with a twin), with the probe whose twin symmetry decides
    /// whether twins are considered.
    pub fn with_overlap_pass(mut self, probe: &ArrayRef2<Complex32>) -> Self {
        self.kept = Some(Kept {
            twin_centre: overlap::twin_centre(probe),
            patches: Vec::new(),
            positions: Vec::new(),
        });
        self
    }

    /// Runs the overlap pass of [`overlap`] on the kept patches and restitches them with the
    /// chosen twin and phase factor of each. Returns how many patches were replaced by their
    /// twin (0 when the pass is off).
    pub fn resolve_overlaps(&mut self) -> usize {
        let Some(kept) = self.kept.take() else {
            return 0;
        };
        let [r0, r1, c0, c1] = self.support;
        let box_weights = self.patch_weights.slice(s![r0..r1, c0..c1]).to_owned();
        let choices = overlap::resolve(&kept.patches, &box_weights, self.sum.dim());
        self.sum.fill(Complex32::default());
        self.weight.fill(0.0);
        let n = self.patch_weights.nrows();
        let mut full = Array2::<Complex32>::zeros((n, n));
        for ((patch, choice), &position) in kept.patches.iter().zip(&choices).zip(&kept.positions) {
            let source = match (&patch.twin, choice.twin) {
                (Some(t), true) => t,
                _ => &patch.original,
            };
            full.slice_mut(s![r0..r1, c0..c1])
                .assign(&source.mapv(|v| v * choice.rotation));
            self.place(&full, position);
        }
        let twins = choices.iter().filter(|c| c.twin).count();
        self.kept = Some(kept);
        twins
    }

    /// Object coordinates `[x, y]` of canvas pixel (0, 0).
    pub fn origin_px(&self) -> [f64; 2] {
        self.origin_px
    }

    /// Adds one predicted N × N patch centred at `position_px`.
    pub fn add(&mut self, patch: &ArrayRef2<Complex32>, position_px: [f64; 2]) {
        let (n, _) = patch.dim();
        let [r0, r1, c0, c1] = self.support;
        if self.patch_weights.dim() != (n, n) || r0 >= r1 || c0 >= c1 {
            return;
        }
        if let Some(kept) = &mut self.kept {
            let top = position_px[1] - n as f64 / 2.0 - self.origin_px[1];
            let left = position_px[0] - n as f64 / 2.0 - self.origin_px[0];
            kept.patches.push(KeptPatch {
                original: patch.slice(s![r0..r1, c0..c1]).to_owned(),
                twin: kept
                    .twin_centre
                    .map(|c| overlap::twin(patch, c).slice(s![r0..r1, c0..c1]).to_owned()),
                corner: [
                    top.round() as i64 + r0 as i64,
                    left.round() as i64 + c0 as i64,
                ],
            });
            kept.positions.push(position_px);
        }
        self.place(patch, position_px);
    }

    /// Splats one weighted patch onto the canvas with a bilinear shift.
    fn place(&mut self, patch: &ArrayRef2<Complex32>, position_px: [f64; 2]) {
        let (n, _) = patch.dim();
        // Patch pixel (i, j) sits at object (y − n/2 + i, x − n/2 + j); in canvas pixels:
        let top = position_px[1] - n as f64 / 2.0 - self.origin_px[1];
        let left = position_px[0] - n as f64 / 2.0 - self.origin_px[0];
        splat(
            &mut self.sum,
            &mut self.weight,
            patch,
            &self.patch_weights,
            [top, left],
            1.0,
        );
    }

    /// The object so far: weighted sums divided by the summed weights (+1e-9).
    pub fn object(&self) -> Array2<Complex32> {
        let mut out = self.sum.clone();
        out.zip_mut_with(&self.weight, |v, &w| *v /= w + 1e-9);
        out
    }

    /// Summed weight per canvas pixel (0 where no patch reached).
    pub fn coverage(&self) -> &Array2<f32> {
        &self.weight
    }

    /// The weighted sum of the patches per canvas pixel (the object times [`Self::coverage`]).
    pub fn weighted_sum(&self) -> &Array2<Complex32> {
        &self.sum
    }

    /// The `[n, n]` weight of every patch pixel.
    pub fn patch_weights(&self) -> &Array2<f32> {
        &self.patch_weights
    }
}

/// Adds `sign` × the weighted `patch` (weights `patch_weights`, same shape) to `sum` and its
/// weights to `weight`, the patch's pixel (0, 0) at fractional canvas pixel `[top, left]`, with
/// a bilinear shift; pixels falling outside the canvas are dropped. `sign` −1 takes a patch back
/// out (the position refinement's leave-one-out reference).
pub fn splat(
    sum: &mut Array2<Complex32>,
    weight: &mut Array2<f32>,
    patch: &ArrayRef2<Complex32>,
    patch_weights: &Array2<f32>,
    [top, left]: [f64; 2],
    sign: f32,
) {
    let (n, _) = patch.dim();
    let [r0, r1, c0, c1] = support_box(patch_weights);
    if patch_weights.dim() != (n, n) || r0 >= r1 || c0 >= c1 {
        return;
    }
    let (rows, cols) = sum.dim();
    let sample = |u: f64| -> (i64, f32) {
        let u0 = u.floor();
        (u0 as i64, (u - u0) as f32)
    };
    let r_lo = (top + r0 as f64).floor().max(0.0) as usize;
    let r_hi = ((top + r1 as f64).ceil().max(0.0) as usize + 1).min(rows);
    let c_lo = (left + c0 as f64).floor().max(0.0) as usize;
    let c_hi = ((left + c1 as f64).ceil().max(0.0) as usize + 1).min(cols);
    let value = |i: i64, j: i64| -> (Complex32, f32) {
        if i >= 0 && j >= 0 && (i as usize) < n && (j as usize) < n {
            let w = patch_weights[[i as usize, j as usize]];
            (patch[[i as usize, j as usize]] * w, w)
        } else {
            (Complex32::default(), 0.0)
        }
    };
    for r in r_lo..r_hi {
        let (i0, fy) = sample(r as f64 - top);
        for c in c_lo..c_hi {
            let (j0, fx) = sample(c as f64 - left);
            let mut v = Complex32::default();
            let mut w = 0.0f32;
            for (di, dj, k) in [
                (0, 0, (1.0 - fy) * (1.0 - fx)),
                (0, 1, (1.0 - fy) * fx),
                (1, 0, fy * (1.0 - fx)),
                (1, 1, fy * fx),
            ] {
                let (pv, pw) = value(i0 + di, j0 + dj);
                v += pv * k;
                w += pw * k;
            }
            sum[[r, c]] += v * sign;
            weight[[r, c]] += w * sign;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::simulate::extract_patch;

    #[test]
    fn stitching_true_patches_gives_back_the_object() {
        let object = Array2::from_shape_fn((100, 120), |(r, c)| {
            Complex32::from_polar(0.5 + 0.4 * ((r as f32) * 0.1).sin(), (c as f32) * 0.03)
        });
        let positions: Vec<[f64; 2]> = (0..64)
            .map(|i| [30.0 + (i % 8) as f64 * 7.3, 30.0 + (i / 8) as f64 * 5.1])
            .collect();
        let probe = Array2::from_elem((32, 32), Complex32::new(1.0, 0.0));
        let weights = StitchWeights::CentralCrop(default_crop(32)).patch_weights(&probe);
        let mut stitcher = Stitcher::new(&positions, weights);
        for p in &positions {
            stitcher.add(&extract_patch(&object, *p, 32), *p);
        }
        let stitched = stitcher.object();
        let [ox, oy] = stitcher.origin_px();
        // Compare well inside the covered area (bilinear twice smooths a little).
        let mut worst = 0.0f32;
        for r in 0..stitched.nrows() {
            for c in 0..stitched.ncols() {
                let (y, x) = (r as f64 + oy, c as f64 + ox);
                if (36.0..60.0).contains(&y) && (36.0..75.0).contains(&x) {
                    worst = worst.max((stitched[[r, c]] - object[[y as usize, x as usize]]).norm());
                }
            }
        }
        println!("stitched vs true object: max error {worst}");
        assert!(worst < 0.005, "max error {worst}"); // measured 0.0018
        assert!(
            stitcher.coverage().iter().any(|&w| w == 0.0),
            "the canvas has an uncovered border"
        );
    }
}
