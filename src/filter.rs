//! Image filters shared by the simulator and the metrics.

use ndarray::Array2;

/// Gaussian blur with reflecting edges (`d c b a | a b c d | d c b a`), kernel truncated at 4σ.
pub fn gaussian_blur(image: &Array2<f64>, sigma: f64) -> Array2<f64> {
    gaussian_blur_radius(image, sigma, (4.0 * sigma).ceil() as usize)
}

/// Gaussian blur with reflecting edges and a kernel of `2·radius + 1` taps.
pub fn gaussian_blur_radius(image: &Array2<f64>, sigma: f64, radius: usize) -> Array2<f64> {
    let radius = radius as isize;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|k| (-0.5 * (k as f64 / sigma).powi(2)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let weights: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let reflect = |i: isize, len: isize| -> usize {
        let period = 2 * len;
        let m = i.rem_euclid(period);
        (if m < len { m } else { period - 1 - m }) as usize
    };
    let blur_rows = |img: &Array2<f64>| -> Array2<f64> {
        let (h, w) = img.dim();
        let mut out = Array2::zeros((h, w));
        for r in 0..h {
            for c in 0..w {
                out[[r, c]] = weights
                    .iter()
                    .enumerate()
                    .map(|(k, wk)| {
                        wk * img[[r, reflect(c as isize + k as isize - radius, w as isize)]]
                    })
                    .sum();
            }
        }
        out
    };
    let horizontal = blur_rows(image);
    blur_rows(&horizontal.t().to_owned()).t().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_preserves_a_constant_and_spreads_a_point() {
        let flat = Array2::from_elem((20, 30), 2.0);
        assert!(
            gaussian_blur(&flat, 3.0)
                .iter()
                .all(|v| (v - 2.0).abs() < 1e-12)
        );
        let mut dot = Array2::zeros((41, 41));
        dot[[20, 20]] = 1.0;
        let b = gaussian_blur(&dot, 2.0);
        assert!((b.sum() - 1.0).abs() < 1e-9);
        let expected = 1.0 / (2.0 * std::f64::consts::PI * 4.0);
        assert!((b[[20, 20]] - expected).abs() < 1e-3 * expected.max(1e-3) + 1e-4);
    }
}
