//! One evaluation of the test reconstruction during a quality case: inference, then the §7
//! figures three ways.

use anyhow::Context;
use burn::module::Module;

use super::cases::CaseData;
use crate::data::Dataset;
use crate::data::reconstruction::Reconstruction;
use crate::infer::stitch::{StitchWeights, default_crop};
use crate::infer::{InferOptions, reconstruct};
use crate::metrics::trust::TrustChecks;
use crate::metrics::{Evaluation, evaluate};
use crate::positions::{PositionErrorStats, error_stats, mean_difference};
use crate::report::{Method, object_checks};
use crate::train::ModelBundle;

/// The figures of one evaluation of the test reconstruction.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochFigures {
    /// After this many epochs.
    pub epoch: usize,
    /// The default stitch (patches weighted by |P|²), compared over the illuminated pixels.
    pub illuminated: Option<Evaluation>,
    /// The same stitch after the overlap pass chose each patch's twin and phase factor.
    pub with_overlap_pass: Option<Evaluation>,
    /// The reference's frame: central crops (20 px at N = 64) stitched with unit weights and
    /// no overlap pass, compared over the pixels they cover, as the reference's figures were
    /// measured.
    pub reference_frame: Option<Evaluation>,
    /// When the case knows the true positions: how far the positions the stitch used (refined,
    /// or as given) are from them, the global shift removed.
    pub positions: Option<PositionErrorStats>,
    /// The checks a user without a ground truth sees (flat phase, amplitude at the bound).
    pub checks: Option<TrustChecks>,
}

/// Reconstructs `test` with `bundle`, stitched with `weights`; returns the object and the
/// inference rate.
fn reconstruct_with(
    bundle: &ModelBundle,
    test: &Dataset,
    crop: Option<usize>,
    overlap_pass: bool,
    device: &burn::prelude::Device,
) -> anyhow::Result<(Reconstruction, f64)> {
    let config = &bundle.manifest.config;
    let options = InferOptions {
        gridsize: config.gridsize,
        neighbor_count: config.neighbor_count,
        seed: config.seed,
        crop,
        overlap_pass,
        ..InferOptions::default()
    };
    let refined = bundle.at_refined_positions(test);
    let test = refined.as_ref().unwrap_or(test);
    let network = bundle.network.valid();
    let stitched = reconstruct(&network, test, &options, device, |_, _, _| true)
        .context("inference failed")?;
    let rate = stitched.patterns as f64 / stitched.duration_secs.max(1e-9);
    Ok((
        Reconstruction {
            object: stitched.object,
            probe: bundle.probe.clone(),
            origin_px: stitched.origin_px,
            costs: bundle.history.iter().map(|r| r.train_loss).collect(),
            method: "PtychoPINN".into(),
            refined_positions_px: refined.as_ref().map(|d| d.positions_px().to_vec()),
        },
        rate,
    ))
}

/// Scores `recon` against the test scan's true object, or against `reference` (in the
/// reference's pixel frame) over the scanned region, using the pixels `weights` light.
pub(super) fn score(
    recon: &Reconstruction,
    test: &Dataset,
    reference: Option<&Reconstruction>,
    weights: StitchWeights,
) -> Option<Evaluation> {
    let patch_weights = weights.patch_weights(test.probe());
    match reference {
        None => evaluate(
            &recon.object,
            recon.origin_px,
            test.object()?,
            test.positions_px(),
            false,
            Some(&patch_weights),
        ),
        Some(reference) => crate::cli::evaluate::evaluate_against_reference(
            (&recon.object, recon.origin_px),
            (&reference.object, reference.origin_px),
            test.positions_px(),
            false,
            &patch_weights,
        ),
    }
}

/// The true frame of a case whose scan was given displaced positions: the scan at its true
/// positions (for the compared region) and the global shift (the mean error, which no method
/// can observe) that moves a reconstruction made at the given positions into it.
pub(super) struct TrueFrame {
    /// The test scan at its true positions.
    pub scan: Dataset,
    /// Mean of (given − true) positions, `[x, y]` pixels.
    pub shift: [f64; 2],
}

impl TrueFrame {
    /// The frame of `data`, when it knows its true positions.
    pub fn of(data: &CaseData) -> anyhow::Result<Option<Self>> {
        let Some(truth) = &data.true_positions else {
            return Ok(None);
        };
        Ok(Some(Self {
            scan: data.test.with_positions(truth.clone())?,
            shift: mean_difference(data.test.positions_px(), truth),
        }))
    }

    /// `recon` placed in the true frame.
    pub fn moved(&self, recon: &Reconstruction) -> Reconstruction {
        let mut out = recon.clone();
        out.origin_px = [
            recon.origin_px[0] - self.shift[0],
            recon.origin_px[1] - self.shift[1],
        ];
        out
    }
}

/// Reconstructs the test scan three ways (the default stitch, with the overlap pass, the
/// reference's crops) and scores each; returns the figures, the default reconstruction and the
/// inference rate.
pub(super) fn figures(
    bundle: &ModelBundle,
    data: &CaseData,
    epoch: usize,
    device: &burn::prelude::Device,
) -> anyhow::Result<(EpochFigures, Reconstruction, f64)> {
    let reference = data.reference.as_ref().map(|(r, _)| r);
    let (recon, rate) = reconstruct_with(bundle, &data.test, None, false, device)?;
    let (passed, _) = reconstruct_with(bundle, &data.test, None, true, device)?;
    let crop = default_crop(data.test.n());
    let (cropped, _) = reconstruct_with(bundle, &data.test, Some(crop), false, device)?;
    let frame = TrueFrame::of(data)?;
    let scored = frame.as_ref().map_or(&data.test, |f| &f.scan);
    let moved = |r: &Reconstruction| frame.as_ref().map_or_else(|| r.clone(), |f| f.moved(r));
    let figures = EpochFigures {
        epoch,
        illuminated: score(
            &moved(&recon),
            scored,
            reference,
            StitchWeights::Illumination,
        ),
        with_overlap_pass: score(
            &moved(&passed),
            scored,
            reference,
            StitchWeights::Illumination,
        ),
        reference_frame: score(
            &moved(&cropped),
            scored,
            reference,
            StitchWeights::CentralCrop(crop),
        ),
        positions: data.true_positions.as_ref().map(|truth| {
            let used = recon
                .refined_positions_px
                .as_deref()
                .unwrap_or(data.test.positions_px());
            error_stats(used, truth)
        }),
        checks: {
            let scan = match &recon.refined_positions_px {
                Some(p) => data.test.with_positions(p.clone())?,
                None => data.test.clone(),
            };
            object_checks(
                &recon.object,
                recon.origin_px,
                Some(&recon.probe),
                &scan,
                Method::Network,
            )
        },
    };
    for warning in figures.checks.iter().flat_map(|c| &c.warnings) {
        tracing::warn!("epoch {epoch}: {warning}");
    }
    if let Some(p) = &figures.positions {
        tracing::info!(
            "epoch {epoch}: positions {:.2} px RMS from the truth (largest {:.1} px, {} beyond 3 px)",
            p.rms_px,
            p.max_px,
            p.beyond_3px
        );
    }
    let show = |e: &Option<Evaluation>| {
        e.as_ref().map_or_else(
            || "-".to_owned(),
            |e| {
                format!(
                    "amplitude Pearson {:.3}, phase Pearson {:.3} SSIM {:.3} ({:.0} % of the box)",
                    e.amplitude.pearson.unwrap_or(f64::NAN),
                    e.phase.pearson.unwrap_or(f64::NAN),
                    e.phase.ssim.unwrap_or(f64::NAN),
                    100.0 * e.compared_fraction
                )
            },
        )
    };
    tracing::info!(
        "epoch {epoch}: illuminated: {}; with the overlap pass: {}; reference frame: {}",
        show(&figures.illuminated),
        show(&figures.with_overlap_pass),
        show(&figures.reference_frame)
    );
    Ok((figures, recon, rate))
}
