//! The Fourier error an exact model would have from photon noise alone: the floor a
//! reconstruction's data fit ([`super::residual`]) is judged above, so a scan at a low dose is
//! not taken for one the model does not explain.

use ndarray::Array2;
use num_complex::Complex32;

use super::residual::far_field;
use crate::fft::Fft2;

/// E[(√k − √λ)²] for k ~ Poisson(λ): what one detector pixel adds to the Fourier error's
/// numerator, in photons, when the model predicts λ exactly. About 2λ for λ ≪ 1, ¼ + 7/(64λ)
/// for λ ≫ 1 (from E√k ≈ √λ − 1/(8√λ) − 7/(128 λ^{3/2})), summed over the distribution between.
fn sqrt_poisson_misfit(lambda: f64) -> f64 {
    const TABLE_MIN: f64 = 1e-6;
    const TABLE_MAX: f64 = 40.0;
    const STEPS: usize = 4096;
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    if lambda <= TABLE_MIN {
        return 2.0 * lambda.max(0.0);
    }
    if lambda >= TABLE_MAX {
        return 0.25 + 7.0 / (64.0 * lambda);
    }
    let span = (TABLE_MAX / TABLE_MIN).ln();
    let table = TABLE.get_or_init(|| {
        (0..=STEPS)
            .map(|i| exact_sqrt_poisson_misfit(TABLE_MIN * (span * i as f64 / STEPS as f64).exp()))
            .collect()
    });
    let x = (lambda / TABLE_MIN).ln() / span * STEPS as f64;
    let i = (x.floor() as usize).min(STEPS - 1);
    let t = x - i as f64;
    table[i] * (1.0 - t) + table[i + 1] * t
}

/// [`sqrt_poisson_misfit`] by summing the distribution (λ up to a few tens).
fn exact_sqrt_poisson_misfit(lambda: f64) -> f64 {
    let last = (lambda + 12.0 * lambda.sqrt() + 25.0).ceil() as usize;
    let (mut p, mut mean_sqrt) = ((-lambda).exp(), 0.0);
    for k in 0..=last {
        mean_sqrt += (k as f64).sqrt() * p;
        p *= lambda / (k + 1) as f64;
    }
    (2.0 * lambda - 2.0 * lambda.sqrt() * mean_sqrt).max(0.0)
}

/// The Fourier error the reconstruction would have against data it explained exactly, from
/// photon noise alone: Σ E[(√k − √λ)²] / Σ λ over every detector pixel of every position, with
/// λ = s·|F|² / `photon_quantum` the predicted photons (s the fit's `intensity_scale`,
/// `photon_quantum` the amplitude² of one photon: 1 for √counts). A model is judged by its
/// Fourier error above this floor: at 1e4 photons per 64² pattern the floor alone is about
/// 0.02, five times a good model's own error at 1e9. `None` when there is nothing predicted.
pub fn fourier_noise_floor(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    positions_px: &[[f64; 2]],
    probe: &Array2<Complex32>,
    intensity_scale: f64,
    photon_quantum: f64,
) -> Option<f64> {
    let n = probe.nrows();
    if positions_px.is_empty()
        || probe.ncols() != n
        || photon_quantum.is_nan()
        || photon_quantum <= 0.0
    {
        return None;
    }
    let fft = Fft2::new(n, false);
    let probe: Vec<Complex32> = probe.iter().copied().collect();
    let mut psi = vec![Complex32::default(); n * n];
    let (mut misfit, mut photons) = (0.0f64, 0.0f64);
    for &position in positions_px {
        far_field(object, origin_px, position, &probe, &fft, &mut psi);
        for v in &psi {
            let lambda = intensity_scale * f64::from(v.norm_sqr()) / photon_quantum;
            misfit += sqrt_poisson_misfit(lambda);
            photons += lambda;
        }
    }
    (photons > 0.0 && photons.is_finite()).then(|| misfit / photons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::residual::data_fit;
    use ndarray::Array3;

    #[test]
    fn the_noise_floor_is_what_poisson_data_give_an_exact_model() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Poisson};
        // The misfit table agrees with the sums and meets the asymptote at its end.
        for lambda in [1e-5, 3e-3, 0.2, 1.0, 3.7, 12.0, 39.0] {
            let (table, exact) = (
                sqrt_poisson_misfit(lambda),
                exact_sqrt_poisson_misfit(lambda),
            );
            assert!(
                (table - exact).abs() < 1e-4 * exact.max(1e-3),
                "{lambda}: {table} {exact}"
            );
        }
        assert!((sqrt_poisson_misfit(40.0) - exact_sqrt_poisson_misfit(40.0)).abs() < 1e-4);
        let n = 16;
        let object = Array2::from_shape_fn((48, 48), |(r, c)| {
            Complex32::from_polar(1.0 - 0.2 * ((r / 3 + c / 4) % 2) as f32, 0.03 * r as f32)
        });
        let probe = Array2::from_shape_fn((n, n), |(r, c)| {
            let d = (r as f32 - 8.0).powi(2) + (c as f32 - 8.0).powi(2);
            Complex32::new((-d / 12.0).exp(), 0.0)
        });
        let positions: Vec<[f64; 2]> = (0..8)
            .flat_map(|i| (0..8).map(move |j| [12.0 + 3.0 * i as f64, 12.0 + 3.0 * j as f64]))
            .collect();
        let fft = Fft2::new(n, false);
        let probe_values: Vec<Complex32> = probe.iter().copied().collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        // Mean photons per pattern: a few per pixel at most, then many.
        for photons in [50.0, 2e5] {
            let mut intensity = Array3::<f64>::zeros((positions.len(), n, n));
            let mut psi = vec![Complex32::default(); n * n];
            for (j, &p) in positions.iter().enumerate() {
                far_field(&object, [0.0, 0.0], p, &probe_values, &fft, &mut psi);
                for ky in 0..n {
                    for kx in 0..n {
                        intensity[[j, (ky + n / 2) % n, (kx + n / 2) % n]] =
                            f64::from(psi[ky * n + kx].norm_sqr());
                    }
                }
            }
            let scale = photons * positions.len() as f64 / intensity.sum();
            let patterns = intensity.mapv(|i| {
                let counts = Poisson::new(scale * i).map_or(0.0, |d| d.sample(&mut rng));
                (counts as f32).sqrt()
            });
            let fit = data_fit(&object, [0.0, 0.0], &positions, &probe, &patterns).unwrap();
            let floor = fourier_noise_floor(
                &object,
                [0.0, 0.0],
                &positions,
                &probe,
                fit.intensity_scale,
                1.0,
            )
            .unwrap();
            eprintln!(
                "{photons} photons: Fourier error {} against the floor {floor}",
                fit.fourier_error
            );
            assert!(
                (fit.fourier_error / floor - 1.0).abs() < 0.1,
                "{photons} photons: {} against {floor}",
                fit.fourier_error
            );
        }
    }
}
