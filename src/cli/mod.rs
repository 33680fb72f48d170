//! The command line: one subcommand per job, all calling the library.

mod bench;
mod epie;
mod evaluate;
mod infer;
mod inspect;
mod progress;
mod reconstruct;
mod simulate;
mod train;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::data::LoadOptions;

/// Ptychography reconstruction with a physics-informed neural network.
///
/// Run with no arguments to open the window (coming; for now this help is shown), or with a
/// subcommand to work headless.
#[derive(Debug, Parser)]
#[command(
    name = "ptychostudio",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// The job to run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A dataset to open in the window.
    pub file: Option<PathBuf>,
}

impl Cli {
    /// True when the chosen subcommand asked for `--quiet`.
    pub fn quiet(&self) -> bool {
        match &self.command {
            Some(Command::Inspect(a)) => a.common.quiet,
            Some(Command::Simulate(a)) => a.common.quiet,
            Some(Command::Epie(a)) => a.common.quiet,
            Some(Command::Train(a)) => a.common.quiet,
            Some(Command::Infer(a)) => a.common.quiet,
            Some(Command::Evaluate(a)) => a.common.quiet,
            Some(Command::Bench(a)) => a.common.quiet,
            None => false,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what an NPZ file holds: layout, shapes, dtypes, value ranges and warnings.
    ///
    /// Example: ptychostudio inspect ../shared/data/siemens_star_tike.npz --json
    Inspect(inspect::InspectArgs),
    /// Write the standard synthetic dataset (lines object, default probe, Poisson noise).
    ///
    /// Example: ptychostudio simulate --output sim.npz --n-images 2048 --seed 1 --test-output sim_test.npz
    Simulate(simulate::SimulateArgs),
    /// Reconstruct with the iterative ePIE baseline on the CPU.
    ///
    /// Example: ptychostudio epie ../shared/data/siemens_star_tike.npz --iterations 15 --output-dir out/epie
    Epie(epie::EpieArgs),
    /// Train the network on a scan (self-supervised: Poisson likelihood of the measured counts)
    /// and save the model directory.
    ///
    /// Example: ptychostudio train --train-data-file sim.npz --test-data-file sim_test.npz --output-dir out/run --nepochs 30
    Train(Box<train::TrainArgs>),
    /// Reconstruct a scan with a trained model in one forward pass and stitch the object.
    ///
    /// Example: ptychostudio infer --model-path out/run --test-data sim_test.npz --output-dir out/infer
    Infer(infer::InferArgs),
    /// Compare a reconstruction with the true object (§7 alignment; MAE, PSNR, SSIM, FRC, Pearson).
    ///
    /// Example: ptychostudio evaluate out/infer/reconstructed_reconstruction.npz sim_test.npz --json
    Evaluate(evaluate::EvaluateArgs),
    /// Measure training and inference speed in patterns per second.
    ///
    /// Example: ptychostudio bench --device wgpu --output bench.json
    Bench(bench::BenchArgs),
}

/// Flags every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// No progress bars or info messages.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How to read a scan whose conventions may be off.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The patterns are counts: take their square root.
    #[arg(long, conflicts_with = "no_sqrt")]
    pub sqrt: bool,
    /// Use the patterns as amplitudes even if they look like counts.
    #[arg(long)]
    pub no_sqrt: bool,
    /// The zero frequency is at the array corner: move it to the centre.
    #[arg(long, conflicts_with = "no_fftshift")]
    pub fftshift: bool,
    /// Use the patterns as they are even if DC looks like it is at the corner.
    #[arg(long)]
    pub no_fftshift: bool,
    /// For a ptychodus diffraction file: the product file holding probe and positions.
    #[arg(long, value_name = "FILE")]
    pub product: Option<PathBuf>,
}

impl LoadArgs {
    /// The loader options these flags mean.
    pub fn options(&self) -> LoadOptions {
        let tri = |yes: bool, no: bool| match (yes, no) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        LoadOptions {
            sqrt: tri(self.sqrt, self.no_sqrt),
            fftshift: tri(self.fftshift, self.no_fftshift),
            product: self.product.clone(),
        }
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Inspect(args)) => inspect::run(&args),
        Some(Command::Simulate(args)) => simulate::run(&args),
        Some(Command::Epie(args)) => epie::run(&args),
        Some(Command::Train(args)) => train::run(&args),
        Some(Command::Infer(args)) => infer::run(&args),
        Some(Command::Evaluate(args)) => evaluate::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        None => {
            if let Some(file) = &cli.file {
                eprintln!(
                    "The window is not built yet; to look at {} now, run: ptychostudio inspect {}",
                    file.display(),
                    file.display()
                );
            }
            Cli::command().print_help()?;
            Ok(())
        }
    }
}
