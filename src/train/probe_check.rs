//! Can the network's object reach the data's energy with this probe? The network's amplitude is
//! a sigmoid (≤ 1) on the central N/2 × N/2 of the patch, and the normalised data carry
//! Σ X² = (N/2)² per pattern on average (physics.md §2), while the prediction carries
//! Σ |P·O|² (§3.4, orthonormal). So the object needs an rms amplitude, weighted by |P|² over
//! that box, of √((N/2)² / Σ_box |P_norm|²). Above 1 the sigmoid saturates and the amplitude
//! goes flat; normalising the probe over the central disk (`probe_mask`) rescales it.

use ndarray::Array2;
use num_complex::Complex32;

/// The |P|²-weighted rms object amplitude that matches the data's energy, for the probe
/// normalised per §3.3 (over the disk of radius N/4 when `mask`).
pub fn required_amplitude_rms(probe: &Array2<Complex32>, mask: bool) -> f64 {
    let n = probe.nrows();
    let (c, r) = (n as f64 / 2.0, n as f64 / 4.0);
    let in_disk = |row: usize, col: usize| {
        let (y, x) = (row as f64 - c, col as f64 - c);
        x * x + y * y <= r * r
    };
    let mean_magnitude = probe
        .indexed_iter()
        .map(|((row, col), z)| {
            if !mask || in_disk(row, col) {
                f64::from(z.norm())
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / (n * n).max(1) as f64;
    if mean_magnitude <= 0.0 {
        return f64::INFINITY;
    }
    let scale = 1.0 / (4.0 * mean_magnitude);
    let (lo, hi) = (n / 4, n / 4 + n / 2);
    let box_energy: f64 = probe
        .indexed_iter()
        .filter(|((row, col), _)| (lo..hi).contains(row) && (lo..hi).contains(col))
        .map(|(_, z)| f64::from(z.norm_sqr()) * scale * scale)
        .sum();
    let target = (n as f64 / 2.0).powi(2);
    (target / box_energy.max(f64::MIN_POSITIVE)).sqrt()
}

/// The constant the §3.3-normalised probe is multiplied by so that an object of rms amplitude
/// `target` explains the data's energy (see [`crate::train::TrainConfig::amplitude_target`]):
/// [`required_amplitude_rms`] over `target`, since the amplitude needed scales as one over the
/// probe's. 1 without a target, or for a probe with no energy in the network's box.
pub fn probe_gain(probe: &Array2<Complex32>, mask: bool, target: Option<f64>) -> f64 {
    let Some(target) = target else {
        return 1.0;
    };
    let gain = required_amplitude_rms(probe, mask) / target;
    if gain.is_finite() && gain > 0.0 {
        gain
    } else {
        1.0
    }
}

/// A warning when the configured normalisation, times `gain`, asks for amplitudes the sigmoid
/// cannot give.
pub fn amplitude_scale_warning(probe: &Array2<Complex32>, mask: bool, gain: f64) -> Option<String> {
    let needed = required_amplitude_rms(probe, mask) / gain;
    if needed <= 1.0 {
        return None;
    }
    Some(format!(
        "with this probe the object needs an rms amplitude of {needed:.2} to reach the data's \
         energy, above the network's maximum of 1: the amplitude will saturate (set the \
         amplitude target, --amplitude-target, below 1)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_probe_needs_a_known_amplitude() {
        // A uniform probe of ones at N = 64: mean |P| = 1 → P_norm = 1/4 everywhere; the
        // central 32² box holds 1024 / 16 = 64; the target is 32² = 1024 → rms √16 = 4.
        let probe = Array2::from_elem((64, 64), Complex32::new(1.0, 0.0));
        assert!((required_amplitude_rms(&probe, false) - 4.0).abs() < 1e-9);
        // With the mask the mean is over the disk only (π·16² of 4096 pixels are ones).
        let ones_in_disk = (0..64)
            .flat_map(|r| (0..64).map(move |c| (r, c)))
            .filter(|&(r, c)| {
                let (y, x) = (r as f64 - 32.0, c as f64 - 32.0);
                x * x + y * y <= 256.0
            })
            .count() as f64;
        let scale = 1.0 / (4.0 * ones_in_disk / 4096.0);
        let expected = (1024.0 / (1024.0 * scale * scale)).sqrt();
        assert!((required_amplitude_rms(&probe, true) - expected).abs() < 1e-9);
        assert!(
            amplitude_scale_warning(&probe, false, 1.0)
                .is_some_and(|w| w.contains("--amplitude-target"))
        );
        // The gain for a target brings the amplitude needed to it, and silences the warning.
        let gain = probe_gain(&probe, false, Some(0.64));
        assert!((gain - 4.0 / 0.64).abs() < 1e-9);
        assert!(amplitude_scale_warning(&probe, false, gain).is_none());
        assert!((probe_gain(&probe, false, None) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_gain_is_one_for_a_probe_with_no_energy() {
        let probe = Array2::from_elem((64, 64), Complex32::new(0.0, 0.0));
        assert!((probe_gain(&probe, false, Some(0.5)) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_compact_probe_needs_no_warning() {
        // Ones on a disk of radius 10: most of its energy is in the central box.
        let probe = Array2::from_shape_fn((64, 64), |(r, c)| {
            let (y, x) = (r as f64 - 32.0, c as f64 - 32.0);
            Complex32::new(if x * x + y * y <= 100.0 { 1.0 } else { 0.0 }, 0.0)
        });
        assert!(required_amplitude_rms(&probe, false) < 1.0);
        assert!(amplitude_scale_warning(&probe, false, 1.0).is_none());
    }
}
