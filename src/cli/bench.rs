//! `ptychostudio bench --device cpu|wgpu --output FILE.json`: training and inference speed of the
//! network on a simulated scan, in patterns per second, measured in this process; with
//! `--compare-torch`, the PyTorch baseline (`../shared/bench/torch_baseline.py`) runs in the same
//! command, alternating with ours, and the ratios are printed beside both figures.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::module::Module;
use burn::prelude::Device;
use clap::Args;

use super::args::CommonArgs;
use super::torch::{TorchFigures, TorchRequest, run_torch_baseline};
use crate::data::Dataset;
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
    /// Also run the PyTorch baseline (same network, loss and optimiser) in this command, one
    /// after the other with ours, and print the ratios. Needs `python3` with torch.
    #[arg(long)]
    pub compare_torch: bool,
    /// The baseline script.
    #[arg(long, default_value = "../shared/bench/torch_baseline.py")]
    pub torch_script: PathBuf,
    /// The Python interpreter that has torch.
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// With --compare-torch: rounds of (ours, PyTorch), alternated; the ratios are medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// Run the CPU's convolutions and translations with Burn's generic operations instead of our
    /// kernels (to measure the difference in one session).
    #[arg(long)]
    pub burn_kernels: bool,
    /// Run every 3×3 convolution of our CPU kernels by im2col, without the Winograd path (to
    /// measure the difference in one session).
    #[arg(long)]
    pub no_winograd: bool,
    /// Accept a CPU-emulated wgpu adapter (lavapipe), to try `--device wgpu` on a machine
    /// without a GPU; its figures say nothing about a GPU.
    #[arg(long)]
    pub allow_software_adapter: bool,
    /// Write the figures here as JSON (they are printed either way).
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// One measurement of ours.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct OurFigures {
    /// Training patterns per second (second epoch; the first warms up).
    pub train_patterns_per_s: f64,
    /// Inference patterns per second, stitching included (second run).
    pub infer_patterns_per_s: f64,
}

/// The PyTorch side of `--compare-torch`, and the ratios.
#[derive(Debug, serde::Serialize)]
pub struct TorchComparison {
    /// Each round's baseline figures, in order (ours ran just before each).
    pub rounds: Vec<TorchFigures>,
    /// Median over rounds of ours / PyTorch, training.
    pub train_ratio: f64,
    /// Median over rounds of ours / PyTorch, inference.
    pub infer_ratio: f64,
    /// What was compared, and where the two differ.
    pub caveat: String,
}

/// The measured figures.
#[derive(Debug, serde::Serialize)]
pub struct BenchReport {
    /// "cpu" or "wgpu".
    pub device: String,
    /// The CPU kernels: "ours", "ours, im2col only" (`--no-winograd`) or "burn"
    /// (`--burn-kernels`); wgpu always runs Burn's.
    pub cpu_kernels: String,
    /// Threads of the CPU pool (rayon) this process used.
    pub cpu_threads: usize,
    /// N.
    pub n: usize,
    /// g.
    pub gridsize: usize,
    /// Network parameters.
    pub parameters: usize,
    /// Training batch size.
    pub batch_size: usize,
    /// Training patterns per second (second epoch; the first warms up); the median of the rounds.
    pub train_patterns_per_s: f64,
    /// Inference batch size.
    pub infer_batch_size: usize,
    /// Inference patterns per second, stitching included (second run); the median of the rounds.
    pub infer_patterns_per_s: f64,
    /// Every round of ours.
    pub our_rounds: Vec<OurFigures>,
    /// The PyTorch baseline and the ratios (`--compare-torch`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub torch: Option<TorchComparison>,
    /// Why `--compare-torch` measured nothing (no python3, no torch, no script).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub torch_skipped: Option<String>,
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
    crate::fast_cpu::set_enabled(!args.burn_kernels);
    crate::fast_cpu::set_winograd(!args.no_winograd);
    let device = build_device(args.device, args.allow_software_adapter)?;
    let sim = SimulationConfig {
        n: args.n,
        object_size: 392 * args.n / 64,
        nphotons: 1e9,
        seed: 7,
        ..SimulationConfig::default()
    };
    let count = args.infer_patterns.max(args.train_groups).max(16);
    let dataset = simulate_lines_scan(&sim, ScanPattern::Random { count }, 7)?.dataset;
    let request = TorchRequest {
        python: args.python.clone(),
        script: args.torch_script.clone(),
        on_gpu: matches!(args.device, DeviceChoice::Wgpu),
        threads: rayon::current_num_threads(),
        n: args.n,
        n_filters_scale: args.n_filters_scale,
        batch_size: args.batch_size,
        infer_batch_size: args.infer_batch_size,
    };
    let rounds = if args.compare_torch { args.rounds } else { 1 };
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut skipped = None;
    let mut parameters = 0;
    for round in 0..rounds {
        if !args.common.quiet {
            eprintln!("round {}/{rounds}: ours", round + 1);
        }
        let (figures, params) = measure_ours(args, &dataset, &device)?;
        parameters = params;
        ours.push(figures);
        if args.compare_torch && skipped.is_none() {
            if !args.common.quiet {
                eprintln!("round {}/{rounds}: PyTorch baseline", round + 1);
            }
            match run_torch_baseline(&request) {
                Ok(figures) => theirs.push(figures),
                Err(why) => {
                    eprintln!("warning: the PyTorch baseline did not run: {why}");
                    skipped = Some(why);
                }
            }
        }
    }
    let torch = (!theirs.is_empty()).then(|| compare(&ours, &theirs, args, parameters));
    let report = BenchReport {
        device: args.device.name().into(),
        cpu_kernels: if args.burn_kernels {
            "burn"
        } else if args.no_winograd {
            "ours, im2col only"
        } else {
            "ours"
        }
        .into(),
        cpu_threads: rayon::current_num_threads(),
        n: args.n,
        gridsize: args.gridsize,
        parameters,
        batch_size: args.batch_size,
        train_patterns_per_s: median(ours.iter().map(|f| f.train_patterns_per_s)),
        infer_batch_size: args.infer_batch_size,
        infer_patterns_per_s: median(ours.iter().map(|f| f.infer_patterns_per_s)),
        our_rounds: ours,
        torch,
        torch_skipped: skipped,
        reference_h100_train_patterns_per_s: 930.0,
        reference_h100_infer_patterns_per_s: 33_700.0,
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(t) = &report.torch {
        eprintln!(
            "training {:.1} vs PyTorch {:.1} patterns/s: {:.2}x; inference {:.1} vs {:.1}: {:.2}x",
            report.train_patterns_per_s,
            median(t.rounds.iter().map(|r| r.train_patterns_per_s)),
            t.train_ratio,
            report.infer_patterns_per_s,
            median(t.rounds.iter().map(|r| r.infer_patterns_per_s)),
            t.infer_ratio,
        );
    }
    if let Some(path) = &args.output {
        write_atomic(path, json.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// One training run (a warm-up epoch, then the timed one) and two inference passes.
fn measure_ours(
    args: &BenchArgs,
    dataset: &Dataset,
    device: &Device,
) -> anyhow::Result<(OurFigures, usize)> {
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
        dataset,
        None,
        &config,
        device,
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
        let stitched = reconstruct(&network, &infer_data, &options, device, |_, _, _| true)?;
        infer_rate = stitched.patterns as f64 / started.elapsed().as_secs_f64().max(1e-9);
    }
    let figures = OurFigures {
        train_patterns_per_s: train_rate,
        infer_patterns_per_s: infer_rate,
    };
    Ok((figures, network.num_params()))
}

/// The ratios, round by round, reduced to their medians.
fn compare(
    ours: &[OurFigures],
    theirs: &[TorchFigures],
    args: &BenchArgs,
    parameters: usize,
) -> TorchComparison {
    let pairs = ours.iter().zip(theirs);
    let train_ratio = median(
        pairs
            .clone()
            .map(|(o, t)| o.train_patterns_per_s / t.train_patterns_per_s),
    );
    let infer_ratio = median(pairs.map(|(o, t)| o.infer_patterns_per_s / t.infer_patterns_per_s));
    let mut caveat = String::from(
        "ours: training includes the data pipeline, inference includes stitching; \
         the baseline times the network, loss and Adam step on tensors already in memory",
    );
    if args.gridsize != 1 {
        caveat.push_str("; the baseline is gridsize 1, ours ran at gridsize ");
        caveat.push_str(&args.gridsize.to_string());
    }
    if let Some(t) = theirs.first()
        && t.parameters != parameters
    {
        caveat.push_str(&format!(
            "; parameter counts differ: ours {parameters}, baseline {}",
            t.parameters
        ));
    }
    TorchComparison {
        rounds: theirs.to_vec(),
        train_ratio,
        infer_ratio,
        caveat,
    }
}

/// The median of finite values (NaN when there are none).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        0.5 * (v[mid - 1] + v[mid])
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_skips_non_finite_values_and_averages_the_middle_pair() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, f64::NAN, 2.0, 3.0].into_iter()), 2.5);
        assert!(median(std::iter::empty()).is_nan());
    }
}
