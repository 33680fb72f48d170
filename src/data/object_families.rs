//! Synthetic objects beyond the §9 lines, for models that should generalise to new kinds of
//! sample: smooth textures at a chosen contrast, and a mosaic of several families on one
//! canvas, so one scan trains a network on all of them (see `docs/reuse.md`).

use ndarray::{Array2, s};
use num_complex::Complex32;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::simulate::{SimulationConfig, lines_object};
use crate::filter::gaussian_blur;

/// The random stream of the textures (apart from the lines' and the positions').
const TEXTURE_STREAM: u64 = u64::MAX - 2;

/// Blur of the texture's white noise, pixels: grains of about 2σ ≈ 8 px, a few per 64-px patch.
const TEXTURE_SIGMA_PX: f64 = 4.0;

/// Contrast of a pattern v ∈ [0, 1]: amplitude 1 − `absorption` · v, phase `phase_rad` · v.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contrast {
    /// The amplitude's drop where v = 1.
    pub absorption: f32,
    /// The phase where v = 1, radians.
    pub phase_rad: f32,
}

impl Contrast {
    fn apply(self, v: f32) -> Complex32 {
        Complex32::from_polar(1.0 - self.absorption * v, self.phase_rad * v)
    }
}

/// Gaussian-blurred white noise (σ = 4 px), stretched to [0, 1], at `contrast`; seeded by
/// `config.seed` and `stream`.
pub fn texture_object(
    config: &SimulationConfig,
    contrast: Contrast,
    stream: u64,
) -> Array2<Complex32> {
    let size = config.object_size;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    rng.set_stream(TEXTURE_STREAM ^ stream);
    let noise =
        Array2::from_shape_simple_fn((size, size), || -> f64 { StandardNormal.sample(&mut rng) });
    let smooth = gaussian_blur(&noise, TEXTURE_SIGMA_PX);
    let (lo, hi) = smooth
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    smooth.mapv(|v| contrast.apply(((v - lo) / span) as f32))
}

/// A 2 × 2 mosaic of families on a `config.object_size`² canvas, each quadrant its own object
/// (the line density of §9 kept): the §9 lines; lines at a weaker contrast (amplitude
/// 0.6 + 0.4 v, phase 0.5 v); a texture with strong phase and absorption (1 rad, 30 %); a faint
/// texture (0.3 rad, 10 %). No spokes or discs: a Siemens star stays a kind it has not seen.
pub fn mixed_object(config: &SimulationConfig) -> Array2<Complex32> {
    let size = config.object_size;
    let half = size / 2;
    let quadrant = SimulationConfig {
        object_size: half,
        n_lines: (config.n_lines / 4).max(1),
        ..*config
    };
    let lines = lines_object(&quadrant);
    let weak_lines = lines_object(&SimulationConfig {
        seed: config.seed.wrapping_add(1),
        ..quadrant
    })
    .mapv(|z| {
        let v = z.norm();
        Complex32::from_polar(0.6 + 0.4 * v, 0.5 * v)
    });
    let strong = Contrast {
        absorption: 0.3,
        phase_rad: 1.0,
    };
    let faint = Contrast {
        absorption: 0.1,
        phase_rad: 0.3,
    };
    let textures = [
        texture_object(&quadrant, strong, 1),
        texture_object(&quadrant, faint, 2),
    ];
    let mut canvas = Array2::from_elem((size, size), Complex32::new(1.0, 0.0));
    let tiles = [&lines, &weak_lines, &textures[0], &textures[1]];
    for (k, tile) in tiles.into_iter().enumerate() {
        let (r, c) = ((k / 2) * half, (k % 2) * half);
        canvas.slice_mut(s![r..r + half, c..c + half]).assign(tile);
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_texture_spans_its_contrast_and_is_seeded() {
        let config = SimulationConfig {
            object_size: 96,
            ..SimulationConfig::default()
        };
        let contrast = Contrast {
            absorption: 0.3,
            phase_rad: 1.0,
        };
        let t = texture_object(&config, contrast, 1);
        let amplitude = |z: &Complex32| z.norm();
        let (lo, hi) = t
            .iter()
            .map(amplitude)
            .fold((f32::MAX, f32::MIN), |(l, h), a| (l.min(a), h.max(a)));
        assert!(
            (lo - 0.7).abs() < 1e-4 && (hi - 1.0).abs() < 1e-4,
            "{lo} … {hi}"
        );
        assert_eq!(t, texture_object(&config, contrast, 1));
        assert_ne!(t, texture_object(&config, contrast, 2));
    }

    #[test]
    fn the_mosaic_holds_four_families() {
        let config = SimulationConfig {
            object_size: 128,
            ..SimulationConfig::default()
        };
        let m = mixed_object(&config);
        assert_eq!(m.dim(), (128, 128));
        // The top-left quadrant is the §9 lines (phase = amplitude), the others are not.
        let lines_like = |r: usize, c: usize| {
            let z = m[[r, c]];
            (z.arg() - z.norm()).abs() < 1e-4
        };
        assert!(lines_like(10, 10) && lines_like(50, 50));
        assert!(!lines_like(100, 100));
    }
}
