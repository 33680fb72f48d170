//! The reference's standard synthetic dataset (physics.md §9): a "lines" object, the default
//! probe, random or raster positions, Poisson noise. Deterministic: the same configuration
//! gives the same arrays bit for bit, whatever the thread count.

use ndarray::{Array2, Array3, Axis};
use num_complex::Complex32;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use rayon::prelude::*;

use super::detect::fftshift;
use super::{Dataset, DatasetError, DatasetParts};
use crate::fft::Fft2;
use crate::filter::gaussian_blur;
use crate::geometry::bilinear_sample;

/// Where the scan positions go.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum ScanPattern {
    /// This many uniformly random patch centres in [N/2 + 2, S − N/2 − 2]².
    Random {
        /// Number of positions.
        count: usize,
    },
    /// A square raster over the same range with this step (pixels).
    Raster {
        /// Step between neighbours, pixels.
        step_px: f64,
    },
}

/// Random streams of one seed: the object and the positions draw from their own; pattern i's
/// noise from stream i + 1.
const OBJECT_STREAM: u64 = u64::MAX;
const POSITION_STREAM: u64 = u64::MAX - 1;

/// What to simulate. Defaults: the standard case (N = 64, S = 392, 1e9 photons).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SimulationConfig {
    /// Pattern size N.
    pub n: usize,
    /// Object side S (pixels).
    pub object_size: usize,
    /// Mean photons per pattern.
    pub nphotons: f64,
    /// Number of lines drawn.
    pub n_lines: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            n: 64,
            object_size: 392,
            nphotons: 1e9,
            n_lines: 400,
            seed: 1,
        }
    }
}

/// The "lines" object: `n_lines` 1-px lines between random end points on a 2S × 2S canvas,
/// img = G₁ + 2·G₅ + 5·G₁₀, the central S × S, amplitude = img / max(img), and phase = the
/// amplitude in radians (so phase ∈ [0, 1] rad).
pub fn lines_object(config: &SimulationConfig) -> Array2<Complex32> {
    let s = config.object_size;
    let big = 2 * s;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(OBJECT_STREAM);
    let mut canvas = Array2::<f64>::zeros((big, big));
    for _ in 0..config.n_lines {
        let (x0, y0, x1, y1): (f64, f64, f64, f64) = (
            rng.random_range(0.0..big as f64),
            rng.random_range(0.0..big as f64),
            rng.random_range(0.0..big as f64),
            rng.random_range(0.0..big as f64),
        );
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            let (r, c) = (y.floor() as usize, x.floor() as usize);
            if r < big && c < big {
                canvas[[r, c]] = 1.0;
            }
        }
    }
    let g1 = gaussian_blur(&canvas, 1.0);
    let g5 = gaussian_blur(&canvas, 5.0);
    let g10 = gaussian_blur(&canvas, 10.0);
    let start = (big - s) / 2;
    let img = Array2::from_shape_fn((s, s), |(r, c)| {
        let (r, c) = (r + start, c + start);
        g1[[r, c]] + 2.0 * g5[[r, c]] + 5.0 * g10[[r, c]]
    });
    let max = img.fold(0.0f64, |m, &v| m.max(v)).max(f64::MIN_POSITIVE);
    img.mapv(|v| {
        let amplitude = v / max;
        Complex32::from_polar(amplitude as f32, amplitude as f32)
    })
}

/// An object of another kind than the lines, for testing a model on a sample it was not trained
/// on: a Siemens star (36 spokes out to 0.45 S from the centre) and `config.n_lines / 20`
/// discs of radius 3–12 px at seeded places, blurred by G₁; where the pattern s ∈ [0, 1] is
/// 1 the amplitude is 0.75 and the phase 0.7 rad (amplitude contrast 25 %).
pub fn star_object(config: &SimulationConfig) -> Array2<Complex32> {
    let s = config.object_size;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(OBJECT_STREAM);
    let centre = s as f64 / 2.0;
    let mut canvas = Array2::from_shape_fn((s, s), |(r, c)| {
        let (y, x) = (r as f64 - centre, c as f64 - centre);
        let spoke = (18.0 * y.atan2(x)).sin() > 0.0;
        f64::from(u8::from(spoke && x.hypot(y) < 0.45 * s as f64))
    });
    for _ in 0..(config.n_lines / 20).max(1) {
        let (cx, cy, radius): (f64, f64, f64) = (
            rng.random_range(0.0..s as f64),
            rng.random_range(0.0..s as f64),
            rng.random_range(3.0..12.0),
        );
        for ((r, c), v) in canvas.indexed_iter_mut() {
            if (c as f64 - cx).hypot(r as f64 - cy) < radius {
                *v = 1.0;
            }
        }
    }
    gaussian_blur(&canvas, 1.0).mapv(|v| {
        let v = v.clamp(0.0, 1.0);
        Complex32::from_polar((1.0 - 0.25 * v) as f32, (0.7 * v) as f32)
    })
}

/// The probe normalisation of physics.md §3.3 without the disk mask: P / (4 · mean|P|).
pub fn normalize_probe(probe: &Array2<Complex32>) -> Array2<Complex32> {
    let mean = probe.iter().map(|c| f64::from(c.norm())).sum::<f64>() / probe.len() as f64;
    let factor = if mean > 0.0 {
        (1.0 / (4.0 * mean)) as f32
    } else {
        1.0
    };
    probe.mapv(|c| c * factor)
}

/// The default probe: a Gaussian-window disk, blurred (σ = 1 px), + 1e-9, real, then
/// normalised (§3.3).
pub fn default_probe(n: usize) -> Array2<Complex32> {
    let sigma = n as f64 / (0.7 * std::f64::consts::PI.powi(2));
    let centre = (n as f64 - 1.0) / 2.0;
    let w: Vec<f64> = (0..n)
        .map(|i| (-0.5 * ((i as f64 - centre) / sigma).powi(2)).exp())
        .collect();
    let w_max = w.iter().copied().fold(0.0, f64::max);
    let disk = Array2::from_shape_fn((n, n), |(r, c)| {
        if w[r] / w_max * w[c] / w_max > 0.5 {
            1.0
        } else {
            0.0
        }
    });
    let blurred = gaussian_blur(&disk, 1.0);
    normalize_probe(&blurred.mapv(|v| Complex32::new((v + 1e-9) as f32, 0.0)))
}

/// Bilinear N × N patch of `object` centred at `[x, y]`: patch[i, j] = O(y − N/2 + i,
/// x − N/2 + j), zero outside the object.
pub fn extract_patch(
    object: &Array2<Complex32>,
    position: [f64; 2],
    n: usize,
) -> Array2<Complex32> {
    let top = position[1] - (n / 2) as f64;
    let left = position[0] - (n / 2) as f64;
    Array2::from_shape_fn((n, n), |(i, j)| {
        bilinear_sample(object, top + i as f64, left + j as f64)
    })
}

/// Patch centres for `pattern` on an S × S object, seeded by `seed`.
pub fn scan_positions(
    pattern: ScanPattern,
    n: usize,
    object_size: usize,
    seed: u64,
) -> Vec<[f64; 2]> {
    let lo = (n / 2 + 2) as f64;
    let hi = object_size as f64 - (n / 2) as f64 - 2.0;
    match pattern {
        ScanPattern::Random { count } => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(POSITION_STREAM);
            (0..count)
                .map(|_| [rng.random_range(lo..=hi), rng.random_range(lo..=hi)])
                .collect()
        }
        ScanPattern::Raster { step_px } => {
            let per_side = ((hi - lo) / step_px).floor() as usize + 1;
            (0..per_side * per_side)
                .map(|i| {
                    [
                        lo + (i % per_side) as f64 * step_px,
                        lo + (i / per_side) as f64 * step_px,
                    ]
                })
                .collect()
        }
    }
}

/// A simulated scan: the dataset (with `object` = the truth) and the true patches.
#[derive(Debug, Clone)]
pub struct SimulatedScan {
    /// Diffraction amplitudes, positions, probe, true object.
    pub dataset: Dataset,
    /// `[m, n, n]` true object patches (the `Y` key).
    pub truth_patches: Array3<Complex32>,
    /// The intensity scale s used: counts = Poisson((s·A)²), diff3d = √counts / s.
    pub intensity_scale: f64,
}

/// The standard synthetic scan in one call (physics.md §9): `config`'s lines object (seeded by
/// `config.seed`) under the default probe, at `pattern`'s positions, with Poisson noise at
/// `config.nphotons`; the positions and the noise are seeded by `seed`.
pub fn simulate_lines_scan(
    config: &SimulationConfig,
    pattern: ScanPattern,
    seed: u64,
) -> Result<SimulatedScan, DatasetError> {
    simulate_object_scan(&lines_object(config), None, config, pattern, seed)
}

/// [`simulate_lines_scan`] over any `object` of `config.object_size`² (e.g. [`star_object`]),
/// with `probe` (default: [`default_probe`]).
pub fn simulate_object_scan(
    object: &Array2<Complex32>,
    probe: Option<&Array2<Complex32>>,
    config: &SimulationConfig,
    pattern: ScanPattern,
    seed: u64,
) -> Result<SimulatedScan, DatasetError> {
    let positions = scan_positions(pattern, config.n, config.object_size, seed);
    let default;
    let probe = match probe {
        Some(p) => p,
        None => {
            default = default_probe(config.n);
            &default
        }
    };
    simulate_scan(object, probe, positions, config.nphotons, seed)
}

/// Simulates diffraction for `positions` over `object` with `probe`: Ψ = P · patch,
/// A = |fftshift(fft2(Ψ))| / N, s = √(nphotons / mean Σ|Ψ|²), counts = Poisson((s·A)²) with
/// one seeded stream per pattern, diff3d = √counts / s.
pub fn simulate_scan(
    object: &Array2<Complex32>,
    probe: &Array2<Complex32>,
    positions: Vec<[f64; 2]>,
    nphotons: f64,
    seed: u64,
) -> Result<SimulatedScan, DatasetError> {
    let n = probe.nrows();
    let fft = Fft2::new(n, false);
    let patches: Vec<Array2<Complex32>> = positions
        .par_iter()
        .map(|&p| extract_patch(object, p, n))
        .collect();
    let amplitudes: Vec<Array2<f64>> = patches
        .par_iter()
        .map(|patch| {
            let mut psi: Vec<Complex32> = (patch * probe).iter().copied().collect();
            fft.forward(&mut psi);
            let spectrum =
                Array2::from_shape_vec((n, n), psi.iter().map(|c| f64::from(c.norm())).collect())
                    .unwrap_or_else(|_| Array2::zeros((n, n)));
            fftshift(&spectrum)
        })
        .collect();
    let mean_energy = amplitudes
        .iter()
        .map(|a| a.mapv(|v| v * v).sum())
        .sum::<f64>()
        / positions.len().max(1) as f64;
    let scale = if mean_energy > 0.0 {
        (nphotons / mean_energy).sqrt()
    } else {
        1.0
    };
    let noisy: Vec<Vec<f32>> = amplitudes
        .par_iter()
        .enumerate()
        .map(|(i, a)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64 + 1);
            a.iter()
                .map(|&v| {
                    let lambda = (scale * v).powi(2);
                    let counts = Poisson::new(lambda).map_or(0.0, |d| d.sample(&mut rng));
                    (counts.sqrt() / scale) as f32
                })
                .collect()
        })
        .collect();
    let m = positions.len();
    let diffraction = Array3::from_shape_vec((m, n, n), noisy.concat())
        .map_err(|e| DatasetError::Grouping(format!("internal shape error: {e}")))?;
    let mut truth_patches = Array3::<Complex32>::zeros((m, n, n));
    for (mut dst, src) in truth_patches.axis_iter_mut(Axis(0)).zip(&patches) {
        dst.assign(src);
    }
    let dataset = Dataset::new(DatasetParts {
        diffraction,
        positions_px: positions,
        probe: probe.clone(),
        object: Some(object.clone()),
        scan_index: None,
    })?;
    Ok(SimulatedScan {
        dataset,
        truth_patches,
        intensity_scale: scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_is_normalised_and_disk_like() {
        let p = default_probe(64);
        let mean: f32 = p.iter().map(|c| c.norm()).sum::<f32>() / p.len() as f32;
        assert!((mean - 0.25).abs() < 1e-6);
        assert!(p[[32, 32]].norm() > 100.0 * p[[0, 0]].norm());
        assert!(p.iter().all(|c| c.im == 0.0));
    }

    #[test]
    fn patch_extraction_is_bilinear() {
        let obj = Array2::from_shape_fn((10, 10), |(r, c)| Complex32::new(c as f32, r as f32));
        let p = extract_patch(&obj, [5.5, 4.25], 4);
        // patch[0, 0] = O(4.25 − 2, 5.5 − 2) = (x 3.5, y 2.25)
        assert!((p[[0, 0]] - Complex32::new(3.5, 2.25)).norm() < 1e-6);
    }

    #[test]
    fn noise_free_limit_matches_the_patches_energy() {
        let cfg = SimulationConfig {
            object_size: 128,
            n_lines: 40,
            ..Default::default()
        };
        let obj = lines_object(&cfg);
        let probe = default_probe(64);
        let pos = scan_positions(ScanPattern::Random { count: 6 }, 64, 128, 2);
        let sim = simulate_scan(&obj, &probe, pos, 1e12, 3).unwrap();
        for i in 0..6 {
            let psi_energy: f32 = (&sim.truth_patches.index_axis(Axis(0), i) * &probe)
                .iter()
                .map(|c| c.norm_sqr())
                .sum();
            let a_energy: f32 = sim.dataset.pattern(i).unwrap().iter().map(|a| a * a).sum();
            assert!(
                (psi_energy - a_energy).abs() < 1e-3 * psi_energy,
                "{psi_energy} vs {a_energy}"
            );
        }
    }
}
