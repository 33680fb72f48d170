//! Stitching predicted patches into one object (physics.md §6): the central M × M of each patch
//! is placed at its scan position with a bilinear shift; overlaps are averaged by the summed
//! placement weights (+1e-9). Incremental, so a viewer can show the object as batches arrive.
//!
//! The patch of position (x, y) covers object pixels x − N/2 … (the `data` convention), so its
//! central M × M starts at (x − M/2, y − M/2): content goes to +position, the reference's
//! TensorFlow sign.

use ndarray::{Array2, ArrayRef2};
use num_complex::Complex32;

/// The central crop size M for pattern size N: 20 at N = 64 (the reference), scaled with N.
pub fn default_crop(n: usize) -> usize {
    (n * 20 / 64).max(1)
}

/// Accumulates patches on a canvas that covers every position.
#[derive(Debug, Clone)]
pub struct Stitcher {
    crop: usize,
    /// Object coordinates `[x, y]` of canvas pixel (0, 0).
    origin_px: [f64; 2],
    sum: Array2<Complex32>,
    weight: Array2<f32>,
}

impl Stitcher {
    /// A canvas for `positions_px` (`[x, y]`, object pixels) and crops of `crop` pixels.
    pub fn new(positions_px: &[[f64; 2]], crop: usize) -> Self {
        let half = crop as f64 / 2.0;
        let [x0, x1, y0, y1] = crate::geometry::bounding_box(positions_px).unwrap_or([0.0; 4]);
        let origin_px = [(x0 - half).floor() - 1.0, (y0 - half).floor() - 1.0];
        let cols = (x1 + half + 2.0 - origin_px[0]).ceil() as usize + 1;
        let rows = (y1 + half + 2.0 - origin_px[1]).ceil() as usize + 1;
        Self {
            crop,
            origin_px,
            sum: Array2::zeros((rows, cols)),
            weight: Array2::zeros((rows, cols)),
        }
    }

    /// Object coordinates `[x, y]` of canvas pixel (0, 0).
    pub fn origin_px(&self) -> [f64; 2] {
        self.origin_px
    }

    /// Adds one predicted N × N patch centred at `position_px`.
    pub fn add(&mut self, patch: &ArrayRef2<Complex32>, position_px: [f64; 2]) {
        let (n, _) = patch.dim();
        let m = self.crop.min(n);
        let start = (n - m) / 2;
        // Crop pixel (i, j) sits at object (y − m/2 + i, x − m/2 + j); in canvas pixels:
        let top = position_px[1] - m as f64 / 2.0 - self.origin_px[1];
        let left = position_px[0] - m as f64 / 2.0 - self.origin_px[0];
        let (rows, cols) = self.sum.dim();
        let sample = |u: f64| -> (i64, f32) {
            let u0 = u.floor();
            (u0 as i64, (u - u0) as f32)
        };
        let r_lo = top.floor().max(0.0) as usize;
        let r_hi = ((top + m as f64).ceil() as usize + 1).min(rows);
        let c_lo = left.floor().max(0.0) as usize;
        let c_hi = ((left + m as f64).ceil() as usize + 1).min(cols);
        let value = |i: i64, j: i64| -> (Complex32, f32) {
            if i >= 0 && j >= 0 && (i as usize) < m && (j as usize) < m {
                (patch[[start + i as usize, start + j as usize]], 1.0)
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
                self.sum[[r, c]] += v;
                self.weight[[r, c]] += w;
            }
        }
    }

    /// The object so far: sums divided by the placement weights (+1e-9).
    pub fn object(&self) -> Array2<Complex32> {
        let mut out = self.sum.clone();
        out.zip_mut_with(&self.weight, |v, &w| *v /= w + 1e-9);
        out
    }

    /// Placement weight per canvas pixel (0 where no patch reached).
    pub fn coverage(&self) -> &Array2<f32> {
        &self.weight
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
        let mut stitcher = Stitcher::new(&positions, default_crop(32));
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
