//! `ptychostudio train --train-data-file FILE --output-dir DIR`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use clap::Args;

use super::args::{CommonArgs, LoadArgs};
use super::progress::{bar, stop_flag};
use super::reconstruct::{ReconstructArgs, write_reconstruction};
use crate::data::{Dataset, load};
use crate::device::{DeviceChoice, build_device_on};
use crate::train::{
    Collective, EventSender, ModelBundle, Monitor, SingleProcess, Start, StopReason, TrainConfig,
    TrainControl, TrainEvent, resolve_model_dir, train_from,
};

/// Arguments of `train`. Flags the reference has keep its names; unset flags take the defaults of
/// physics.md §5, or the resumed model's settings with `--resume`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The training scan (NPZ).
    #[arg(long)]
    pub train_data_file: PathBuf,
    /// A separate scan for validation and the final reconstruction (default: hold out 5 % of the
    /// training groups for validation).
    #[arg(long)]
    pub test_data_file: Option<PathBuf>,
    /// The run directory: `model/`, `metrics.csv`, reconstructions (default with `--resume`: the
    /// resumed run's directory).
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Continue the stopped run (or model directory) DIR: its weights, optimiser state, schedule
    /// and settings; `--nepochs` may raise the number of epochs.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Fine-tune: start from the weights of the model (or run directory) DIR, trained on
    /// another scan with the same probe and pattern size, with a fresh optimiser and schedule
    /// and this run's settings (its architecture must match: N, gridsize, n_filters_scale).
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub init_model: Option<PathBuf>,
    /// Groups drawn for training [default: 512].
    #[arg(long)]
    pub n_groups: Option<usize>,
    /// g: each sample is a g × g group of neighbouring patterns [default: 1].
    #[arg(long)]
    pub gridsize: Option<usize>,
    /// Gridsize 1: train on groups of 2 × 2 neighbours whose predicted patches are merged before
    /// diffraction, so overlapping patches must agree (resolves the twin image of a real,
    /// symmetric probe); the model still predicts each pattern alone [default: true].
    #[arg(long, value_name = "BOOL")]
    pub overlap_groups: Option<bool>,
    /// Groups per optimiser step [default: 16].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Maximum epochs [default: 50].
    #[arg(long)]
    pub nepochs: Option<usize>,
    /// Photons per pattern of the intensity scale [default: 1e9].
    #[arg(long)]
    pub nphotons: Option<f64>,
    /// Weight of the Poisson NLL [default: 1].
    #[arg(long)]
    pub nll_weight: Option<f32>,
    /// Weight of the amplitude MAE [default: 0].
    #[arg(long)]
    pub mae_weight: Option<f32>,
    /// Weight of the object's total variation [default: 0].
    #[arg(long)]
    pub tv_weight: Option<f32>,
    /// Weight of each pattern's Poisson NLL against its own predicted patch before the merge
    /// (overlap groups, gridsize > 1) [default: 0].
    #[arg(long)]
    pub own_patch_weight: Option<f32>,
    /// K: neighbours considered for each group (gridsize > 1) [default: 4].
    #[arg(long)]
    pub neighbor_count: Option<usize>,
    /// Seed of weights, grouping, split and batch order [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Adam's starting learning rate [default: 1e-3].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Optimiser steps of the linear learning-rate warm-up; 0 for none.
    #[arg(long)]
    pub warmup_steps: Option<usize>,
    /// Filter multiplier of the network [default: 2].
    #[arg(long)]
    pub n_filters_scale: Option<usize>,
    /// Epochs without improvement before stopping; 0 never stops early [default: 3].
    #[arg(long)]
    pub early_stopping_patience: Option<usize>,
    /// Watch the validation loss for early stopping instead of the training loss.
    #[arg(long)]
    pub early_stopping_on_validation: bool,
    /// Fraction of groups held out for validation without a test file [default: 0.05].
    #[arg(long)]
    pub validation_fraction: Option<f64>,
    /// Normalise the probe over the central disk of radius N/4.
    #[arg(long)]
    pub probe_mask: bool,
    /// The rms object amplitude the probe's scale is set for, in (0, 1) (the network's
    /// amplitude is a sigmoid), or `off` for physics.md §3.3's normalisation alone
    /// [default: 0.64].
    #[arg(long, value_name = "A|off", value_parser = crate::cli::args::parse_amplitude_target)]
    pub amplitude_target: Option<crate::cli::args::AmplitudeTarget>,
    /// Check the file's probe with sweeps of ePIE before training, held and refined: `auto`
    /// (the default: 20 sweeps, and ePIE's refined probe replaces the file's only when it
    /// explains the scan at least 2× better), `auto:K` (K sweeps), K (ePIE's probe after K
    /// sweeps, always) or `off` (the file's probe, no check).
    #[arg(long, value_name = "auto|auto:K|K|off", value_parser = crate::cli::args::parse_probe_from_epie)]
    pub probe_from_epie: Option<crate::cli::args::ProbeFromEpie>,
    /// Optimise the probe jointly with the network (its normalisation kept; saved with the
    /// model): `--train-probe` or `--train-probe false` [default: the training default].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub train_probe: Option<bool>,
    /// Experimental, off by default: refine the scan positions while training (gridsize 1),
    /// each pattern's predicted patch registered against the object its neighbours make; saved
    /// with the model and used when this scan is stitched. On `lines-512-positions` it makes the
    /// positions worse (8.1 → 13.3 px RMS; docs/positions.md): use `epie --correct-positions`
    /// for measured scans. `--train-positions` or `--train-positions false`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub train_positions: Option<bool>,
    /// The first epoch after which positions are refined [default: 2].
    #[arg(long)]
    pub position_start_epoch: Option<usize>,
    /// The position search radius, pixels [default: N/2].
    #[arg(long, value_name = "PX")]
    pub position_search_px: Option<usize>,
    /// The trainable probe's Adam learning rate [default: 1e-3].
    #[arg(long)]
    pub probe_learning_rate: Option<f64>,
    /// The first epoch that updates the trainable probe [default: 1].
    #[arg(long)]
    pub probe_start_epoch: Option<usize>,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Do not write `metrics.csv`.
    #[arg(long)]
    pub no_metrics_log: bool,
    #[command(flatten)]
    pub reconstruct: ReconstructArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

impl TrainArgs {
    /// The configuration: `base` with every given flag applied.
    fn config(&self, mut base: TrainConfig, n: usize) -> TrainConfig {
        base.n = n;
        macro_rules! set {
            ($($flag:ident => $field:expr),* $(,)?) => {
                $(if let Some(v) = self.$flag { $field = v; })*
            };
        }
        set!(
            n_groups => base.n_groups,
            gridsize => base.gridsize,
            overlap_groups => base.overlap_groups,
            batch_size => base.batch_size,
            nepochs => base.nepochs,
            nphotons => base.nphotons,
            nll_weight => base.loss.nll,
            mae_weight => base.loss.mae,
            tv_weight => base.loss.tv,
            own_patch_weight => base.loss.own_patch_nll,
            neighbor_count => base.neighbor_count,
            seed => base.seed,
            learning_rate => base.learning_rate,
            warmup_steps => base.warmup_steps,
            probe_learning_rate => base.probe_learning_rate,
            probe_start_epoch => base.probe_start_epoch,
            train_probe => base.train_probe,
            train_positions => base.train_positions,
            position_start_epoch => base.position_start_epoch,
            position_search_px => base.position_search_px,
            n_filters_scale => base.n_filters_scale,
            early_stopping_patience => base.early_stopping_patience,
            validation_fraction => base.validation_fraction,
        );
        if self.early_stopping_on_validation {
            base.early_stopping_monitor = Monitor::Validation;
        }
        if self.probe_mask {
            base.probe_mask = true;
        }
        if let Some(choice) = self.probe_from_epie {
            base.probe_from_epie = choice.sweeps;
            base.probe_from_epie_always = choice.always;
        }
        if let Some(crate::cli::args::AmplitudeTarget(target)) = self.amplitude_target {
            base.amplitude_target = target;
        }
        base
    }
}

fn load_scan(path: &Path, args: &LoadArgs) -> anyhow::Result<Dataset> {
    let loaded =
        load(path, &args.options()).with_context(|| format!("cannot load {}", path.display()))?;
    for note in &loaded.notes {
        tracing::info!("{}: {note}", path.display());
    }
    Ok(loaded.dataset)
}

/// The model in `dir`, when one is named; the error starts with `what`.
fn load_model(
    dir: Option<&Path>,
    device: &burn::prelude::Device,
    what: &str,
) -> anyhow::Result<Option<ModelBundle>> {
    dir.map(|dir| {
        ModelBundle::load(dir, device).with_context(|| format!("{what} {}", dir.display()))
    })
    .transpose()
}

/// Trains, saves the model, and reconstructs the test scan when there is one; over MPI's ranks
/// when an MPI launcher started the process (the `mpi` feature).
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    #[cfg(feature = "mpi")]
    if crate::train::collective::launched_by_mpi() {
        return run_over_mpi(args);
    }
    if let Some(size) = crate::train::collective::launcher_size().filter(|&s| s > 1) {
        bail!(
            "an MPI launcher started {size} processes, but this build has no MPI: build with \
             `cargo build --features mpi` to train over them (each would otherwise train alone \
             and write the same files)"
        );
    }
    run_with(args, Arc::new(SingleProcess))
}

/// [`run`] as one rank of an MPI job: every rank trains its share; a rank that fails ends the
/// whole job, so none waits for it.
#[cfg(feature = "mpi")]
fn run_over_mpi(args: &TrainArgs) -> anyhow::Result<()> {
    use crate::train::mpi_world::MpiSession;
    let Some(session) = MpiSession::start() else {
        bail!("MPI could not be initialised");
    };
    share_cores_between_ranks();
    let result = run_with(args, session.collective());
    if let Err(error) = &result
        && session.size() > 1
    {
        eprintln!(
            "error on rank {} of {}: {error:#}",
            session.rank(),
            session.size()
        );
        session.abort(1);
    }
    result
}

/// Ranks on one machine split its cores (unless `RAYON_NUM_THREADS` says otherwise): two ranks
/// each using every core would fight over them.
#[cfg(feature = "mpi")]
fn share_cores_between_ranks() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let Some(local) = crate::train::collective::launcher_local_size().filter(|&l| l > 1) else {
        return;
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let threads = (cores / local).max(1);
    if rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .is_ok()
    {
        tracing::debug!("{local} ranks on this machine: {threads} threads each");
    }
}

/// [`run`] as one of `collective`'s processes: process 0 shows progress, saves and reconstructs.
fn run_with(args: &TrainArgs, collective: Arc<dyn Collective>) -> anyhow::Result<()> {
    let lead = collective.rank() == 0;
    // Ranks sharing a node with several GPUs take one each, by their index on the node (unless
    // CUBECL_WGPU_DEFAULT_DEVICE picks the adapter).
    let gpu = (collective.size() > 1
        && std::env::var_os("CUBECL_WGPU_DEFAULT_DEVICE").is_none()
        && crate::train::collective::launcher_local_size().is_some_and(|n| n > 1))
    .then(crate::train::collective::launcher_local_rank)
    .flatten();
    let device = build_device_on(args.device, false, gpu)?;
    let resume = load_model(args.resume.as_deref(), &device, "cannot resume from")?;
    let init = load_model(
        args.init_model.as_deref(),
        &device,
        "cannot start from the model",
    )?;
    let output_dir = match (&args.output_dir, &args.resume) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => {
            let model = resolve_model_dir(dir)?;
            model
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        }
        (None, None) => bail!("--output-dir is required (where the model and logs go)"),
    };
    let train_data = load_scan(&args.train_data_file, &args.load)?;
    let test_data = match &args.test_data_file {
        Some(path) => Some(load_scan(path, &args.load)?),
        None => None,
    };
    // A fine-tuned model keeps its architecture; the other settings are this run's.
    let base = match (&resume, &init) {
        (Some(b), _) => b.manifest.config.clone(),
        (None, Some(b)) => TrainConfig::default().with_architecture_of(&b.manifest.config),
        (None, None) => TrainConfig::default(),
    };
    let config = args.config(base, train_data.n());
    std::fs::create_dir_all(&output_dir)
        .with_context(|| format!("cannot create {}", output_dir.display()))?;
    let (events, receiver) = EventSender::channel(64);
    let stop = stop_flag();
    let control = TrainControl {
        stop: Arc::clone(&stop),
        events: if lead {
            events
        } else {
            // The printer ends when the last sender goes.
            drop(events);
            EventSender::none()
        },
        output_dir: Some(output_dir.clone()),
        metrics_log: !args.no_metrics_log,
        training_data: Some(args.train_data_file.display().to_string()),
        collective,
        ..TrainControl::default()
    };
    let quiet = args.common.quiet || !lead;
    let printer = std::thread::Builder::new()
        .name("progress".into())
        .spawn(move || show_progress(&receiver, quiet))?;
    let start = match (&resume, &init) {
        (Some(b), _) => Start::Resume(b),
        (None, Some(b)) => Start::FineTune(b),
        (None, None) => Start::Scratch,
    };
    let result = train_from(
        &train_data,
        test_data.as_ref(),
        &config,
        &device,
        &control,
        start,
    );
    drop(control);
    let _ = printer.join();
    let outcome = result.context("training failed")?;
    if !lead {
        return Ok(());
    }
    tracing::info!(
        "model saved to {} ({})",
        output_dir.join("model").display(),
        match outcome.reason {
            StopReason::Completed => "all epochs",
            StopReason::EarlyStopping => "early stopping",
            StopReason::Stopped => "stopped",
            StopReason::Diverged => "the loss diverged; last good epoch kept",
        }
    );
    if let Some(test) = &test_data {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        write_reconstruction(
            &outcome.bundle,
            test,
            &output_dir,
            &args.reconstruct,
            &device,
            quiet,
        )?;
    }
    Ok(())
}

/// Prints events until the run finishes: a bar over the epoch's batches, a line per epoch.
fn show_progress(receiver: &std::sync::mpsc::Receiver<TrainEvent>, quiet: bool) {
    let mut progress = bar(0, true, "");
    while let Ok(event) = receiver.recv() {
        match event {
            TrainEvent::Started(info) => {
                tracing::info!(
                    "{} parameters on {}; {} steps per epoch",
                    info.parameters,
                    info.device,
                    info.batches_per_epoch
                );
            }
            TrainEvent::Batch {
                epoch,
                batch,
                batches,
                loss,
            } => {
                if batch == 1 {
                    progress.finish_and_clear();
                    progress = bar(batches as u64, quiet, &format!("epoch {epoch}"));
                }
                progress.set_position(batch as u64);
                progress.set_prefix(format!("loss {loss:.5}"));
            }
            TrainEvent::Epoch(r) => {
                progress.finish_and_clear();
                tracing::info!(
                    "epoch {:>3}: train {:.6} val {:.6} lr {:.2e} {:.1} s {:.1} patterns/s",
                    r.epoch,
                    r.train_loss,
                    r.val_loss,
                    r.learning_rate,
                    r.duration_secs,
                    r.patterns_per_s
                );
            }
            // Log lines went through `tracing` already.
            TrainEvent::Log(_) | TrainEvent::Preview { .. } => {}
            TrainEvent::Finished { .. } => {
                progress.finish_and_clear();
                break;
            }
        }
    }
    progress.finish_and_clear();
}
