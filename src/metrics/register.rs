//! Sub-pixel registration by phase cross-correlation: the integer peak of the normalised
//! cross-power spectrum's inverse, refined by a parabola through the peak and its neighbours on
//! each axis.

use ndarray::Array2;
use num_complex::Complex32;

use super::frc::centred_square_spectrum;
use crate::fft::Fft2;
use crate::geometry::bilinear_sample;

/// The shift `[dx, dy]` (pixels) that, applied to `moving` (content moved by +shift), best
/// aligns it with `reference`. Both images are cropped to their largest centred even square.
/// `None` for shapes that differ or are under 8 × 8.
pub fn phase_cross_correlation(reference: &Array2<f32>, moving: &Array2<f32>) -> Option<[f64; 2]> {
    let (h, w) = reference.dim();
    let n = h.min(w) & !1;
    if reference.dim() != moving.dim() || n < 8 {
        return None;
    }
    let fft = Fft2::new(n, false);
    let spectrum = |img: &Array2<f32>| centred_square_spectrum(img, n, &fft);
    let (fr, fm) = (spectrum(reference), spectrum(moving));
    let mut cross: Vec<Complex32> = fr
        .iter()
        .zip(&fm)
        .map(|(a, b)| {
            let p = a * b.conj();
            let m = p.norm_sqr().sqrt();
            if m > 0.0 { p / m } else { Complex32::default() }
        })
        .collect();
    fft.inverse(&mut cross);
    let (peak, _) = cross
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, c)| {
            if c.re > best.1 { (i, c.re) } else { best }
        });
    let (py, px) = (peak / n, peak % n);
    let at = |y: usize, x: usize| f64::from(cross[(y % n) * n + x % n].re);
    let refine = |minus: f64, centre: f64, plus: f64| {
        let denominator = minus - 2.0 * centre + plus;
        if denominator.abs() > 1e-12 {
            (0.5 * (minus - plus) / denominator).clamp(-0.5, 0.5)
        } else {
            0.0
        }
    };
    let dy = refine(at(py + n - 1, px), at(py, px), at(py + 1, px));
    let dx = refine(at(py, px + n - 1), at(py, px), at(py, px + 1));
    let signed = |k: usize| {
        if k > n / 2 {
            k as f64 - n as f64
        } else {
            k as f64
        }
    };
    Some([signed(px) + dx, signed(py) + dy])
}

/// Moves the content of `image` by `[dx, dy]` (bilinear, zero fill).
pub fn shift_bilinear(image: &Array2<Complex32>, shift: [f64; 2]) -> Array2<Complex32> {
    Array2::from_shape_fn(image.dim(), |(r, c)| {
        bilinear_sample(image, r as f64 - shift[1], c as f64 - shift[0])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_subpixel_shift() {
        let base = Array2::from_shape_fn((64, 64), |(r, c)| {
            let (y, x) = (r as f32 - 30.0, c as f32 - 34.0);
            Complex32::new(
                (-(x * x + y * y) / 40.0).exp()
                    + 0.5 * (-((x - 9.0).powi(2) + (y + 7.0).powi(2)) / 15.0).exp(),
                0.0,
            )
        });
        let moved = shift_bilinear(&base, [3.4, -2.25]);
        let amplitude = |a: &Array2<Complex32>| a.mapv(|c| c.re);
        let shift = phase_cross_correlation(&amplitude(&base), &amplitude(&moved)).unwrap();
        // Aligning `moved` to `base` takes the opposite shift.
        assert!(
            (shift[0] + 3.4).abs() < 0.25 && (shift[1] - 2.25).abs() < 0.25,
            "{shift:?}"
        );
    }
}
