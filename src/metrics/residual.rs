//! How well a reconstruction explains the measured patterns, position by position, with no
//! ground truth: the object (as stitched) times the probe, propagated to the detector
//! (orthonormal FFT, physics.md §5), against the measured amplitudes. One global intensity scale
//! is fitted first (the one that makes the total predicted counts equal the measured ones, the
//! Poisson maximum-likelihood scale), since a network's object and probe, or ePIE's, carry their
//! scale between them.
//!
//! Two figures per scan position:
//! - the Poisson deviance per detector pixel, 2·Σ[k·ln(k/λ) − (k − λ)] / N², with the measured
//!   counts k = a² (a the file's amplitudes) and the predicted λ = s·|F|². For a model that
//!   explains counts up to their noise it is about 1 where counts are large and less where they
//!   are small; it reads in photon counts only when the file's amplitudes are √counts.
//! - the Fourier error Σ(√s·|F| − a)² / Σa², scale-free, the figure ePIE reports per sweep.
//!
//! [`residual_map`] spreads the per-position figure over the object, each position weighted by
//! its probe intensity, so the map shows where on the sample the model does not explain the data.

use ndarray::{Array2, ArrayRef3, Axis};
use num_complex::Complex32;

use crate::fft::Fft2;

/// Predicted intensities below this are floored before the logarithm (a pixel the model
/// predicts dark but that counted photons gets a large but finite deviance).
const MIN_INTENSITY: f64 = 1e-20;

/// The data fit of one reconstruction.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataFit {
    /// The intensity scale s fitted to the whole scan (predicted counts λ = s·|F|²).
    pub intensity_scale: f64,
    /// Poisson deviance per detector pixel over the whole scan.
    pub poisson_deviance_per_pixel: f64,
    /// Σ(√s·|F| − a)² / Σa² over the whole scan.
    pub fourier_error: f64,
    /// Poisson deviance per detector pixel at each scan position (the scan's order).
    pub position_deviance: Vec<f64>,
    /// Fourier error at each scan position.
    pub position_fourier_error: Vec<f64>,
    /// The Fourier error photon noise alone would give if the model were exact
    /// (`metrics::noise_floor::fourier_noise_floor`), when the scan's photon quantum is known.
    #[serde(default)]
    pub fourier_error_noise_floor: Option<f64>,
    /// The per-position deviance spread over the object's canvas ([`residual_map`]; NaN where
    /// no probe lights), when the caller made it. Not written to JSON: the per-position values
    /// and the positions are.
    #[serde(skip)]
    pub map: Option<Array2<f32>>,
}

impl DataFit {
    /// The median of the per-position deviances.
    pub fn median_position_deviance(&self) -> f64 {
        let mut v = self.position_deviance.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    /// Indices of the `count` positions the model explains worst, worst first.
    pub fn worst_positions(&self, count: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.position_deviance.len()).collect();
        order.sort_by(|&a, &b| self.position_deviance[b].total_cmp(&self.position_deviance[a]));
        order.truncate(count);
        order
    }
}

/// Sums over one position's detector pixels, from which both figures follow for any scale.
#[derive(Default, Clone, Copy)]
struct Sums {
    /// Σ(k·ln k − k)
    k_ln_k_minus_k: f64,
    /// Σ k·ln|F|²
    k_ln_model: f64,
    /// Σ|F|²
    model: f64,
    /// Σ k
    counts: f64,
    /// Σ|F|·a
    cross: f64,
}

impl Sums {
    fn deviance(&self, scale: f64) -> f64 {
        2.0 * (self.k_ln_k_minus_k - self.counts * scale.ln() - self.k_ln_model
            + scale * self.model)
    }

    fn fourier_error(&self, scale: f64) -> f64 {
        let amplitude_scale = scale.sqrt();
        let misfit = scale * self.model - 2.0 * amplitude_scale * self.cross + self.counts;
        if self.counts > 0.0 {
            misfit.max(0.0) / self.counts
        } else {
            0.0
        }
    }
}

/// The object's `n × n` patch centred at `position_px` (bilinear; zero off the canvas).
fn patch_at(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    position_px: [f64; 2],
    n: usize,
    out: &mut [Complex32],
) {
    let (h, w) = object.dim();
    let half = (n / 2) as f64;
    let x0 = position_px[0] - half - origin_px[0];
    let y0 = position_px[1] - half - origin_px[1];
    let (fx, fy) = (x0.floor(), y0.floor());
    let (tx, ty) = ((x0 - fx) as f32, (y0 - fy) as f32);
    let (cx, cy) = (fx as i64, fy as i64);
    let at = |r: i64, c: i64| {
        if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w {
            object[[r as usize, c as usize]]
        } else {
            Complex32::default()
        }
    };
    for r in 0..n {
        for c in 0..n {
            let (rr, cc) = (cy + r as i64, cx + c as i64);
            out[r * n + c] = at(rr, cc) * ((1.0 - ty) * (1.0 - tx))
                + at(rr, cc + 1) * ((1.0 - ty) * tx)
                + at(rr + 1, cc) * (ty * (1.0 - tx))
                + at(rr + 1, cc + 1) * (ty * tx);
        }
    }
}

/// The far field `F` of the object's patch at `position_px` under `probe` (`n × n`, row-major),
/// zero frequency at index 0, written into `psi`.
pub(super) fn far_field(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    position_px: [f64; 2],
    probe: &[Complex32],
    fft: &Fft2,
    psi: &mut [Complex32],
) {
    let n = fft.n();
    patch_at(object, origin_px, position_px, n, psi);
    for (v, p) in psi.iter_mut().zip(probe) {
        *v *= p;
    }
    fft.forward(psi);
}

/// Where a method that places each patch at the nearest canvas pixel (ePIE) put the patches of
/// `positions_px`, on a canvas whose pixel (0, 0) sits at `origin_px`, for `n × n` patches: its
/// object explains the data there, not at the fractional positions.
pub fn nearest_pixel_positions(
    positions_px: &[[f64; 2]],
    origin_px: [f64; 2],
    n: usize,
) -> Vec<[f64; 2]> {
    let half = (n / 2) as f64;
    positions_px
        .iter()
        .map(|p| [0, 1].map(|k| (p[k] - half - origin_px[k]).round() + half + origin_px[k]))
        .collect()
}

/// The data fit of `object` (pixel (0, 0) at `origin_px` = [x, y]) with `probe` at
/// `positions_px` against `patterns` (`[M, N, N]` amplitudes, zero frequency centred). `None`
/// when the shapes disagree, there are no positions, or the model predicts no intensity at all.
pub fn data_fit(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    positions_px: &[[f64; 2]],
    probe: &Array2<Complex32>,
    patterns: &ArrayRef3<f32>,
) -> Option<DataFit> {
    let (m, rows, cols) = patterns.dim();
    if m != positions_px.len() || rows != cols {
        return None;
    }
    data_fit_read(object, origin_px, positions_px, probe, rows, |j| {
        Some(patterns.index_axis(Axis(0), j).to_owned())
    })
}

/// [`data_fit`] with the patterns read one at a time: `read(j)` gives position `j`'s `n × n`
/// pattern (`None` when it cannot be read, which gives `None`). For scans read from disk.
pub fn data_fit_read(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    positions_px: &[[f64; 2]],
    probe: &Array2<Complex32>,
    pattern_n: usize,
    mut read: impl FnMut(usize) -> Option<Array2<f32>>,
) -> Option<DataFit> {
    let m = positions_px.len();
    let n = probe.nrows();
    if positions_px.is_empty() || probe.ncols() != n || pattern_n != n {
        return None;
    }
    let fft = Fft2::new(n, false);
    let half = n / 2;
    let probe: Vec<Complex32> = probe.iter().copied().collect();
    let mut psi = vec![Complex32::default(); n * n];
    let sums: Vec<Sums> = positions_px
        .iter()
        .enumerate()
        .map(|(j, &position)| {
            let pattern = read(j)?;
            if pattern.dim() != (n, n) {
                return None;
            }
            far_field(object, origin_px, position, &probe, &fft, &mut psi);
            let mut s = Sums::default();
            for ky in 0..n {
                for kx in 0..n {
                    let model = f64::from(psi[ky * n + kx].norm_sqr());
                    let a = f64::from(pattern[[(ky + half) % n, (kx + half) % n]]);
                    let k = a * a;
                    if k > 0.0 {
                        s.k_ln_k_minus_k += k * k.ln() - k;
                        s.k_ln_model += k * model.max(MIN_INTENSITY).ln();
                    }
                    s.model += model;
                    s.counts += k;
                    s.cross += model.sqrt() * a;
                }
            }
            Some(s)
        })
        .collect::<Option<_>>()?;
    let total_model: f64 = sums.iter().map(|s| s.model).sum();
    let total_counts: f64 = sums.iter().map(|s| s.counts).sum();
    if total_model <= 0.0 || !total_model.is_finite() {
        return None;
    }
    let scale = if total_counts > 0.0 {
        total_counts / total_model
    } else {
        1.0
    };
    let pixels = (n * n) as f64;
    let position_deviance: Vec<f64> = sums.iter().map(|s| s.deviance(scale) / pixels).collect();
    let position_fourier_error = sums.iter().map(|s| s.fourier_error(scale)).collect();
    let total = sums.iter().fold(Sums::default(), |a, s| Sums {
        k_ln_k_minus_k: a.k_ln_k_minus_k + s.k_ln_k_minus_k,
        k_ln_model: a.k_ln_model + s.k_ln_model,
        model: a.model + s.model,
        counts: a.counts + s.counts,
        cross: a.cross + s.cross,
    });
    Some(DataFit {
        intensity_scale: scale,
        poisson_deviance_per_pixel: total.deviance(scale) / (pixels * m as f64),
        fourier_error: total.fourier_error(scale),
        position_deviance,
        position_fourier_error,
        fourier_error_noise_floor: None,
        map: None,
    })
}

/// `values` (one per position) spread over a `dim` canvas whose pixel (0, 0) sits at
/// `origin_px`: each pixel gets the mean of the values of the positions lighting it, weighted by
/// `patch_weights` (`n × n`, e.g. |P|²) placed at the nearest pixel. Pixels whose summed weight is
/// under `min_weight_fraction` of one patch's peak weight are NaN (not reconstructed).
pub fn residual_map(
    values: &[f64],
    positions_px: &[[f64; 2]],
    patch_weights: &Array2<f32>,
    origin_px: [f64; 2],
    dim: (usize, usize),
    min_weight_fraction: f32,
) -> Array2<f32> {
    let (h, w) = dim;
    let n = patch_weights.nrows();
    let half = (n / 2) as f64;
    let mut sum = Array2::<f64>::zeros(dim);
    let mut weight = Array2::<f32>::zeros(dim);
    for (&value, p) in values.iter().zip(positions_px) {
        let top = (p[1] - half - origin_px[1]).round() as i64;
        let left = (p[0] - half - origin_px[0]).round() as i64;
        for ((r, c), &wt) in patch_weights.indexed_iter() {
            let (rr, cc) = (top + r as i64, left + c as i64);
            if rr < 0 || cc < 0 || rr as usize >= h || cc as usize >= w {
                continue;
            }
            let at = [rr as usize, cc as usize];
            sum[at] += f64::from(wt) * value;
            weight[at] += wt;
        }
    }
    let peak = patch_weights.iter().copied().fold(0.0f32, f32::max);
    let floor = peak * min_weight_fraction;
    Array2::from_shape_fn(dim, |at| {
        if weight[at] > floor && weight[at] > 0.0 {
            (sum[at] / f64::from(weight[at])) as f32
        } else {
            f32::NAN
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    /// Patterns simulated from an object and probe are explained exactly by them (deviance and
    /// Fourier error zero, scale recovered), and worse by a flattened object.
    #[test]
    fn exact_model_fits_and_a_wrong_one_does_not() {
        let n = 16;
        let object = Array2::from_shape_fn((40, 40), |(r, c)| {
            Complex32::from_polar(
                1.0 - 0.3 * ((r / 5 + c / 7) % 2) as f32,
                0.02 * (r + c) as f32,
            )
        });
        let probe = Array2::from_shape_fn((n, n), |(r, c)| {
            let d = (r as f32 - 8.0).powi(2) + (c as f32 - 8.0).powi(2);
            Complex32::new((-d / 20.0).exp(), 0.0)
        });
        let positions: Vec<[f64; 2]> = (0..4)
            .flat_map(|i| (0..4).map(move |j| [12.0 + 5.0 * i as f64, 12.0 + 5.0 * j as f64]))
            .collect();
        let fft = Fft2::new(n, false);
        let mut patterns = Array3::zeros((positions.len(), n, n));
        let mut psi = vec![Complex32::default(); n * n];
        for (j, &p) in positions.iter().enumerate() {
            patch_at(&object, [0.0, 0.0], p, n, &mut psi);
            for (v, q) in psi.iter_mut().zip(&probe) {
                *v *= q * 3.0;
            }
            fft.forward(&mut psi);
            for ky in 0..n {
                for kx in 0..n {
                    patterns[[j, (ky + n / 2) % n, (kx + n / 2) % n]] = psi[ky * n + kx].norm();
                }
            }
        }
        let fit = data_fit(&object, [0.0, 0.0], &positions, &probe, &patterns).unwrap();
        assert!(
            (fit.intensity_scale - 9.0).abs() < 1e-3,
            "{}",
            fit.intensity_scale
        );
        assert!(fit.fourier_error < 1e-9, "{}", fit.fourier_error);
        assert!(fit.poisson_deviance_per_pixel.abs() < 1e-6);
        let flat = object.mapv(|v| Complex32::new(0.85, 0.0) * v / v.norm());
        let worse = data_fit(&flat, [0.0, 0.0], &positions, &probe, &patterns).unwrap();
        assert!(worse.fourier_error > 1e-3, "{}", worse.fourier_error);
        assert!(worse.poisson_deviance_per_pixel > 1e-4);
        let weights = probe.mapv(|p| p.norm_sqr());
        let map = residual_map(
            &worse.position_deviance,
            &positions,
            &weights,
            [0.0; 2],
            (40, 40),
            0.1,
        );
        assert!(map[[0, 0]].is_nan());
        assert!(map[[20, 20]].is_finite() && map[[20, 20]] > 0.0);
    }
}
