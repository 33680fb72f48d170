//! ePIE beside the network in a case with known true positions (`lines-512-positions`,
//! `lines-dose`, `lines-overlap`): the same scan, ePIE with position correction when the
//! positions are displaced, scored in the same frame and the same way as the network, at its
//! best of a list of sweep counts.

use std::time::Instant;

use super::cases::CaseData;
use super::score::{TrueFrame, score};
use crate::data::reconstruction::Reconstruction;
use crate::epie::positions::PositionCorrection;
use crate::epie::{Epie, EpieConfig, EpieResult};
use crate::infer::stitch::StitchWeights;
use crate::metrics::Evaluation;
use crate::positions::{PositionErrorStats, error_stats};

/// One scored sweep count.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SweepCount {
    /// Sweeps done.
    pub sweeps: usize,
    /// The object then against the truth over the illuminated pixels.
    pub illuminated: Option<Evaluation>,
}

/// What ePIE did on the case's scan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpieFigures {
    /// The sweep count (of those scored) whose phase Pearson is highest: ePIE's figures below
    /// are taken there, so it is not judged on over-fitted noise. Choosing it needs the truth,
    /// which favours ePIE.
    pub sweeps: usize,
    /// Whether it corrected the positions.
    pub correct_positions: bool,
    /// Wall-clock seconds of all the sweeps.
    pub seconds: f64,
    /// Its positions at the chosen count against the truth, the global shift removed.
    pub positions: PositionErrorStats,
    /// Its object at the chosen count against the truth over the illuminated pixels, as the
    /// network's is scored.
    pub illuminated: Option<Evaluation>,
    /// Every scored count.
    pub scored: Vec<SweepCount>,
    /// Fourier error per sweep.
    pub errors: Vec<f64>,
}

/// Runs ePIE on the case's scan to the largest of `counts` sweeps (correcting positions when
/// `correct`, the probe refined when `refine_probe`), scores it after each count in `counts` and keeps the best; `None` for a case
/// without true positions. Returns the best count's reconstruction too.
pub(super) fn run(
    data: &CaseData,
    counts: &[usize],
    correct: bool,
    refine_probe: bool,
    seed: u64,
) -> anyhow::Result<Option<(EpieFigures, Reconstruction)>> {
    let (Some(frame), Some(truth)) = (TrueFrame::of(data)?, &data.true_positions) else {
        return Ok(None);
    };
    let Some(&last) = counts.iter().max() else {
        return Ok(None);
    };
    let started = Instant::now();
    let config = EpieConfig {
        iterations: last,
        seed,
        correct_positions: correct.then(PositionCorrection::default),
        beta: if refine_probe {
            EpieConfig::default().beta
        } else {
            0.0
        },
        ..EpieConfig::default()
    };
    let mut epie = Epie::new(&data.test, config)?;
    let mut scored = Vec::new();
    let mut best: Option<(f64, usize, EpieResult)> = None;
    for sweep in 1..=last {
        let error = epie.sweep();
        tracing::info!("ePIE sweep {sweep} of {last}: error {error:.4e}");
        if !counts.contains(&sweep) {
            continue;
        }
        let result = epie.snapshot();
        let illuminated = score(
            &frame.moved(&reconstruction(&result, correct)),
            &frame.scan,
            None,
            StitchWeights::Illumination,
        );
        let phase = illuminated
            .as_ref()
            .and_then(|e| e.phase.pearson)
            .unwrap_or(f64::NEG_INFINITY);
        tracing::info!(
            "ePIE after {sweep} sweeps: amplitude / phase Pearson {:.3} / {phase:.3}",
            illuminated
                .as_ref()
                .and_then(|e| e.amplitude.pearson)
                .unwrap_or(f64::NAN),
        );
        if best.as_ref().is_none_or(|(p, _, _)| phase > *p) {
            best = Some((phase, sweep, result));
        }
        scored.push(SweepCount {
            sweeps: sweep,
            illuminated,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    let errors = epie.into_result().errors;
    let Some((_, sweeps, result)) = best else {
        return Ok(None);
    };
    let recon = reconstruction(&result, correct);
    let positions = error_stats(&result.positions_px, truth);
    let illuminated = scored
        .iter()
        .find(|s| s.sweeps == sweeps)
        .and_then(|s| s.illuminated.clone());
    tracing::info!(
        "ePIE (best of {counts:?} sweeps: {sweeps}{}, {seconds:.0} s): positions {:.2} px RMS from the truth (largest {:.1} px); amplitude / phase Pearson {:.3} / {:.3}",
        if correct { ", positions corrected" } else { "" },
        positions.rms_px,
        positions.max_px,
        illuminated
            .as_ref()
            .and_then(|e| e.amplitude.pearson)
            .unwrap_or(f64::NAN),
        illuminated
            .as_ref()
            .and_then(|e| e.phase.pearson)
            .unwrap_or(f64::NAN),
    );
    Ok(Some((
        EpieFigures {
            sweeps,
            correct_positions: correct,
            seconds,
            positions,
            illuminated,
            scored,
            errors,
        },
        recon,
    )))
}

/// ePIE's state as a reconstruction.
fn reconstruction(result: &EpieResult, correct: bool) -> Reconstruction {
    Reconstruction {
        object: result.object.clone(),
        probe: result.probe.clone(),
        origin_px: result.origin_px,
        costs: result.errors.clone(),
        method: "ePIE".into(),
        refined_positions_px: correct.then(|| result.positions_px.clone()),
    }
}
