//! ePIE seeded by the network (`--refine-epie K`): K sweeps started from the network's stitched
//! object and probe, beside K sweeps of ePIE from scratch on the same scan and positions, each
//! sweep scored as the network is. Says how many sweeps the seed saves and whether the pair
//! beats both.

use anyhow::Context;

use super::cases::CaseData;
use super::score::{TrueFrame, score};
use crate::data::Dataset;
use crate::data::reconstruction::Reconstruction;
use crate::epie::{Epie, EpieConfig};
use crate::infer::stitch::StitchWeights;

/// One sweep's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SweepFigures {
    /// Sweeps done (1-based).
    pub sweep: usize,
    /// This sweep's relative Fourier error.
    pub fourier_error: f64,
    /// Amplitude Pearson against the case's truth (or reference), illuminated pixels.
    pub amplitude_pearson: Option<f64>,
    /// Phase Pearson, likewise.
    pub phase_pearson: Option<f64>,
}

/// Seeded against from-scratch ePIE.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeededFigures {
    /// Sweeps of each run.
    pub sweeps: usize,
    /// ePIE from the network's object and probe.
    pub seeded: Vec<SweepFigures>,
    /// ePIE from a flat object and the scan's probe.
    pub scratch: Vec<SweepFigures>,
    /// The first seeded sweep whose phase Pearson reaches the from-scratch run's last one
    /// (`None`: never within the budget).
    pub seeded_reaches_scratch_at: Option<usize>,
    /// The factor the network's probe was scaled by to carry the measured photon count.
    pub probe_scale: f64,
}

/// Runs both and scores every sweep. `network` is the network's reconstruction of the test
/// scan; ePIE runs at the positions it was stitched at (refined, when the model refined them).
pub(super) fn run(
    data: &CaseData,
    network: &Reconstruction,
    sweeps: usize,
    seed: u64,
) -> anyhow::Result<SeededFigures> {
    let scan = scan_of(data, network)?;
    let config = EpieConfig {
        iterations: sweeps,
        seed,
        ..EpieConfig::default()
    };
    let frame = TrueFrame::of(data)?;
    let reference = data.reference.as_ref().map(|(r, _)| r);
    let scored_scan = frame.as_ref().map_or(&data.test, |f| &f.scan);
    let judge = |epie: &Epie, error: f64, sweep: usize| {
        let snapshot = Reconstruction {
            object: epie.object_snapshot(),
            probe: network.probe.clone(),
            origin_px: epie.origin_px(),
            costs: Vec::new(),
            method: "ePIE".into(),
            refined_positions_px: None,
        };
        let moved = frame
            .as_ref()
            .map_or_else(|| snapshot.clone(), |f| f.moved(&snapshot));
        let e = score(&moved, scored_scan, reference, StitchWeights::Illumination);
        SweepFigures {
            sweep,
            fourier_error: error,
            amplitude_pearson: e.as_ref().and_then(|e| e.amplitude.pearson),
            phase_pearson: e.as_ref().and_then(|e| e.phase.pearson),
        }
    };
    let mut seeded_epie = Epie::new(&scan, config)?;
    let summary = seeded_epie
        .seed(&network.object, network.origin_px, &network.probe)
        .context("cannot seed ePIE with the network's reconstruction")?;
    let seeded = sweep_all(&mut seeded_epie, sweeps, "seeded", &judge);
    let mut scratch_epie = Epie::new(&scan, config)?;
    let scratch = sweep_all(&mut scratch_epie, sweeps, "from scratch", &judge);
    let target = scratch.last().and_then(|s| s.phase_pearson);
    let seeded_reaches_scratch_at = target.and_then(|t| {
        seeded
            .iter()
            .find(|s| s.phase_pearson.is_some_and(|p| p >= t))
            .map(|s| s.sweep)
    });
    Ok(SeededFigures {
        sweeps,
        seeded,
        scratch,
        seeded_reaches_scratch_at,
        probe_scale: summary.probe_scale,
    })
}

/// `sweeps` sweeps of `epie`, each judged.
fn sweep_all(
    epie: &mut Epie,
    sweeps: usize,
    name: &str,
    judge: &impl Fn(&Epie, f64, usize) -> SweepFigures,
) -> Vec<SweepFigures> {
    (1..=sweeps)
        .map(|sweep| {
            let error = epie.sweep();
            let figures = judge(epie, error, sweep);
            tracing::info!(
                "ePIE {name}, sweep {sweep}: Fourier error {:.4e}, amplitude / phase Pearson {:.3} / {:.3}",
                figures.fourier_error,
                figures.amplitude_pearson.unwrap_or(f64::NAN),
                figures.phase_pearson.unwrap_or(f64::NAN)
            );
            figures
        })
        .collect()
}

/// The test scan at the positions the network's reconstruction was stitched at.
fn scan_of(data: &CaseData, network: &Reconstruction) -> anyhow::Result<Dataset> {
    Ok(match &network.refined_positions_px {
        Some(p) => data.test.with_positions(p.clone())?,
        None => data.test.clone(),
    })
}
