//! `ptychostudio bench --device cpu|wgpu --output FILE.json`: training and inference speed of the
//! network on a simulated scan, in patterns per second, measured in this process.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use clap::Args;

use super::args::CommonArgs;
use crate::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use crate::device::{DeviceChoice, build_device};
use crate::infer::{InferOptions, reconstruct};
use crate::io::atomic::write_atomic;
use crate::train::{TrainConfig, TrainControl, train};

/// What `bench` measures besides speed.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Reconstruction quality of one named case, end to end, as JSON.
    ///
    /// Example: ptychostudio bench quality --case lines-512 --output-dir out/q512 --eval-epochs 1,2
    Quality(super::quality::QualityArgs),
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// A quality case instead of the speed measurement.
    #[command(subcommand)]
    pub what: Option<BenchCommand>,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Pattern size N.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// g.
    #[arg(long, default_value_t = 1)]
    pub gridsize: usize,
    /// Training groups per step.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Training groups per timed epoch (after one warm-up epoch).
    #[arg(long, default_value_t = 128)]
    pub train_groups: usize,
    /// Groups per inference pass.
    #[arg(long, default_value_t = 64)]
    pub infer_batch_size: usize,
    /// Patterns reconstructed in the timed inference run.
    #[arg(long, default_value_t = 512)]
    pub infer_patterns: usize,
    /// Filter multiplier of the network.
    #[arg(long, default_value_t = 2)]
    pub n_filters_scale: usize,
    /// Write the figures here as JSON (they are printed either way).
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The measured figures.
#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    /// "cpu" or "wgpu".
    pub device: String,
    /// N.
    pub n: usize,
    /// g.
    pub gridsize: usize,
    /// Network parameters.
    pub parameters: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Training patterns per second (second epoch; the first warms up).
    pub train_patterns_per_s: f64,
    /// Inference batch size.
    pub infer_batch_size: usize,
    /// Inference patterns per second, stitching included (second run).
    pub infer_patterns_per_s: f64,
    /// The reference's figures on one H100 for scale: 930 and 33 700 patterns/s.
    pub reference_h100_train_patterns_per_s: f64,
    /// See above.
    pub reference_h100_infer_patterns_per_s: f64,
}

/// Measures and reports.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchCommand::Quality(quality)) = &args.what {
        return super::quality::run(quality);
    }
    let device = build_device(args.device, false)?;
    let sim = SimulationConfig {
        n: args.n,
        object_size: 392 * args.n / 64,
        nphotons: 1e9,
        seed: 7,
        ..SimulationConfig::default()
    };
    let count = args.infer_patterns.max(args.train_groups).max(16);
    let dataset = simulate_lines_scan(&sim, ScanPattern::Random { count }, 7)?.dataset;
    let config = TrainConfig {
        n: args.n,
        gridsize: args.gridsize,
        batch_size: args.batch_size,
        n_groups: args.train_groups,
        nepochs: 2,
        n_filters_scale: args.n_filters_scale,
        validation_fraction: 0.0,
        early_stopping_patience: 0,
        ..TrainConfig::default()
    };
    let outcome = train(
        &dataset,
        None,
        &config,
        &device,
        &TrainControl::default(),
        None,
    )
    .context("training failed")?;
    let train_rate = outcome
        .bundle
        .history
        .last()
        .map_or(f64::NAN, |r| r.patterns_per_s);
    let network = outcome.bundle.network.valid();
    let subset: Vec<usize> = (0..args.infer_patterns.min(dataset.len())).collect();
    let infer_data = dataset.subset(&subset)?;
    let options = InferOptions {
        batch_size: args.infer_batch_size.max(1),
        gridsize: args.gridsize,
        ..InferOptions::default()
    };
    let mut infer_rate = f64::NAN;
    for _ in 0..2 {
        let started = Instant::now();
        let stitched = reconstruct(&network, &infer_data, &options, &device, |_, _, _| true)?;
        infer_rate = stitched.patterns as f64 / started.elapsed().as_secs_f64().max(1e-9);
    }
    let report = BenchReport {
        device: args.device.name().into(),
        n: args.n,
        gridsize: args.gridsize,
        parameters: network.num_params(),
        batch_size: args.batch_size,
        train_patterns_per_s: train_rate,
        infer_batch_size: args.infer_batch_size,
        infer_patterns_per_s: infer_rate,
        reference_h100_train_patterns_per_s: 930.0,
        reference_h100_infer_patterns_per_s: 33_700.0,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(path) = &args.output {
        write_atomic(path, json.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
