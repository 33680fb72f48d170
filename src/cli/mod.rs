//! The command line: one subcommand per job, all calling the library.

mod args;
mod bench;
mod epie;
mod evaluate;
mod infer;
mod inspect;
mod progress;
mod quality;
mod reconstruct;
mod report;
mod simulate;
mod torch;
mod train;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

/// Ptychography reconstruction with a physics-informed neural network.
///
/// Run with no arguments to open the window on the generated demo scan, with a file to open
/// that scan in the window, or with a subcommand to work headless.
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
    /// Window options.
    #[command(flatten)]
    pub window: WindowArgs,
}

/// How the window starts (demos, screenshots, frame-time measurements).
#[derive(Debug, Clone, Default, Args)]
pub struct WindowArgs {
    /// The pane to show first: dataset, probe, training or reconstruction.
    #[arg(long, value_name = "PANE")]
    pub pane: Option<String>,
    /// Start training as soon as the scan is loaded.
    #[arg(long)]
    pub train: bool,
    /// Load this model directory and reconstruct the scan with it.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Run ePIE on the scan for the side-by-side comparison.
    #[arg(long)]
    pub epie: bool,
    /// Save a screenshot of the window here once everything asked for is shown, then quit.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// Seconds to wait, once ready, before the screenshot.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub screenshot_delay: f64,
    /// Redraw continuously and write frame-time statistics (JSON) here every 2 s.
    #[arg(long, value_name = "JSON")]
    pub frame_stats: Option<PathBuf>,
    /// Where training runs and the demo scan go [default: the app's data directory].
    #[arg(long, value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Let the network run on a software GPU (lavapipe) shared with the window (a check of the
    /// shared-device path; slower than the CPU).
    #[arg(long)]
    pub software_gpu: bool,
}

#[cfg(feature = "gui")]
impl WindowArgs {
    /// The launch options these flags mean.
    pub fn launch(&self, file: Option<PathBuf>) -> anyhow::Result<crate::gui::LaunchOptions> {
        let pane = match &self.pane {
            Some(name) => Some(crate::gui::Pane::parse(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "--pane {name}: expected dataset, probe, training or reconstruction"
                )
            })?),
            None => None,
        };
        Ok(crate::gui::LaunchOptions {
            file,
            start_training: self.train,
            pane,
            frame_stats: self.frame_stats.clone(),
            screenshot: self.screenshot.clone(),
            model: self.model.clone(),
            epie: self.epie,
            screenshot_delay_secs: self.screenshot_delay,
            runs_dir: self.runs_dir.clone(),
            software_gpu: self.software_gpu,
            report_time: None,
        })
    }
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
            Some(Command::Report(a)) => a.common.quiet,
            Some(Command::Bench(a)) => match &a.what {
                Some(bench::BenchCommand::Quality(q)) => q.common.quiet,
                None => a.common.quiet,
            },
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
    /// Write the report page the window exports (object, probe, loss curves, metrics, settings)
    /// for a scan and a model or a reconstruction.
    ///
    /// Example: ptychostudio report --data sim_test.npz --model out/run --output report.png
    Report(report::ReportArgs),
    /// Measure training and inference speed in patterns per second.
    ///
    /// Example: ptychostudio bench --device wgpu --output bench.json
    Bench(Box<bench::BenchArgs>),
}

/// Opens the window on `cli.file` (or the demo scan).
#[cfg(feature = "gui")]
fn open_window(cli: &Cli) -> anyhow::Result<()> {
    crate::gui::run(cli.window.launch(cli.file.clone())?)
}

/// This build has no window: says so, and what it can do instead.
#[cfg(not(feature = "gui"))]
fn open_window(_cli: &Cli) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no window (built without the `gui` feature): give a subcommand ({})",
        subcommand_names()
    )
}

fn subcommand_names() -> String {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
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
        Some(Command::Report(args)) => report::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        None => {
            if let Some(file) = &cli.file
                && !file.exists()
            {
                anyhow::bail!(
                    "{}: no such file (subcommands: {})",
                    file.display(),
                    subcommand_names()
                );
            }
            open_window(&cli)
        }
    }
}
