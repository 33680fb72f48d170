//! How well a trained model explains a scan, measured the same way on its training scan (kept
//! in the model) and on a scan it is used on: the reconstruction's data fit
//! ([`crate::metrics::residual::data_fit_read`]) with the model's probe, and how alike the
//! scan's probe is to the model's. A new scan fitted much worse than the training scan, or
//! taken with another beam, gets a warning instead of a silently wrong picture.

use burn::prelude::*;
use ndarray::{Array2, CowArray};
use num_complex::{Complex32, Complex64};

use super::bundle::{ModelBundle, TrainingFit};
use crate::data::Dataset;
use crate::data::regime::photon_quantum;
use crate::infer::reconstruct;
use crate::metrics::noise_floor::fourier_noise_floor;
use crate::metrics::residual::{DataFit, data_fit_read};

/// A scan's probe and the model's agree when their overlap (see [`probe_overlap`]) is at least
/// this: the learned probe of the `lines-512` model and its scan's probe overlap at 0.998, the
/// same probe moved by 2 px at 0.95.
pub const PROBE_OVERLAP_MIN: f64 = 0.9;

/// A scan is explained as well as the training scan when its Fourier error is at most this many
/// times the training scan's.
pub const FOURIER_ERROR_RATIO_MAX: f64 = 2.0;

/// |⟨a, b⟩| / (‖a‖ ‖b‖): 1 for the same beam up to a constant factor and phase; `None` for a
/// zero probe or different shapes.
pub fn probe_overlap(a: &Array2<Complex32>, b: &Array2<Complex32>) -> Option<f64> {
    if a.dim() != b.dim() {
        return None;
    }
    let (mut dot, mut na, mut nb) = (Complex64::default(), 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        let to64 = |z: &Complex32| Complex64::new(f64::from(z.re), f64::from(z.im));
        let (x, y) = (to64(x), to64(y));
        dot += x.conj() * y;
        na += x.norm_sqr();
        nb += y.norm_sqr();
    }
    (na > 0.0 && nb > 0.0).then(|| dot.norm() / (na * nb).sqrt())
}

/// The model's reconstruction of `scan` (its training scan, at the positions it trained on) and
/// that reconstruction's data fit with the model's probe; `None` when it cannot be made.
pub fn training_fit(bundle: &ModelBundle, scan: &Dataset, device: &Device) -> Option<TrainingFit> {
    let options = bundle.reconstruction_options();
    let stitched = reconstruct(&bundle.network, scan, &options, device, |_, _, _| true).ok()?;
    let fit = data_fit_read(
        &stitched.object,
        stitched.origin_px,
        scan.positions_px(),
        &bundle.probe,
        scan.n(),
        |j| scan.pattern(j).ok().map(CowArray::into_owned),
    )?;
    let floor = photon_quantum(scan).and_then(|quantum| {
        fourier_noise_floor(
            &stitched.object,
            stitched.origin_px,
            scan.positions_px(),
            &bundle.probe,
            fit.intensity_scale,
            quantum,
        )
    });
    Some(TrainingFit {
        poisson_deviance_per_pixel: fit.poisson_deviance_per_pixel,
        fourier_error: fit.fourier_error,
        fourier_error_noise_floor: floor,
    })
}

/// What to tell a user who reconstructs `scan` with a model whose probe is `model_probe` and
/// whose fit to its training scan is `training_fit`: the probe's overlap with the model's, and
/// the reconstruction's fit (`fit`, from the checks) against the training scan's. Each entry is
/// (is a warning, sentence).
pub fn model_fit_notes(
    model_probe: &Array2<Complex32>,
    training_fit: Option<TrainingFit>,
    scan: &Dataset,
    fit: Option<&DataFit>,
) -> Vec<(bool, String)> {
    let mut notes = Vec::new();
    if let Some(overlap) = probe_overlap(scan.probe(), model_probe) {
        if overlap < PROBE_OVERLAP_MIN {
            notes.push((
                true,
                format!(
                    "this scan's probe overlaps the model's at only {overlap:.3} (1 = the same \
                     beam): the model was trained with another beam and may not apply; \
                     fine-tune it on this scan (train --init-model) or train on it"
                ),
            ));
        } else {
            notes.push((
                false,
                format!("this scan's probe matches the model's (overlap {overlap:.3})"),
            ));
        }
    }
    if let (Some(fit), Some(own)) = (fit, training_fit) {
        // Photon noise alone raises the Fourier error of a scan at a lower dose: compare what
        // lies above each scan's noise floor, where the floors are known.
        let excess = |error: f64, floor: Option<f64>| (error - floor.unwrap_or(0.0)).max(0.0);
        let here = excess(fit.fourier_error, fit.fourier_error_noise_floor);
        let there = excess(own.fourier_error, own.fourier_error_noise_floor);
        let ratio = here / there.max(f64::MIN_POSITIVE);
        let floors = match (fit.fourier_error_noise_floor, own.fourier_error_noise_floor) {
            (Some(a), Some(b)) => format!(", above photon noise's {a:.4} and {b:.4}"),
            (Some(a), None) => format!(", this scan's above photon noise's {a:.4}"),
            _ => String::new(),
        };
        if ratio > FOURIER_ERROR_RATIO_MAX {
            notes.push((
                true,
                format!(
                    "the model does not explain this scan: Fourier error {:.4} against {:.4} \
                     on its training scan{floors} ({ratio:.1}×): the picture is likely wrong; \
                     fine-tune the model on this scan (train --init-model) or run ePIE",
                    fit.fourier_error, own.fourier_error
                ),
            ));
        } else {
            notes.push((
                false,
                format!(
                    "the model explains this scan about as well as its training scan (Fourier \
                     error {:.4} against {:.4}{floors})",
                    fit.fourier_error, own.fourier_error
                ),
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_ignores_scale_and_phase_and_sees_a_shift() {
        let a = Array2::from_shape_fn((16, 16), |(r, c)| {
            let d = (r as f32 - 8.0).hypot(c as f32 - 8.0);
            Complex32::new((-d * d / 8.0).exp(), 0.0)
        });
        let b = a.mapv(|z| z * Complex32::from_polar(3.0, 1.2));
        assert!((probe_overlap(&a, &b).unwrap() - 1.0).abs() < 1e-6);
        let mut shifted = a.clone();
        for r in 0..16 {
            for c in 0..16 {
                shifted[(r, c)] = a[(r, (c + 12) % 16)];
            }
        }
        assert!(probe_overlap(&a, &shifted).unwrap() < 0.5);
        assert!(probe_overlap(&a, &Array2::zeros((16, 16))).is_none());
        assert!(probe_overlap(&a, &Array2::zeros((8, 8))).is_none());
    }
}
