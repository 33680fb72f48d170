//! `ptychostudio bench quality --case NAME --output-dir DIR`: one named reconstruction-quality
//! case end to end (data, training, inference on the test scan, §7 evaluation), written as one
//! JSON with every metric, the settings, the seed, the wall time, the speed and the device.
//!
//! The run directory keeps what a person needs to look at the result: `model/`, `metrics.csv`,
//! the test reconstruction (NPZ and PNGs) and `quality.json`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use super::args::CommonArgs;
use crate::device::{DeviceChoice, build_device};
use crate::io::atomic::write_atomic;
use crate::train::{ModelBundle, TrainConfig, TrainControl, train};

mod cases;
mod epie_side;
mod report;
mod score;
mod seeded_side;

use cases::{CaseData, CaseOptions, QualityCase, ScanKind, case_data};
use report::make_report;
use score::figures;

/// Arguments of `bench quality`.
#[derive(Debug, Args)]
pub struct QualityArgs {
    /// Which case.
    #[arg(long, value_enum)]
    pub case: QualityCase,
    /// Where the run, its reconstructions and `quality.json` go.
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Seed of the weights, the grouping and the batch order (and of the simulation).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Epochs [default: the case's].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training groups [default: the case's].
    #[arg(long)]
    pub groups: Option<usize>,
    /// g [default: the case's].
    #[arg(long)]
    pub gridsize: Option<usize>,
    /// Also evaluate the test reconstruction after these epochs (e.g. 1,2,5), besides the last.
    #[arg(long, value_delimiter = ',')]
    pub eval_epochs: Vec<usize>,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// The folder with `reference_lines/` and `siemens_star_tike.npz`.
    #[arg(long, default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// ePIE sweeps of the star's reference reconstruction.
    #[arg(long, default_value_t = 20)]
    pub epie_iterations: usize,
    /// ePIE's check of the scan's probe before training (see `train --probe-from-epie`):
    /// `auto`, `auto:K`, K (always ePIE's) or `off` [default: the training default].
    #[arg(long, value_name = "auto|auto:K|K|off", value_parser = crate::cli::args::parse_probe_from_epie)]
    pub probe_from_epie: Option<crate::cli::args::ProbeFromEpie>,
    /// Optimise the probe jointly with the network (see `train --train-probe`):
    /// `--train-probe` or `--train-probe false` [default: the training default].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub train_probe: Option<bool>,
    /// The trainable probe's Adam learning rate [default: the training default].
    #[arg(long)]
    pub probe_learning_rate: Option<f64>,
    /// The first epoch that updates the trainable probe [default: 1].
    #[arg(long)]
    pub probe_start_epoch: Option<usize>,
    /// Normalise the probe over the central disk of radius N/4 [default: the case's].
    #[arg(long)]
    pub probe_mask: Option<bool>,
    /// The rms object amplitude the probe's scale is set for, or `off` (see `train
    /// --amplitude-target`) [default: the training default].
    #[arg(long, value_name = "A|off", value_parser = crate::cli::args::parse_amplitude_target)]
    pub amplitude_target: Option<crate::cli::args::AmplitudeTarget>,
    /// Filter multiplier of the network [default: the case's].
    #[arg(long)]
    pub n_filters_scale: Option<usize>,
    /// Learning-rate warm-up steps [default: the training default].
    #[arg(long)]
    pub warmup_steps: Option<usize>,
    /// Gridsize 1: train on merged groups of 2 × 2 neighbours (see `train --overlap-groups`)
    /// [default: the case's].
    #[arg(long, value_name = "BOOL")]
    pub overlap_groups: Option<bool>,
    /// Weight of each pattern's NLL against its own unmerged patch (see `train
    /// --own-patch-weight`) [default: the training default].
    #[arg(long)]
    pub own_patch_weight: Option<f32>,
    /// Adam's starting learning rate [default: the training default, 1e-3].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Weight the merge of an overlap group's patches by the central N/2 box instead of the
    /// probe's intensity |P|² (how overlap groups trained before; for comparisons).
    #[arg(long)]
    pub overlap_merge_box: bool,
    /// Groups per optimiser step [default: the case's].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// `lines-512-positions`: give the true positions (the baseline the refined run is
    /// compared with).
    #[arg(long)]
    pub exact_positions: bool,
    /// Refine the scan positions while training (see `train --train-positions`)
    /// [default: the training default].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub train_positions: Option<bool>,
    /// The first epoch after which positions are refined [default: the training default].
    #[arg(long)]
    pub position_start_epoch: Option<usize>,
    /// `lines-dose`, `lines-overlap`: photons per pattern [default: 1e4 and 1e9].
    #[arg(long)]
    pub photons: Option<f64>,
    /// `lines-overlap`: the raster's linear overlap 1 − step / probe diameter.
    #[arg(long, default_value_t = 0.3)]
    pub overlap: f64,
    /// `lines-overlap`: a raster, or random positions at its density.
    #[arg(long, value_enum, default_value_t = ScanKind::Raster)]
    pub scan: ScanKind,
    /// The sweep counts ePIE beside the network is scored at; its best is reported
    /// [default: 5,10,30,100,300,1000; `lines-512-positions`: --epie-iterations].
    #[arg(long, value_delimiter = ',')]
    pub epie_sweeps: Vec<usize>,
    /// Run only ePIE beside the case (no training), writing `epie.json` (its figures and the
    /// scan's regime) and `epie_*`: to score ePIE at more sweep counts after a run.
    #[arg(long)]
    pub epie_only: bool,
    /// The ePIE run beside the network keeps the scan's probe (no probe update); its
    /// reconstruction is written as `epie_fixed_probe_*`, and with `--epie-only` its figures go
    /// to `epie_fixed_probe.json`.
    #[arg(long)]
    pub epie_fixed_probe: bool,
    /// `lines-512-positions`: whether the ePIE run beside the network corrects positions
    /// [default: when the positions are displaced].
    #[arg(long, value_name = "BOOL")]
    pub epie_correct_positions: Option<bool>,
    /// After training, run K sweeps of ePIE started from the network's object and probe, and
    /// K from scratch on the same scan, scoring every sweep (`seeded_epie` in the JSON).
    #[arg(long, value_name = "K")]
    pub refine_epie: Option<usize>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The case's configuration with the flags given on the command line.
fn apply_overrides(args: &QualityArgs, config: &mut TrainConfig) {
    if let Some(epochs) = args.epochs {
        config.nepochs = epochs;
    }
    if let Some(groups) = args.groups {
        config.n_groups = groups;
    }
    if let Some(gridsize) = args.gridsize {
        config.gridsize = gridsize;
    }
    if let Some(steps) = args.warmup_steps {
        config.warmup_steps = steps;
    }
    if let Some(mask) = args.probe_mask {
        config.probe_mask = mask;
    }
    if let Some(crate::cli::args::AmplitudeTarget(target)) = args.amplitude_target {
        config.amplitude_target = target;
    }
    if let Some(nfs) = args.n_filters_scale {
        config.n_filters_scale = nfs;
    }
    if let Some(choice) = args.probe_from_epie {
        config.probe_from_epie = choice.sweeps;
        config.probe_from_epie_always = choice.always;
    }
    if let Some(train) = args.train_probe {
        config.train_probe = train;
    }
    if let Some(rate) = args.probe_learning_rate {
        config.probe_learning_rate = rate;
    }
    if let Some(epoch) = args.probe_start_epoch {
        config.probe_start_epoch = epoch;
    }
    if let Some(overlap) = args.overlap_groups {
        config.overlap_groups = overlap;
    }
    if let Some(batch) = args.batch_size {
        config.batch_size = batch;
    }
    if let Some(rate) = args.learning_rate {
        config.learning_rate = rate;
    }
    if args.overlap_merge_box {
        config.overlap_merge_weights = crate::physics::merge::MergeWeights::CentralBox;
    }
    if let Some(weight) = args.own_patch_weight {
        config.loss.own_patch_nll = weight;
    }
    if let Some(refine) = args.train_positions {
        config.train_positions = refine;
    }
    if let Some(epoch) = args.position_start_epoch {
        config.position_start_epoch = epoch;
    }
    // A case's budget counts patterns, as the reference's does (e.g. 512 per epoch in steps of
    // 16): training on groups of four overlapping patterns takes a quarter of the groups and of
    // the batch, so it sees as many patterns in as many optimiser steps.
    let channels = config.group_side() * config.group_side();
    if config.gridsize == 1 && channels > 1 {
        if args.groups.is_none() {
            config.n_groups = config.n_groups.div_ceil(channels);
        }
        if args.batch_size.is_none() {
            config.batch_size = (config.batch_size / channels).max(1);
        }
    }
}

/// Epochs that give `budget` training patterns on a scan of `patterns` (at least one): each
/// epoch trains min(groups, patterns) groups of `group_side²` patterns.
fn epochs_for_budget(config: &TrainConfig, patterns: usize, budget: usize) -> usize {
    let side = config.group_side();
    let per_epoch = (config.n_groups.min(patterns) * side * side).max(1);
    budget.div_ceil(per_epoch).max(1)
}

/// ePIE beside the network on a case with true positions ([`epie_side`]), its reconstruction
/// written as `epie_*`.
fn run_epie_side(
    args: &QualityArgs,
    data: &CaseData,
) -> anyhow::Result<Option<epie_side::EpieFigures>> {
    let displaced = args.case == QualityCase::Lines512Positions && !args.exact_positions;
    let correct = args.epie_correct_positions.unwrap_or(displaced);
    let counts = if !args.epie_sweeps.is_empty() {
        args.epie_sweeps.clone()
    } else if args.case == QualityCase::Lines512Positions {
        vec![args.epie_iterations]
    } else {
        vec![5, 10, 30, 100, 300, 1000]
    };
    let Some((figures, recon)) =
        epie_side::run(data, &counts, correct, !args.epie_fixed_probe, args.seed)?
    else {
        return Ok(None);
    };
    let prefix = if args.epie_fixed_probe {
        "epie_fixed_probe"
    } else {
        "epie"
    };
    recon
        .write_all(&data.test, &args.output_dir, prefix)
        .context("cannot write ePIE's reconstruction")?;
    Ok(Some(figures))
}

/// The case's data with the command line's settings applied.
fn load_case(args: &QualityArgs) -> anyhow::Result<CaseData> {
    let mut data = case_data(
        args.case,
        &CaseOptions {
            seed: args.seed,
            data_dir: &args.data_dir,
            epie_iterations: args.epie_iterations,
            exact_positions: args.exact_positions,
            photons: args.photons,
            overlap: args.overlap,
            scan: args.scan,
        },
    )?;
    apply_overrides(args, &mut data.config);
    data.config.n = data.train.n();
    if let (Some(budget), None) = (data.pattern_budget, args.epochs) {
        data.config.nepochs = epochs_for_budget(&data.config, data.train.len(), budget);
    }
    if data.test.object().is_none() && data.reference.is_none() {
        bail!("{}: no true object to compare with", data.test_name);
    }
    Ok(data)
}

/// `--epie-only`: ePIE beside the case and `epie.json`.
fn write_epie_only(args: &QualityArgs, data: &CaseData) -> anyhow::Result<()> {
    let Some(epie) = run_epie_side(args, data)? else {
        bail!(
            "{:?} has no true positions: ePIE is not scored beside it",
            args.case
        );
    };
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "case": args.case,
        "seed": args.seed,
        "scan": data.scan_facts,
        "epie": epie,
        "probe_refined": !args.epie_fixed_probe,
    }))?;
    let path = args.output_dir.join(if args.epie_fixed_probe {
        "epie_fixed_probe.json"
    } else {
        "epie.json"
    });
    write_atomic(&path, json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!("wrote {}", path.display());
    Ok(())
}

/// Runs the case and writes `quality.json`.
pub fn run(args: &QualityArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let device = build_device(args.device, false)?;
    let data = load_case(args)?;
    std::fs::create_dir_all(&args.output_dir)
        .with_context(|| format!("cannot create {}", args.output_dir.display()))?;
    if args.epie_only {
        return write_epie_only(args, &data);
    }
    let mut stops: Vec<usize> = args
        .eval_epochs
        .iter()
        .copied()
        .filter(|&e| e >= 1 && e < data.config.nepochs)
        .collect();
    stops.push(data.config.nepochs);
    stops.sort_unstable();
    stops.dedup();
    let control = TrainControl {
        output_dir: Some(args.output_dir.clone()),
        training_data: Some(data.train_name.clone()),
        ..TrainControl::default()
    };
    let mut bundle: Option<ModelBundle> = None;
    let mut evaluations = Vec::new();
    let (mut train_secs, mut infer_rate, mut last_recon) = (0.0, f64::NAN, None);
    for &stop in &stops {
        let config = TrainConfig {
            nepochs: stop,
            ..data.config.clone()
        };
        tracing::info!(
            "{:?}: training to epoch {stop} of {}",
            args.case,
            data.config.nepochs
        );
        let t = Instant::now();
        let outcome = train(
            &data.train,
            Some(&data.test),
            &config,
            &device,
            &control,
            bundle.as_ref(),
        )
        .context("training failed")?;
        train_secs += t.elapsed().as_secs_f64();
        let (epoch_figures, recon, rate) = figures(&outcome.bundle, &data, stop, &device)?;
        evaluations.push(epoch_figures);
        infer_rate = rate;
        last_recon = Some(recon);
        bundle = Some(outcome.bundle);
    }
    let Some(bundle) = bundle else {
        bail!("no epoch was trained");
    };
    let epie = run_epie_side(args, &data)?;
    if let Some(recon) = &last_recon {
        recon
            .write_all(&data.test, &args.output_dir, "reconstructed")
            .context("cannot write the reconstruction")?;
    }
    if let Some((reference, _)) = &data.reference {
        reference
            .write_all(&data.test, &args.output_dir, "reference")
            .context("cannot write the reference reconstruction")?;
    }
    let mut report = make_report(
        (args.case, args.seed, args.device.name()),
        &data,
        &bundle,
        &device,
        [started.elapsed().as_secs_f64(), train_secs, infer_rate],
        evaluations,
    );
    report.epie = epie;
    report.scan = data.scan_facts.clone();
    if let (Some(sweeps), Some(recon)) = (args.refine_epie.filter(|&k| k > 0), &last_recon) {
        report.seeded_epie = Some(seeded_side::run(&data, recon, sweeps, args.seed)?);
    }
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    let path = args.output_dir.join("quality.json");
    write_atomic(&path, json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!("wrote {}", path.display());
    Ok(())
}
