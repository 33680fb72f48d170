//! `ptychostudio epie FILE --iterations K --output-dir DIR`

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::args::{CommonArgs, LoadArgs};
use super::progress::{bar, stop_flag};
use crate::data::load;
use crate::data::reconstruction::Reconstruction;
use crate::epie::positions::PositionCorrection;
use crate::epie::{EpieConfig, run_epie};
use crate::io::atomic::write_atomic;

/// Arguments of `epie`.
#[derive(Debug, Args)]
pub struct EpieArgs {
    /// The scan (NPZ).
    pub file: PathBuf,
    /// Sweeps over all positions.
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
    /// Where to write the results (created if missing).
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Object step α.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f32,
    /// Probe step β (0 keeps the probe fixed).
    #[arg(long, default_value_t = 1.0)]
    pub beta: f32,
    /// First sweep (0-based) that updates the probe.
    #[arg(long, default_value_t = 1)]
    pub probe_update_start: usize,
    /// Seed of the position order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Refine the scan positions: a coarse search by Fourier error over ±R pixels, then
    /// Gauss–Newton sub-pixel steps in every update (the refined positions are written to the
    /// reconstruction NPZ and the product).
    #[arg(long)]
    pub correct_positions: bool,
    /// The coarse search radius R, pixels [default: N/2].
    #[arg(long, value_name = "PX")]
    pub position_search_px: Option<usize>,
    /// The first sweep (0-based) that corrects positions.
    #[arg(long, default_value_t = 3)]
    pub position_start: usize,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs ePIE and writes NPZ, product NPZ, PNGs and the error per sweep.
pub fn run(args: &EpieArgs) -> anyhow::Result<()> {
    let loaded = load(&args.file, &args.load.options())
        .with_context(|| format!("cannot load {}", args.file.display()))?;
    for note in &loaded.notes {
        tracing::info!("{note}");
    }
    let dataset = loaded.dataset;
    fs::create_dir_all(&args.output_dir)
        .with_context(|| format!("cannot create {}", args.output_dir.display()))?;
    let config = EpieConfig {
        iterations: args.iterations,
        alpha: args.alpha,
        beta: args.beta,
        probe_update_start: args.probe_update_start,
        seed: args.seed,
        correct_positions: args.correct_positions.then(|| PositionCorrection {
            start: args.position_start,
            search_px: args.position_search_px.unwrap_or(0),
            ..PositionCorrection::default()
        }),
        ..EpieConfig::default()
    };
    let stop = stop_flag();
    let progress = bar(args.iterations as u64, args.common.quiet, "ePIE");
    let started = Instant::now();
    let result = run_epie(&dataset, config, |p| {
        progress.set_position(p.iteration as u64);
        progress.set_prefix(format!("error {:.4e}", p.error));
        !stop.load(Ordering::SeqCst)
    })?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let sweeps = result.errors.len();
    let recon = Reconstruction {
        object: result.object,
        probe: result.probe,
        origin_px: result.origin_px,
        costs: result.errors.clone(),
        method: "ePIE".into(),
        refined_positions_px: args.correct_positions.then(|| result.positions_px.clone()),
    };
    let files = recon
        .write_all(&dataset, &args.output_dir, "epie")
        .context("cannot write the reconstruction")?;
    let csv: String = std::iter::once("iteration,error\n".to_owned())
        .chain(
            result
                .errors
                .iter()
                .enumerate()
                .map(|(i, e)| format!("{},{e:.6e}\n", i + 1)),
        )
        .collect();
    let csv_path = args.output_dir.join("epie_errors.csv");
    write_atomic(&csv_path, csv.as_bytes())
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    tracing::info!(
        "{sweeps} sweeps in {seconds:.2} s ({:.3} s per sweep), final error {:.4e}",
        seconds / sweeps.max(1) as f64,
        result.errors.last().copied().unwrap_or(f64::NAN)
    );
    super::evaluate::evaluate_against_truth(
        &recon,
        &dataset,
        &args.output_dir.join("epie_metrics.json"),
    )?;
    super::reconstruct::write_checks(
        &recon,
        &dataset,
        &args.output_dir.join("epie_checks.json"),
        crate::report::Method::Epie,
    )?;
    tracing::info!(
        "wrote {} and {}",
        files.amplitude_png.display(),
        files.phase_png.display()
    );
    Ok(())
}
