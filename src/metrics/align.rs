//! Bringing a reconstruction and a truth onto common ground: crop to the scanned region, remove
//! each phase's best-fit plane, scale the amplitude.

use ndarray::{Array2, s};
use num_complex::Complex32;

/// The two images of one comparison, cropped to the same region.
#[derive(Debug, Clone)]
pub struct AlignedPair {
    /// Reconstructed amplitude, scaled so its mean equals the truth's.
    pub recon_amplitude: Array2<f32>,
    /// Reconstructed phase with its least-squares plane removed, radians.
    pub recon_phase: Array2<f32>,
    /// True amplitude.
    pub truth_amplitude: Array2<f32>,
    /// True phase with its least-squares plane removed, radians.
    pub truth_phase: Array2<f32>,
}

/// The bounding box of the scan positions `[x, y]` intersected with both images, as object
/// pixels `[top, left, bottom, right]` (exclusive ends); `recon`'s pixel (0, 0) sits at object
/// coordinates `recon_origin_px` = [x, y], the truth's at 0. `None` when nothing overlaps.
pub fn scan_box(
    recon_dim: (usize, usize),
    recon_origin_px: [f64; 2],
    truth_dim: (usize, usize),
    positions_px: &[[f64; 2]],
) -> Option<[i64; 4]> {
    let [x0, x1, y0, y1] = crate::geometry::bounding_box(positions_px)?;
    let (ox, oy) = (
        recon_origin_px[0].round() as i64,
        recon_origin_px[1].round() as i64,
    );
    let (rh, rw) = (recon_dim.0 as i64, recon_dim.1 as i64);
    let (th, tw) = (truth_dim.0 as i64, truth_dim.1 as i64);
    let top = (y0.ceil() as i64).max(oy).max(0);
    let left = (x0.ceil() as i64).max(ox).max(0);
    let bottom = (y1.floor() as i64 + 1).min(oy + rh).min(th);
    let right = (x1.floor() as i64 + 1).min(ox + rw).min(tw);
    (bottom > top && right > left).then_some([top, left, bottom, right])
}

/// Crops `recon` (whose pixel (0, 0) sits at object coordinates `recon_origin_px` = [x, y]) and
/// `truth` (origin 0) to [`scan_box`]. Returns `None` when nothing overlaps.
pub fn crop_to_scan(
    recon: &Array2<Complex32>,
    recon_origin_px: [f64; 2],
    truth: &Array2<Complex32>,
    positions_px: &[[f64; 2]],
) -> Option<(Array2<Complex32>, Array2<Complex32>)> {
    let [top, left, bottom, right] =
        scan_box(recon.dim(), recon_origin_px, truth.dim(), positions_px)?;
    let (ox, oy) = (
        recon_origin_px[0].round() as i64,
        recon_origin_px[1].round() as i64,
    );
    let r = recon
        .slice(s![
            (top - oy) as usize..(bottom - oy) as usize,
            (left - ox) as usize..(right - ox) as usize
        ])
        .to_owned();
    let t = truth
        .slice(s![
            top as usize..bottom as usize,
            left as usize..right as usize
        ])
        .to_owned();
    Some((r, t))
}

/// The phase as it is shown in the window, the PNGs and the report: rotated by the object's
/// mean complex value (so a global offset cannot wrap the picture), and with the least-squares
/// plane removed as well when `remove_ramp`.
pub fn display_phase(object: &Array2<Complex32>, remove_ramp: bool) -> Array2<f32> {
    if remove_ramp {
        flattened_phase(object)
    } else {
        crate::data::reconstruction::mean_rotated_phase(object)
    }
}

/// The phase of `image` after rotating it by its mean complex value (so a global offset cannot
/// wrap), then with the least-squares plane a + b·x + c·y removed.
pub fn flattened_phase(image: &Array2<Complex32>) -> Array2<f32> {
    flattened_phase_over(image, &Array2::from_elem(image.dim(), true))
}

/// [`flattened_phase`] with the mean rotation and the plane fitted over the `mask` pixels only
/// (the plane is removed everywhere).
pub fn flattened_phase_over(image: &Array2<Complex32>, mask: &Array2<bool>) -> Array2<f32> {
    let (sum, count) = image
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m)
        .fold((Complex32::default(), 0usize), |(s, n), (v, _)| {
            (s + v, n + 1)
        });
    let mean = sum / count.max(1) as f32;
    let rotate = if mean.norm() > 0.0 {
        mean.conj() / mean.norm()
    } else {
        Complex32::new(1.0, 0.0)
    };
    let phase = image.mapv(|c| (c * rotate).arg());
    remove_plane_over(&phase, mask)
}

/// `values` minus their least-squares plane a + b·x + c·y (x = column, y = row).
pub fn remove_plane(values: &Array2<f32>) -> Array2<f32> {
    remove_plane_over(values, &Array2::from_elem(values.dim(), true))
}

/// `values` minus the least-squares plane a + b·x + c·y fitted over the `mask` pixels.
pub fn remove_plane_over(values: &Array2<f32>, mask: &Array2<bool>) -> Array2<f32> {
    // Normal equations in coordinates centred on the masked pixels.
    let (h, w) = values.dim();
    let inside = || {
        values
            .indexed_iter()
            .zip(mask)
            .filter(|(_, m)| **m)
            .map(|(((r, c), &v), _)| (c as f64, r as f64, f64::from(v)))
    };
    let count = inside().count().max(1) as f64;
    let (cx, cy) = inside().fold((0.0, 0.0), |(x, y), (c, r, _)| (x + c, y + r));
    let (cx, cy) = (cx / count, cy / count);
    let (mut sv, mut sxv, mut syv, mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (c, r, v) in inside() {
        let (x, y) = (c - cx, r - cy);
        sv += v;
        sxv += x * v;
        syv += y * v;
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    let det = sxx * syy - sxy * sxy;
    let (b, c) = if det.abs() > 0.0 {
        ((sxv * syy - syv * sxy) / det, (syv * sxx - sxv * sxy) / det)
    } else {
        (0.0, 0.0)
    };
    let a = sv / count;
    Array2::from_shape_fn((h, w), |(r, col)| {
        let (x, y) = (col as f64 - cx, r as f64 - cy);
        (f64::from(values[[r, col]]) - (a + b * x + c * y)) as f32
    })
}

/// Aligns two same-shaped images: flattened phases, reconstructed amplitude scaled by the ratio
/// of means.
pub fn align(recon: &Array2<Complex32>, truth: &Array2<Complex32>) -> AlignedPair {
    align_over(recon, truth, &Array2::from_elem(truth.dim(), true))
}

/// [`align`] with the phase planes and the amplitude ratio taken over the `mask` pixels only.
pub fn align_over(
    recon: &Array2<Complex32>,
    truth: &Array2<Complex32>,
    mask: &Array2<bool>,
) -> AlignedPair {
    let truth_amplitude = truth.mapv(Complex32::norm);
    let recon_raw = recon.mapv(Complex32::norm);
    let mean = |a: &Array2<f32>| {
        let (s, n) = a
            .iter()
            .zip(mask)
            .filter(|(_, m)| **m)
            .fold((0.0, 0usize), |(s, n), (&v, _)| (s + f64::from(v), n + 1));
        s / n.max(1) as f64
    };
    let ratio = mean(&recon_raw);
    let scale = if ratio > 0.0 {
        (mean(&truth_amplitude) / ratio) as f32
    } else {
        1.0
    };
    AlignedPair {
        recon_amplitude: recon_raw.mapv(|v| v * scale),
        recon_phase: flattened_phase_over(recon, mask),
        truth_amplitude,
        truth_phase: flattened_phase_over(truth, mask),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_a_plane_exactly() {
        let bump = Array2::from_shape_fn((20, 30), |(r, c)| {
            ((r as f32 - 9.5).powi(2) + (c as f32 - 14.5).powi(2)) * 1e-3
        });
        let flat_bump = remove_plane(&bump);
        let tilted = Array2::from_shape_fn((20, 30), |(r, c)| {
            bump[[r, c]] + 0.3 + 0.02 * c as f32 - 0.05 * r as f32
        });
        let flat = remove_plane(&tilted);
        for (a, b) in flat.iter().zip(&flat_bump) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn crop_respects_origins() {
        let truth = Array2::from_shape_fn((50, 50), |(r, c)| Complex32::new(c as f32, r as f32));
        // recon canvas starting at object (x 5, y 10)
        let recon = Array2::from_shape_fn((40, 40), |(r, c)| {
            Complex32::new((c + 5) as f32, (r + 10) as f32)
        });
        let (a, b) =
            crop_to_scan(&recon, [5.0, 10.0], &truth, &[[12.0, 20.0], [30.2, 33.7]]).unwrap();
        assert_eq!(a.dim(), (14, 19));
        assert_eq!(a, b);
        assert_eq!(a[[0, 0]], Complex32::new(12.0, 20.0));
    }
}
