//! The structural similarity index (Wang et al. 2004) with an 11-tap Gaussian window
//! (σ = 1.5), K₁ = 0.01, K₂ = 0.03, averaged away from the borders the window cannot cover.

use ndarray::{Array2, s};

use crate::filter::gaussian_blur_radius;

const SIGMA: f64 = 1.5;
const RADIUS: usize = 5;

/// Mean SSIM of two same-shaped images for values spanning `data_range`. `None` when the images
/// are smaller than the window or differ in shape.
pub fn ssim(a: &Array2<f32>, b: &Array2<f32>, data_range: f64) -> Option<f64> {
    let (h, w) = a.dim();
    let map = ssim_map(a, b, data_range)?;
    let inner = map.slice(s![RADIUS..h - RADIUS, RADIUS..w - RADIUS]);
    inner.mean()
}

/// Mean SSIM over the `mask` pixels the window fits around (`None` when there are none).
pub fn ssim_over(
    a: &Array2<f32>,
    b: &Array2<f32>,
    data_range: f64,
    mask: &Array2<bool>,
) -> Option<f64> {
    let (h, w) = a.dim();
    let map = ssim_map(a, b, data_range)?;
    let (sum, count) = map
        .indexed_iter()
        .filter(|((r, c), _)| {
            (RADIUS..h - RADIUS).contains(r)
                && (RADIUS..w - RADIUS).contains(c)
                && mask.get([*r, *c]).copied().unwrap_or(false)
        })
        .fold((0.0, 0usize), |(s, n), (_, v)| (s + v, n + 1));
    (count > 0).then(|| sum / count as f64)
}

/// The local SSIM at every pixel (the border the window cannot cover included; callers leave
/// it out).
fn ssim_map(a: &Array2<f32>, b: &Array2<f32>, data_range: f64) -> Option<Array2<f64>> {
    let (h, w) = a.dim();
    if a.dim() != b.dim() || h <= 2 * RADIUS || w <= 2 * RADIUS || data_range <= 0.0 {
        return None;
    }
    let x = a.mapv(f64::from);
    let y = b.mapv(f64::from);
    let blur = |img: &Array2<f64>| gaussian_blur_radius(img, SIGMA, RADIUS);
    let (mx, my) = (blur(&x), blur(&y));
    let sxx = blur(&(&x * &x)) - &mx * &mx;
    let syy = blur(&(&y * &y)) - &my * &my;
    let sxy = blur(&(&x * &y)) - &mx * &my;
    let c1 = (0.01 * data_range).powi(2);
    let c2 = (0.03 * data_range).powi(2);
    Some(
        ((2.0 * &mx * &my + c1) * (2.0 * &sxy + c2))
            / ((&mx * &mx + &my * &my + c1) * (&sxx + &syy + c2)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_one_and_noise_lowers_it() {
        let a = Array2::from_shape_fn((40, 50), |(r, c)| {
            ((r as f32 * 0.3).sin() + (c as f32 * 0.2).cos()) * 0.5
        });
        assert!((ssim(&a, &a, 2.0).unwrap() - 1.0).abs() < 1e-12);
        let noisy = Array2::from_shape_fn((40, 50), |(r, c)| {
            a[[r, c]] + if (r * 7 + c * 3) % 5 == 0 { 0.3 } else { -0.1 }
        });
        let value = ssim(&a, &noisy, 2.0).unwrap();
        assert!(value < 0.9 && value > 0.0, "{value}");
        assert!(ssim(&a, &a.slice(s![..30, ..]).to_owned(), 2.0).is_none());
    }
}
