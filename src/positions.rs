//! Scan-position errors as measured scans carry them, and how far refined positions are from
//! the truth. Shared by the network's and ePIE's position refinement, the quality cases and the
//! tests.
//!
//! A global shift of every position is not observable (the object moves with it), so positions
//! are compared after removing their mean difference, and refinement pins the mean displacement
//! to zero.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Errors to put on true scan positions: random jitter, a few large outliers and a slow drift.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PositionErrors {
    /// RMS of the random displacement (both axes together), pixels.
    pub rms_px: f64,
    /// Share of positions (0–1) displaced by an outlier instead.
    pub outlier_fraction: f64,
    /// Outlier displacement range, pixels (uniform in length, random direction).
    pub outlier_px: [f64; 2],
    /// Linear drift reached at the last position (x and y), pixels.
    pub drift_px: [f64; 2],
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for PositionErrors {
    /// The quality case of issue 19: 7 px RMS, 2 % outliers of 20–30 px, a 6 px drift.
    fn default() -> Self {
        Self {
            rms_px: 7.0,
            outlier_fraction: 0.02,
            outlier_px: [20.0, 30.0],
            drift_px: [6.0, -4.0],
            seed: 19,
        }
    }
}

/// `positions` displaced by `errors` (seeded): each position either jitters (Gaussian, RMS
/// `rms_px` over both axes) or, with probability `outlier_fraction`, jumps by 20–30 px; the scan
/// drifts linearly along its order. The result is as a measured scan's nominal positions would
/// be, the input being the truth.
pub fn displace(positions: &[[f64; 2]], errors: &PositionErrors) -> Vec<[f64; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(errors.seed);
    let sigma = (errors.rms_px / std::f64::consts::SQRT_2).max(0.0);
    let normal = Normal::new(0.0, sigma.max(f64::MIN_POSITIVE)).ok();
    let count = positions.len().max(2) - 1;
    positions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let along = i as f64 / count as f64;
            let drift = [errors.drift_px[0] * along, errors.drift_px[1] * along];
            let jump = if rng.random::<f64>() < errors.outlier_fraction {
                let [lo, hi] = errors.outlier_px;
                let length = rng.random_range(lo.min(hi)..=hi.max(lo));
                let angle = rng.random_range(0.0..std::f64::consts::TAU);
                [length * angle.cos(), length * angle.sin()]
            } else {
                match (&normal, sigma > 0.0) {
                    (Some(normal), true) => [normal.sample(&mut rng), normal.sample(&mut rng)],
                    _ => [0.0, 0.0],
                }
            };
            [p[0] + drift[0] + jump[0], p[1] + drift[1] + jump[1]]
        })
        .collect()
}

/// The mean of `a − b`, `[x, y]` (zero when empty or lengths differ).
pub fn mean_difference(a: &[[f64; 2]], b: &[[f64; 2]]) -> [f64; 2] {
    if a.len() != b.len() || a.is_empty() {
        return [0.0, 0.0];
    }
    let n = a.len() as f64;
    a.iter().zip(b).fold([0.0, 0.0], |m, (p, q)| {
        [m[0] + (p[0] - q[0]) / n, m[1] + (p[1] - q[1]) / n]
    })
}

/// How far `positions` are from `truth`, after removing the mean difference (a global shift is
/// not observable).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PositionErrorStats {
    /// Root mean square distance, pixels.
    pub rms_px: f64,
    /// Largest distance, pixels.
    pub max_px: f64,
    /// Positions more than 3 px from the truth.
    pub beyond_3px: usize,
    /// The removed mean difference `[x, y]`, pixels.
    pub mean_shift_px: [f64; 2],
}

/// Compares `positions` with `truth` (same length; see [`PositionErrorStats`]).
pub fn error_stats(positions: &[[f64; 2]], truth: &[[f64; 2]]) -> PositionErrorStats {
    let shift = mean_difference(positions, truth);
    let distances: Vec<f64> = positions
        .iter()
        .zip(truth)
        .map(|(p, t)| (p[0] - shift[0] - t[0]).hypot(p[1] - shift[1] - t[1]))
        .collect();
    let n = distances.len().max(1) as f64;
    PositionErrorStats {
        rms_px: (distances.iter().map(|d| d * d).sum::<f64>() / n).sqrt(),
        max_px: distances.iter().copied().fold(0.0, f64::max),
        beyond_3px: distances.iter().filter(|&&d| d > 3.0).count(),
        mean_shift_px: shift,
    }
}

/// `refined` moved so that its mean displacement from `original` is zero (the global shift a
/// refinement cannot observe is kept where the user's positions put it).
pub fn pin_mean(refined: &mut [[f64; 2]], original: &[[f64; 2]]) {
    let shift = mean_difference(refined, original);
    for p in refined.iter_mut() {
        p[0] -= shift[0];
        p[1] -= shift[1];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displaced_positions_have_the_asked_errors_and_the_stats_see_them() {
        let truth: Vec<[f64; 2]> = (0..2000)
            .map(|i| [(i % 50) as f64 * 3.0, (i / 50) as f64 * 3.0])
            .collect();
        let errors = PositionErrors {
            drift_px: [0.0, 0.0],
            outlier_fraction: 0.0,
            ..PositionErrors::default()
        };
        let moved = displace(&truth, &errors);
        let stats = error_stats(&moved, &truth);
        assert!((stats.rms_px - 7.0).abs() < 0.4, "rms {}", stats.rms_px);
        let with_outliers = displace(
            &truth,
            &PositionErrors {
                rms_px: 0.0,
                outlier_fraction: 0.05,
                drift_px: [0.0, 0.0],
                ..PositionErrors::default()
            },
        );
        let stats = error_stats(&with_outliers, &truth);
        assert!(stats.max_px > 19.0 && stats.max_px < 31.5, "{stats:?}");
        assert!((60..140).contains(&stats.beyond_3px), "{stats:?}");
        // A pure global shift is no error at all.
        let shifted: Vec<[f64; 2]> = truth.iter().map(|p| [p[0] + 4.0, p[1] - 2.5]).collect();
        let stats = error_stats(&shifted, &truth);
        assert!(stats.rms_px < 1e-9 && (stats.mean_shift_px[0] - 4.0).abs() < 1e-9);
        let mut pinned = shifted.clone();
        pin_mean(&mut pinned, &truth);
        assert!((pinned[7][0] - truth[7][0]).abs() < 1e-9);
    }
}
