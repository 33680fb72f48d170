//! The illuminated region of a scan: the pixels the metrics compare. A pixel is illuminated when
//! the patch weights (the probe's intensity, or the reference's central crop) summed over every
//! scan position reach a fraction of one patch's peak; pixels between sparse positions that no
//! probe lit carry no information and are left out rather than counted as errors.

use ndarray::Array2;

/// A pixel is illuminated where the summed patch weight reaches this fraction of one patch's
/// largest weight: 10 % of one probe's peak intensity, or a tenth of one crop.
pub const COVERED_FRACTION: f32 = 0.1;

/// The illumination of the region of `shape` whose pixel (0, 0) sits at object coordinates
/// `top_left_px` = [x, y], for patches weighted by `patch_weights` (`[n, n]`, patch pixel (i, j)
/// at object (y − n/2 + i, x − n/2 + j)) at `positions_px` ([x, y]): the summed weight over
/// every position, in units of one patch's largest weight (1 = one probe's peak). Patches are
/// placed at the nearest whole pixel.
pub fn illumination(
    positions_px: &[[f64; 2]],
    patch_weights: &Array2<f32>,
    top_left_px: [i64; 2],
    shape: (usize, usize),
) -> Array2<f32> {
    let (n, m) = patch_weights.dim();
    let (h, w) = shape;
    let mut sum = Array2::<f32>::zeros(shape);
    for p in positions_px {
        let row0 = (p[1] - n as f64 / 2.0).round() as i64 - top_left_px[1];
        let col0 = (p[0] - m as f64 / 2.0).round() as i64 - top_left_px[0];
        for ((i, j), &weight) in patch_weights.indexed_iter() {
            let (r, c) = (row0 + i as i64, col0 + j as i64);
            if weight > 0.0 && r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w {
                sum[[r as usize, c as usize]] += weight;
            }
        }
    }
    let peak = patch_weights.iter().copied().fold(0.0f32, f32::max);
    if peak > 0.0 {
        sum.mapv_inplace(|v| v / peak);
    }
    sum
}

/// The illuminated pixels: where [`illumination`] reaches [`COVERED_FRACTION`].
pub fn illuminated(
    positions_px: &[[f64; 2]],
    patch_weights: &Array2<f32>,
    top_left_px: [i64; 2],
    shape: (usize, usize),
) -> Array2<bool> {
    illumination(positions_px, patch_weights, top_left_px, shape).mapv(|v| v >= COVERED_FRACTION)
}

/// `values` with the pixels outside `lit` set to NaN (drawn grey: nothing reconstructed them).
/// `lit` must have `values`' shape.
pub fn unlit_as_nan(mut values: Array2<f32>, lit: &Array2<bool>) -> Array2<f32> {
    ndarray::Zip::from(&mut values).and(lit).for_each(|v, &l| {
        if !l {
            *v = f32::NAN;
        }
    });
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lit_where_a_patch_reaches_and_dark_between() {
        let mut weights = Array2::zeros((8, 8));
        weights.slice_mut(ndarray::s![2..6, 2..6]).fill(1.0);
        // Two patches at x = 10 and x = 30 on row 10: lit columns 8..12 and 28..32.
        let lit = illuminated(&[[10.0, 10.0], [30.0, 10.0]], &weights, [0, 0], (20, 40));
        assert!(lit[[10, 8]] && lit[[10, 11]] && lit[[9, 29]]);
        assert!(!lit[[10, 12]] && !lit[[10, 20]] && !lit[[10, 7]] && !lit[[5, 10]]);
        assert_eq!(lit.iter().filter(|&&v| v).count(), 2 * 16);
    }
}
