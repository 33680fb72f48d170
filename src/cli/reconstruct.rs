//! Running a model over a scan and writing what the reference's inference writes; shared by
//! `infer` and by `train` with a test file.

use std::path::Path;

use anyhow::Context;
use burn::prelude::*;
use clap::Args;

use super::progress::bar;
use crate::data::Dataset;
use crate::data::reconstruction::Reconstruction;
use crate::infer::{InferOptions, reconstruct};
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
    /// its neighbours (off by default; see the README's Quality section).
    #[arg(long)]
    pub overlap_pass: bool,
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
    Ok(())
}
