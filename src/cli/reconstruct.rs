//! Running a model over a scan and writing what the reference's inference writes; shared by
//! `infer` and by `train` with a test file.

use std::path::Path;

use anyhow::Context;
use burn::prelude::*;
use clap::Args;

use super::progress::bar;
use crate::data::Dataset;
use crate::data::reconstruction::Reconstruction;
use crate::epie::EpieConfig;
use crate::epie::positions::PositionCorrection;
use crate::epie::seed::run_seeded;
use crate::infer::{InferOptions, reconstruct};
use crate::report::{Method, object_checks};
use crate::train::ModelBundle;

/// Inference settings.
#[derive(Debug, Clone, Args)]
pub struct ReconstructArgs {
    /// Groups per forward pass during inference.
    #[arg(long, default_value_t = 64)]
    pub infer_batch_size: usize,
    /// Stitch only the central M × M of each patch, with unit weights (the reference's stitch)
    /// [default: weight each patch by the probe's intensity |P|²].
    #[arg(long, value_name = "PX")]
    pub crop: Option<usize>,
    /// Before the final stitch, choose each patch's twin and phase factor by its overlap with
    /// its neighbours (off by default; see docs/quality.md).
    #[arg(long)]
    pub overlap_pass: bool,
    /// Then run K sweeps of ePIE started from the network's object and probe (the probe
    /// updated from the second sweep) and write them too, as `refined_epie_*`.
    #[arg(long, value_name = "K", default_value_t = 0)]
    pub refine_epie: usize,
    /// With `--refine-epie`: correct the positions as ePIE goes (see `epie --correct-positions`).
    #[arg(long, requires = "refine_epie")]
    pub refine_epie_positions: bool,
}

/// Reconstructs `dataset` with `bundle` and writes `reconstructed_amplitude.png`,
/// `reconstructed_phase.png`, `reconstructed_reconstruction.npz` (objectGuess + origin),
/// `reconstructed_product.npz`, and `reconstructed_metrics.json` when the scan has a true object.
pub fn write_reconstruction(
    bundle: &ModelBundle,
    dataset: &Dataset,
    dir: &Path,
    args: &ReconstructArgs,
    device: &Device,
    quiet: bool,
) -> anyhow::Result<()> {
    let config = &bundle.manifest.config;
    let options = InferOptions {
        batch_size: args.infer_batch_size.max(1),
        gridsize: config.gridsize,
        neighbor_count: config.neighbor_count,
        seed: config.seed,
        crop: args.crop,
        overlap_pass: args.overlap_pass,
    };
    let refined = bundle.at_refined_positions(dataset);
    if refined.is_some() {
        tracing::info!("stitching at the positions the model refined on this scan");
    }
    let dataset = refined.as_ref().unwrap_or(dataset);
    let progress = bar(dataset.len() as u64, quiet, "infer");
    let network = bundle.network.valid();
    let stitched = reconstruct(&network, dataset, &options, device, |done, total, _| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
        true
    })
    .context("inference failed")?;
    progress.finish_and_clear();
    if stitched.twins > 0 {
        tracing::info!(
            "overlap pass: {} of {} patches replaced by their twin (the probe cannot tell them apart)",
            stitched.twins,
            stitched.patterns
        );
    }
    tracing::info!(
        "{} patterns in {:.2} s ({:.0} patterns/s)",
        stitched.patterns,
        stitched.duration_secs,
        stitched.patterns as f64 / stitched.duration_secs.max(1e-9)
    );
    let recon = Reconstruction {
        object: stitched.object,
        probe: bundle.probe.clone(),
        origin_px: stitched.origin_px,
        costs: bundle.history.iter().map(|r| r.train_loss).collect(),
        method: "PtychoPINN".into(),
        refined_positions_px: refined.as_ref().map(|d| d.positions_px().to_vec()),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = recon
        .write_all(dataset, dir, "reconstructed")
        .context("cannot write the reconstruction")?;
    tracing::info!(
        "wrote {}, {} and {}",
        files.amplitude_png.display(),
        files.phase_png.display(),
        files.npz.display()
    );
    super::evaluate::evaluate_against_truth(
        &recon,
        dataset,
        &dir.join("reconstructed_metrics.json"),
    )?;
    let checks = write_checks(
        &recon,
        dataset,
        &dir.join("reconstructed_checks.json"),
        Method::Network,
    )?;
    let fit = checks.as_ref().and_then(|c| c.data_fit.as_ref());
    let notes = crate::train::fit::model_fit_notes(
        &bundle.probe,
        bundle.manifest.training_fit,
        dataset,
        fit,
    );
    for (warning, note) in notes {
        if warning {
            tracing::warn!("{note}");
        } else {
            tracing::info!("{note}");
        }
    }
    if args.refine_epie > 0 {
        refine_with_epie(&recon, dataset, dir, args)?;
    }
    Ok(())
}

/// `--refine-epie K`: K sweeps of ePIE seeded by the network's reconstruction, written as
/// `refined_epie_*`.
fn refine_with_epie(
    recon: &Reconstruction,
    dataset: &Dataset,
    dir: &Path,
    args: &ReconstructArgs,
) -> anyhow::Result<()> {
    let config = EpieConfig {
        iterations: args.refine_epie,
        correct_positions: args.refine_epie_positions.then(PositionCorrection::default),
        ..EpieConfig::default()
    };
    let (result, seed) = run_seeded(
        dataset,
        config,
        (&recon.object, recon.origin_px),
        &recon.probe,
        |p| {
            tracing::info!(
                "ePIE from the network, sweep {} of {}: Fourier error {:.4e}",
                p.iteration,
                p.iterations,
                p.error
            );
            true
        },
    )
    .context("cannot start ePIE from the network's reconstruction")?;
    tracing::info!(
        "ePIE seeded with {} object pixels, the network's probe scaled by {:.3e}",
        seed.pixels_seeded,
        seed.probe_scale
    );
    let refined = Reconstruction {
        object: result.object,
        probe: result.probe,
        origin_px: result.origin_px,
        costs: result.errors,
        method: "PtychoPINN + ePIE".into(),
        refined_positions_px: args.refine_epie_positions.then_some(result.positions_px),
    };
    refined
        .write_all(dataset, dir, "refined_epie")
        .context("cannot write the ePIE-refined reconstruction")?;
    super::evaluate::evaluate_against_truth(
        &refined,
        dataset,
        &dir.join("refined_epie_metrics.json"),
    )?;
    write_checks(
        &refined,
        dataset,
        &dir.join("refined_epie_checks.json"),
        Method::Epie,
    )?;
    Ok(())
}

/// The checks without a ground truth ([`crate::metrics::trust`]) of `recon` as JSON at `path`;
/// each warning is logged too; the data fit at the positions `recon` was made at, its map as
/// `<prefix>_residual.png` beside the JSON.
pub(super) fn write_checks(
    recon: &Reconstruction,
    dataset: &Dataset,
    path: &Path,
    method: Method,
) -> anyhow::Result<Option<crate::metrics::trust::TrustChecks>> {
    let scan = match &recon.refined_positions_px {
        Some(p) => dataset.with_positions(p.clone())?,
        None => dataset.clone(),
    };
    let Some(checks) = object_checks(
        &recon.object,
        recon.origin_px,
        Some(&recon.probe),
        &scan,
        method,
    ) else {
        return Ok(None);
    };
    if let Some(fit) = &checks.data_fit {
        if let Some(map) = &fit.map {
            let png = path.with_file_name(format!(
                "{}_residual.png",
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.strip_suffix("_checks"))
                    .unwrap_or("reconstructed")
            ));
            crate::io::png::write_amplitude_png(&png, map)
                .with_context(|| format!("cannot write {}", png.display()))?;
        }
        tracing::info!(
            "data fit: Poisson deviance {:.3} per detector pixel (median position {:.3}), \
             Fourier error {:.3e}{}",
            fit.poisson_deviance_per_pixel,
            fit.median_position_deviance(),
            fit.fourier_error,
            fit.fourier_error_noise_floor
                .map_or_else(String::new, |f| format!(" (photon noise alone: {f:.3e})"))
        );
    }
    for warning in &checks.warnings {
        tracing::warn!("{warning}");
    }
    let json = serde_json::to_string_pretty(&checks)?;
    crate::io::atomic::write_atomic(path, json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Some(checks))
}
