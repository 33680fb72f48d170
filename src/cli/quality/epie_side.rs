//! ePIE beside the network in a case with known true positions (`lines-512-positions`): the same
//! scan, ePIE with position correction when the positions are displaced, scored in the same
//! frame and the same way as the network.

use std::time::Instant;

use super::cases::CaseData;
use super::score::{TrueFrame, score};
use crate::data::reconstruction::Reconstruction;
use crate::epie::positions::PositionCorrection;
use crate::epie::{EpieConfig, run_epie};
use crate::infer::stitch::StitchWeights;
use crate::metrics::Evaluation;
use crate::positions::{PositionErrorStats, error_stats};

/// What ePIE did on the case's scan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpieFigures {
    /// Sweeps run.
    pub sweeps: usize,
    /// Whether it corrected the positions.
    pub correct_positions: bool,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Its final positions against the truth, the global shift removed.
    pub positions: PositionErrorStats,
    /// Its object against the truth over the illuminated pixels, as the network's is scored.
    pub illuminated: Option<Evaluation>,
    /// Fourier error per sweep.
    pub errors: Vec<f64>,
}

/// Runs `sweeps` of ePIE on the case's scan (correcting positions when `correct`) and scores
/// it; `None` for a case without true positions. Returns the reconstruction too.
pub(super) fn run(
    data: &CaseData,
    sweeps: usize,
    correct: bool,
    seed: u64,
) -> anyhow::Result<Option<(EpieFigures, Reconstruction)>> {
    let (Some(frame), Some(truth)) = (TrueFrame::of(data)?, &data.true_positions) else {
        return Ok(None);
    };
    let started = Instant::now();
    let config = EpieConfig {
        iterations: sweeps,
        seed,
        correct_positions: correct.then(PositionCorrection::default),
        ..EpieConfig::default()
    };
    let result = run_epie(&data.test, config, |p| {
        tracing::info!(
            "ePIE sweep {} of {}: error {:.4e}",
            p.iteration,
            p.iterations,
            p.error
        );
        true
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let recon = Reconstruction {
        object: result.object,
        probe: result.probe,
        origin_px: result.origin_px,
        costs: result.errors.clone(),
        method: "ePIE".into(),
        refined_positions_px: correct.then(|| result.positions_px.clone()),
    };
    let positions = error_stats(&result.positions_px, truth);
    let illuminated = score(
        &frame.moved(&recon),
        &frame.scan,
        None,
        StitchWeights::Illumination,
    );
    tracing::info!(
        "ePIE ({sweeps} sweeps{}, {seconds:.0} s): positions {:.2} px RMS from the truth (largest {:.1} px); amplitude / phase Pearson {:.3} / {:.3}",
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
            errors: result.errors,
        },
        recon,
    )))
}
