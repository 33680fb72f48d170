//! Checks that need no ground truth: is there anything in the picture at all? Over the
//! illuminated pixels ([`super::region`]), the phase's spread after the mean phase and the
//! least-squares ramp are removed, and the share of pixels whose amplitude sits at the network's
//! bound (its sigmoid saturates at 0 and 1, physics.md §3.1). A phase flatter than
//! [`FLAT_PHASE_STD_RAD`] or an amplitude pinned at its bound over more than
//! [`AT_BOUND_SHARE`] of the scan means the model explains the data without an object: the
//! picture is not a reconstruction.

use ndarray::Array2;
use num_complex::Complex32;

use super::align::flattened_phase_over;
use super::region::illuminated;
use super::residual::DataFit;

/// Below this standard deviation of the phase (radians, ramp removed, illuminated pixels) the
/// phase is called flat. The weakest object we test, the simulated lines, carries 0.073 rad RMS
/// (tests/trust.rs); the Siemens star's phase spans about ±0.5 rad. A picture with less than
/// 0.02 rad of phase has nothing a user could read in it.
pub const FLAT_PHASE_STD_RAD: f64 = 0.02;

/// An amplitude within this distance of 0 or 1 counts as at the network's bound.
pub const BOUND_MARGIN: f32 = 0.01;

/// More than this share of the illuminated pixels at the bound draws a warning.
pub const AT_BOUND_SHARE: f64 = 0.25;

/// What the checks found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrustChecks {
    /// Illuminated pixels the checks looked at.
    pub lit_pixels: usize,
    /// Standard deviation of the phase, radians (mean and ramp removed).
    pub phase_std_rad: f64,
    /// Standard deviation of the amplitude over its mean.
    pub amplitude_relative_std: f64,
    /// Share of the illuminated pixels whose amplitude is within [`BOUND_MARGIN`] of 0 or 1
    /// (`None` for a method without that bound, such as ePIE).
    pub amplitude_at_bound: Option<f64>,
    /// Plain-language warnings (empty when nothing is wrong).
    pub warnings: Vec<String>,
    /// How well the object and its probe explain the measured patterns, per scan position
    /// ([`super::residual`]); `None` when no probe was given.
    #[serde(default)]
    pub data_fit: Option<DataFit>,
    /// The lit pixels of the object's canvas the checks looked at (not written to JSON: the
    /// reconstruction NPZ holds the illumination).
    #[serde(skip)]
    pub lit: Option<Array2<bool>>,
}

/// Runs the checks on `object` (pixel (0, 0) at `origin_px` = [x, y]) over the pixels that
/// patches weighted by `patch_weights` at `positions_px` light. `bounded` says whether the
/// amplitude comes from the network's sigmoid. `None` when no pixel is lit.
pub fn trust_checks(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    positions_px: &[[f64; 2]],
    patch_weights: &Array2<f32>,
    bounded: bool,
) -> Option<TrustChecks> {
    let top_left = [origin_px[0].round() as i64, origin_px[1].round() as i64];
    let lit = illuminated(positions_px, patch_weights, top_left, object.dim());
    let lit_pixels = lit.iter().filter(|&&v| v).count();
    if lit_pixels < 2 {
        return None;
    }
    let phase = flattened_phase_over(object, &lit);
    let phases: Vec<f64> = phase
        .iter()
        .zip(&lit)
        .filter(|(_, m)| **m)
        .map(|(&p, _)| f64::from(p))
        .collect();
    let amplitudes: Vec<f64> = object
        .iter()
        .zip(&lit)
        .filter(|(_, m)| **m)
        .map(|(v, _)| f64::from(v.norm()))
        .collect();
    let phase_std_rad = std_dev(&phases);
    let mean_amplitude = amplitudes.iter().sum::<f64>() / amplitudes.len() as f64;
    let amplitude_relative_std = std_dev(&amplitudes) / mean_amplitude.max(1e-30);
    let amplitude_at_bound = bounded.then(|| {
        let margin = f64::from(BOUND_MARGIN);
        amplitudes
            .iter()
            .filter(|&&a| a < margin || a > 1.0 - margin)
            .count() as f64
            / amplitudes.len() as f64
    });
    let mut warnings = Vec::new();
    if phase_std_rad < FLAT_PHASE_STD_RAD {
        warnings.push(format!(
            "the phase is flat: {phase_std_rad:.4} rad RMS over the lit pixels (below \
             {FLAT_PHASE_STD_RAD} rad); the model explains the data without an object, train \
             longer or check the probe and the positions"
        ));
    }
    if let Some(share) = amplitude_at_bound.filter(|&s| s > AT_BOUND_SHARE) {
        warnings.push(format!(
            "the amplitude sits at the network's bound (0 or 1) over {:.0} % of the lit pixels \
             (more than {:.0} %): the object is stronger or weaker than the network can express",
            100.0 * share,
            100.0 * AT_BOUND_SHARE
        ));
    }
    Some(TrustChecks {
        lit_pixels,
        phase_std_rad,
        amplitude_relative_std,
        amplitude_at_bound,
        warnings,
        data_fit: None,
        lit: Some(lit),
    })
}

/// Population standard deviation.
fn std_dev(values: &[f64]) -> f64 {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}
