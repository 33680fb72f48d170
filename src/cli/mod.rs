//! The command line: one subcommand per job, all calling the library.

mod epie;
mod inspect;
mod progress;
mod simulate;

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
