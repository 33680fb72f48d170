//! `ptychostudio infer --model-path DIR --test-data FILE --output-dir DIR`

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::args::{CommonArgs, LoadArgs};
use super::reconstruct::{ReconstructArgs, write_reconstruction};
use crate::data::load;
use crate::device::{DeviceChoice, build_device};
use crate::train::ModelBundle;

/// Arguments of `infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// A model directory, or a training run's output directory (its `model/` is used).
    #[arg(long)]
    pub model_path: PathBuf,
    /// The scan to reconstruct (NPZ).
    #[arg(long)]
    pub test_data: PathBuf,
    /// Where to write the reconstruction (created if missing).
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub reconstruct: ReconstructArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Loads the model, reconstructs the scan, writes the files.
pub fn run(args: &InferArgs) -> anyhow::Result<()> {
    let device = build_device(args.device, false)?;
    let bundle = ModelBundle::load(&args.model_path, &device)
        .with_context(|| format!("cannot load the model {}", args.model_path.display()))?;
    let loaded = load(&args.test_data, &args.load.options())
        .with_context(|| format!("cannot load {}", args.test_data.display()))?;
    for note in &loaded.notes {
        tracing::info!("{note}");
    }
    write_reconstruction(
        &bundle,
        &loaded.dataset,
        &args.output_dir,
        &args.reconstruct,
        &device,
        args.common.quiet,
    )
}
