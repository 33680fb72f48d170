//! The full comparison of physics.md §7: crop to the scanned region, optionally register,
//! remove phase planes, scale amplitude, then MAE, PSNR, SSIM, Pearson and FRC per channel.

use ndarray::{Array2, s};
use num_complex::Complex32;

use super::align::{align_over, crop_to_scan, scan_box};
use super::frc::frc;
use super::region::illuminated;
use super::register::{phase_cross_correlation, shift_bilinear};
use super::ssim::ssim_over;
use super::stats::{mean_abs_error, pearson};

/// Scores of one channel (amplitude or phase).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelScores {
    /// Mean absolute error.
    pub mae: f64,
    /// PSNR in dB with the truth's data range (max − min) as the peak.
    pub psnr_db: f64,
    /// SSIM (phase mapped from [−π, π] to [0, 1]; amplitude over the truth's data range).
    pub ssim: Option<f64>,
    /// Pearson correlation.
    pub pearson: Option<f64>,
    /// FRC ½-bit resolution, fraction of Nyquist.
    pub frc_half_bit: Option<f64>,
    /// FRC50, fraction of Nyquist.
    pub frc50: Option<f64>,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    /// Amplitude scores.
    pub amplitude: ChannelScores,
    /// Phase scores.
    pub phase: ChannelScores,
    /// The registration shift applied to the reconstruction `[dx, dy]`, pixels.
    pub shift_px: [f64; 2],
    /// False when registration was not asked for, or found a shift beyond
    /// [`MAX_REGISTRATION_FRACTION`] of the region (then none is applied: a shift that large
    /// means the images do not match, and hiding it would flatter a broken reconstruction).
    pub registered: bool,
    /// Rows × columns of the scanned box.
    pub region_px: [usize; 2],
    /// Fraction of the box's pixels compared (the illuminated ones; 1 without a region).
    pub compared_fraction: f64,
}

/// Scores over the `mask` pixels: MAE, PSNR, Pearson on them; SSIM averaged over them; FRC on
/// the whole box with the pixels outside the mask set to each image's mean inside it (FRC needs
/// a full rectangle).
fn scores(
    recon: &Array2<f32>,
    truth: &Array2<f32>,
    mask: &Array2<bool>,
    is_phase: bool,
) -> ChannelScores {
    let inside = |a: &Array2<f32>| {
        a.iter()
            .zip(mask)
            .filter(|(_, m)| **m)
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
    };
    let (r, t) = (inside(recon), inside(truth));
    let (lo, hi) = t
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let range = f64::from(hi - lo).max(f64::MIN_POSITIVE);
    let mse = r
        .iter()
        .zip(&t)
        .map(|(a, b)| f64::from(a - b).powi(2))
        .sum::<f64>()
        / r.len().max(1) as f64;
    let ssim_value = if is_phase {
        let to_unit =
            |a: &Array2<f32>| a.mapv(|v| (v + std::f32::consts::PI) / (2.0 * std::f32::consts::PI));
        ssim_over(&to_unit(recon), &to_unit(truth), 1.0, mask)
    } else {
        ssim_over(recon, truth, range, mask)
    };
    let filled = |a: &Array2<f32>, values: &[f32]| {
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len().max(1) as f64;
        let mut out = a.clone();
        out.zip_mut_with(mask, |v, &m| {
            if !m {
                *v = mean as f32;
            }
        });
        out
    };
    let curve = frc(&filled(recon, &r), &filled(truth, &t));
    ChannelScores {
        mae: mean_abs_error(&r, &t),
        psnr_db: 10.0 * (range * range / mse.max(f64::MIN_POSITIVE)).log10(),
        ssim: ssim_value,
        pearson: pearson(&r, &t),
        frc_half_bit: curve
            .as_ref()
            .map(super::frc::FrcCurve::half_bit_resolution),
        frc50: curve.as_ref().map(super::frc::FrcCurve::frc50),
    }
}

/// A registration that was kept: the shift and the three images moved and trimmed by it.
struct Registered {
    shift: [f64; 2],
    recon: Array2<Complex32>,
    truth: Array2<Complex32>,
    mask: Array2<bool>,
}

/// The sub-pixel shift that aligns `r` with `t`, found by phase cross-correlation of their
/// amplitudes over the `mask` pixels (each image's mean outside them, so the unlit border and
/// holes do not register with each other), with the border the shift exposes trimmed. Kept only
/// when it is within [`MAX_REGISTRATION_FRACTION`] and raises the amplitudes' Pearson over the
/// mask: a whitened correlation of images that share only coarse structure can peak at a
/// spurious shift (a lines object reconstructed at 0.93 was once "registered" by 39 px to 0.12).
fn registration(
    r: &Array2<Complex32>,
    t: &Array2<Complex32>,
    mask: &Array2<bool>,
) -> Option<Registered> {
    let amplitude = |a: &Array2<Complex32>| {
        let values = a.mapv(Complex32::norm);
        let (sum, count) = values
            .iter()
            .zip(mask)
            .filter(|(_, m)| **m)
            .fold((0.0f64, 0usize), |(s, c), (v, _)| {
                (s + f64::from(*v), c + 1)
            });
        let mean = (sum / count.max(1) as f64) as f32;
        ndarray::Zip::from(&values)
            .and(mask)
            .map_collect(|&v, &m| if m { v } else { mean })
    };
    let limit = MAX_REGISTRATION_FRACTION * r.nrows().min(r.ncols()) as f64;
    let shift = phase_cross_correlation(&amplitude(t), &amplitude(r))
        .filter(|f| f[0].abs() <= limit && f[1].abs() <= limit)?;
    let margin = shift[0].abs().max(shift[1].abs()).ceil() as usize + 1;
    let (h, w) = r.dim();
    let (rows, cols) = if h > 2 * margin + 8 && w > 2 * margin + 8 {
        (margin..h - margin, margin..w - margin)
    } else {
        (0..h, 0..w)
    };
    let keep = s![rows, cols];
    let found = Registered {
        shift,
        recon: shift_bilinear(r, shift).slice(keep).to_owned(),
        truth: t.slice(keep).to_owned(),
        mask: mask.slice(keep).to_owned(),
    };
    let amplitude_pearson = |a: &Array2<Complex32>, b: &Array2<Complex32>, m: &Array2<bool>| {
        let inside = |x: &Array2<Complex32>| -> Vec<f32> {
            x.iter()
                .zip(m)
                .filter(|(_, m)| **m)
                .map(|(v, _)| v.norm())
                .collect()
        };
        pearson(&inside(a), &inside(b)).unwrap_or(f64::NEG_INFINITY)
    };
    let before = amplitude_pearson(r, t, mask);
    let after = amplitude_pearson(&found.recon, &found.truth, &found.mask);
    (after > before).then_some(found)
}

/// The largest registration shift applied, as a fraction of the region's smaller side.
pub const MAX_REGISTRATION_FRACTION: f64 = 0.125;

/// Compares `recon` (pixel (0, 0) at object coordinates `recon_origin_px`) with `truth` over the
/// bounding box of `positions_px`, and inside it over the illuminated pixels when
/// `patch_weights` (`[n, n]`, the stitcher's weight of each patch pixel) is given (see
/// [`illuminated`]). With `register`, the reconstruction is first shifted by the sub-pixel
/// phase cross-correlation of the amplitudes, and the border the shift exposes is trimmed,
/// when that aligns them better ([`registration`]).
/// `None` when the regions do not overlap or no pixel is illuminated.
pub fn evaluate(
    recon: &Array2<Complex32>,
    recon_origin_px: [f64; 2],
    truth: &Array2<Complex32>,
    positions_px: &[[f64; 2]],
    register: bool,
    patch_weights: Option<&Array2<f32>>,
) -> Option<Evaluation> {
    let [top, left, _, _] = scan_box(recon.dim(), recon_origin_px, truth.dim(), positions_px)?;
    let (mut r, mut t) = crop_to_scan(recon, recon_origin_px, truth, positions_px)?;
    let mut mask = match patch_weights {
        Some(weights) => illuminated(positions_px, weights, [left, top], r.dim()),
        None => Array2::from_elem(r.dim(), true),
    };
    let mut shift = [0.0, 0.0];
    let mut registered = false;
    if register && let Some(found) = registration(&r, &t, &mask) {
        registered = true;
        shift = found.shift;
        (r, t, mask) = (found.recon, found.truth, found.mask);
    }
    let compared = mask.iter().filter(|&&m| m).count();
    if compared == 0 {
        return None;
    }
    let pair = align_over(&r, &t, &mask);
    Some(Evaluation {
        amplitude: scores(&pair.recon_amplitude, &pair.truth_amplitude, &mask, false),
        phase: scores(&pair.recon_phase, &pair.truth_phase, &mask, true),
        shift_px: shift,
        registered,
        region_px: [r.nrows(), r.ncols()],
        compared_fraction: compared as f64 / mask.len().max(1) as f64,
    })
}
