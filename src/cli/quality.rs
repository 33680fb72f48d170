//! `ptychostudio bench quality --case NAME --output-dir DIR`: one named reconstruction-quality
//! case end to end (data, training, inference on the test scan, §7 evaluation), written as one
//! JSON with every metric, the settings, the seed, the wall time, the speed and the device.
//!
//! The run directory keeps what a person needs to look at the result: `model/`, `metrics.csv`,
//! the test reconstruction (NPZ and PNGs) and `quality.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::{Args, ValueEnum};

use super::args::CommonArgs;
use crate::data::reconstruction::Reconstruction;
use crate::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use crate::data::{Dataset, LoadOptions, load};
use crate::device::{DeviceChoice, build_device};
use crate::epie::{EpieConfig, run_epie};
use crate::infer::stitch::{StitchWeights, default_crop};
use crate::infer::{InferOptions, reconstruct};
use crate::io::atomic::write_atomic;
use crate::metrics::{Evaluation, evaluate};
use crate::train::{ModelBundle, TrainConfig, TrainControl, train};

/// The named cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QualityCase {
    /// The reduced §9 case on the reference's own files (`reference_lines/`): 512 groups,
    /// 30 epochs, gridsize 1.
    #[value(name = "lines-512")]
    Lines512,
    /// The full §9 case on our own simulation (2 048 training + 512 test positions): 2 048
    /// groups, 60 epochs (meant for a GPU).
    #[value(name = "lines-2048")]
    Lines2048,
    /// `lines-512` at gridsize 2.
    #[value(name = "lines-g2")]
    LinesG2,
    /// The real Siemens star: the network against ePIE, run in the same command, over the scan.
    Star,
}

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
    /// Train with the probe K sweeps of ePIE refine on the training scan.
    #[arg(long, value_name = "K")]
    pub probe_from_epie: Option<usize>,
    /// Optimise the probe jointly with the network (see `train --train-probe`).
    #[arg(long)]
    pub train_probe: bool,
    /// The trainable probe's Adam learning rate [default: the training default].
    #[arg(long)]
    pub probe_learning_rate: Option<f64>,
    /// The first epoch that updates the trainable probe [default: 1].
    #[arg(long)]
    pub probe_start_epoch: Option<usize>,
    /// Normalise the probe over the central disk of radius N/4 [default: the case's].
    #[arg(long)]
    pub probe_mask: Option<bool>,
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
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The figures of one evaluation of the test reconstruction.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochFigures {
    /// After this many epochs.
    pub epoch: usize,
    /// The default stitch (patches weighted by |P|²), compared over the illuminated pixels.
    pub illuminated: Option<Evaluation>,
    /// The same stitch after the overlap pass chose each patch's twin and phase factor.
    pub with_overlap_pass: Option<Evaluation>,
    /// The reference's frame: central crops (20 px at N = 64) stitched with unit weights and
    /// no overlap pass, compared over the pixels they cover, as the reference's figures were
    /// measured.
    pub reference_frame: Option<Evaluation>,
}

/// Everything `bench quality` measured.
#[derive(Debug, serde::Serialize)]
pub struct QualityReport {
    /// The case.
    pub case: QualityCase,
    /// Seed.
    pub seed: u64,
    /// "cpu" or "wgpu", and Burn's name of the device.
    pub device: String,
    /// The training data.
    pub train_data: String,
    /// The data the reconstruction is scored on.
    pub test_data: String,
    /// What the reconstruction is compared with.
    pub compared_with: String,
    /// The whole training configuration.
    pub settings: TrainConfig,
    /// Wall-clock seconds of the whole case (data, training, inference, evaluation).
    pub wall_secs: f64,
    /// Seconds spent training.
    pub train_secs: f64,
    /// Mean training patterns per second over the epochs.
    pub train_patterns_per_s: f64,
    /// Inference patterns per second on the test scan (stitching included).
    pub infer_patterns_per_s: f64,
    /// Per epoch: training and validation loss (full Poisson NLL per pixel).
    pub losses: Vec<[f64; 3]>,
    /// The evaluations, the last one after the final epoch.
    pub evaluations: Vec<EpochFigures>,
    /// How the figures were taken.
    pub notes: Vec<String>,
}

/// The data of one case.
struct CaseData {
    train: Dataset,
    test: Dataset,
    train_name: String,
    test_name: String,
    /// The object the test reconstruction is compared with, its origin, and what it is.
    reference: Option<(Reconstruction, String)>,
    config: TrainConfig,
}

fn load_file(path: &Path) -> anyhow::Result<Dataset> {
    Ok(load(path, &LoadOptions::default())
        .with_context(|| format!("cannot load {}", path.display()))?
        .dataset)
}

fn case_data(args: &QualityArgs) -> anyhow::Result<CaseData> {
    let lines = args.data_dir.join("reference_lines");
    let base = TrainConfig {
        seed: args.seed,
        early_stopping_patience: 0,
        ..TrainConfig::default()
    };
    let from_reference = |gridsize: usize| -> anyhow::Result<CaseData> {
        let (train_path, test_path) = (lines.join("train.npz"), lines.join("test.npz"));
        Ok(CaseData {
            train: load_file(&train_path)?,
            test: load_file(&test_path)?,
            train_name: train_path.display().to_string(),
            test_name: test_path.display().to_string(),
            reference: None,
            config: TrainConfig {
                gridsize,
                n_groups: 512,
                nepochs: 30,
                ..base.clone()
            },
        })
    };
    match args.case {
        QualityCase::Lines512 => from_reference(1),
        QualityCase::LinesG2 => from_reference(2),
        QualityCase::Lines2048 => {
            let sim = SimulationConfig {
                seed: args.seed,
                ..SimulationConfig::default()
            };
            let scan = |count: usize, seed: u64| -> anyhow::Result<Dataset> {
                Ok(simulate_lines_scan(&sim, ScanPattern::Random { count }, seed)?.dataset)
            };
            Ok(CaseData {
                train: scan(2048, args.seed)?,
                test: scan(512, args.seed.wrapping_add(1_000_003))?,
                train_name: format!("simulated §9, 2 048 positions, seed {}", args.seed),
                test_name: format!(
                    "simulated §9, 512 positions, seed {}",
                    args.seed + 1_000_003
                ),
                reference: None,
                config: TrainConfig {
                    n_groups: 2048,
                    nepochs: 60,
                    ..base
                },
            })
        }
        QualityCase::Star => {
            let path = args.data_dir.join("siemens_star_tike.npz");
            let dataset = load_file(&path)?;
            tracing::info!("ePIE: {} sweeps for the reference", args.epie_iterations);
            let epie = run_epie(
                &dataset,
                EpieConfig {
                    iterations: args.epie_iterations,
                    seed: args.seed,
                    ..EpieConfig::default()
                },
                |_| true,
            );
            let reference = Reconstruction {
                object: epie.object,
                probe: epie.probe,
                origin_px: epie.origin_px,
                costs: epie.errors,
                method: "ePIE".into(),
            };
            Ok(CaseData {
                train: dataset.clone(),
                test: dataset,
                train_name: path.display().to_string(),
                test_name: path.display().to_string(),
                reference: Some((
                    reference,
                    format!("{} sweeps of ePIE (probe refined)", args.epie_iterations),
                )),
                config: TrainConfig {
                    n: 128,
                    n_groups: 516,
                    nepochs: 30,
                    n_filters_scale: 1,
                    probe_mask: true,
                    ..base
                },
            })
        }
    }
}

/// Reconstructs `test` with `bundle`, stitched with `weights`; returns the object and the
/// inference rate.
fn reconstruct_with(
    bundle: &ModelBundle,
    test: &Dataset,
    crop: Option<usize>,
    overlap_pass: bool,
    device: &burn::prelude::Device,
) -> anyhow::Result<(Reconstruction, f64)> {
    let config = &bundle.manifest.config;
    let options = InferOptions {
        gridsize: config.gridsize,
        neighbor_count: config.neighbor_count,
        seed: config.seed,
        crop,
        overlap_pass,
        ..InferOptions::default()
    };
    let network = bundle.network.valid();
    let stitched = reconstruct(&network, test, &options, device, |_, _, _| true)
        .context("inference failed")?;
    let rate = stitched.patterns as f64 / stitched.duration_secs.max(1e-9);
    Ok((
        Reconstruction {
            object: stitched.object,
            probe: bundle.probe.clone(),
            origin_px: stitched.origin_px,
            costs: bundle.history.iter().map(|r| r.train_loss).collect(),
            method: "PtychoPINN".into(),
        },
        rate,
    ))
}

/// Scores `recon` against the test scan's true object, or against `reference` (in the
/// reference's pixel frame) over the scanned region, using the pixels `weights` light.
fn score(
    recon: &Reconstruction,
    test: &Dataset,
    reference: Option<&Reconstruction>,
    weights: StitchWeights,
) -> Option<Evaluation> {
    let patch_weights = weights.patch_weights(test.probe());
    match reference {
        None => evaluate(
            &recon.object,
            recon.origin_px,
            test.object()?,
            test.positions_px(),
            false,
            Some(&patch_weights),
        ),
        Some(reference) => super::evaluate::evaluate_against_reference(
            (&recon.object, recon.origin_px),
            (&reference.object, reference.origin_px),
            test.positions_px(),
            false,
            &patch_weights,
        ),
    }
}

fn figures(
    bundle: &ModelBundle,
    data: &CaseData,
    epoch: usize,
    device: &burn::prelude::Device,
) -> anyhow::Result<(EpochFigures, Reconstruction, f64)> {
    let reference = data.reference.as_ref().map(|(r, _)| r);
    let (recon, rate) = reconstruct_with(bundle, &data.test, None, false, device)?;
    let (passed, _) = reconstruct_with(bundle, &data.test, None, true, device)?;
    let crop = default_crop(data.test.n());
    let (cropped, _) = reconstruct_with(bundle, &data.test, Some(crop), false, device)?;
    let figures = EpochFigures {
        epoch,
        illuminated: score(&recon, &data.test, reference, StitchWeights::Illumination),
        with_overlap_pass: score(&passed, &data.test, reference, StitchWeights::Illumination),
        reference_frame: score(
            &cropped,
            &data.test,
            reference,
            StitchWeights::CentralCrop(crop),
        ),
    };
    let show = |e: &Option<Evaluation>| {
        e.as_ref().map_or_else(
            || "-".to_owned(),
            |e| {
                format!(
                    "amplitude Pearson {:.3}, phase Pearson {:.3} SSIM {:.3} ({:.0} % of the box)",
                    e.amplitude.pearson.unwrap_or(f64::NAN),
                    e.phase.pearson.unwrap_or(f64::NAN),
                    e.phase.ssim.unwrap_or(f64::NAN),
                    100.0 * e.compared_fraction
                )
            },
        )
    };
    tracing::info!(
        "epoch {epoch}: illuminated: {}; with the overlap pass: {}; reference frame: {}",
        show(&figures.illuminated),
        show(&figures.with_overlap_pass),
        show(&figures.reference_frame)
    );
    Ok((figures, recon, rate))
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
    if let Some(nfs) = args.n_filters_scale {
        config.n_filters_scale = nfs;
    }
    if let Some(sweeps) = args.probe_from_epie {
        config.probe_from_epie = sweeps;
    }
    if args.train_probe {
        config.train_probe = true;
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

/// Everything measured, as written to `quality.json`; `times` = [wall, training] seconds and
/// the inference patterns/s.
fn make_report(
    args: &QualityArgs,
    data: &CaseData,
    bundle: &ModelBundle,
    device: &burn::prelude::Device,
    times: [f64; 3],
    evaluations: Vec<EpochFigures>,
) -> QualityReport {
    let [wall_secs, train_secs, infer_rate] = times;
    let history = &bundle.history;
    let rate = history.iter().map(|r| r.patterns_per_s).sum::<f64>() / history.len().max(1) as f64;
    QualityReport {
        case: args.case,
        seed: args.seed,
        device: format!("{} ({device:?})", args.device.name()),
        train_data: data.train_name.clone(),
        test_data: data.test_name.clone(),
        compared_with: data.reference.as_ref().map_or_else(
            || "the test scan's true object".to_owned(),
            |(_, what)| what.clone(),
        ),
        settings: bundle.manifest.config.clone(),
        wall_secs,
        train_secs,
        train_patterns_per_s: rate,
        infer_patterns_per_s: infer_rate,
        losses: history
            .iter()
            .map(|r| [r.epoch as f64, r.train_loss, r.val_loss])
            .collect(),
        evaluations,
        notes: vec![
            "no registration: positions are exact, and a registration shift would hide a \
             misplaced object; phase planes removed and amplitude scaled by the ratio of means \
             over the compared pixels"
                .into(),
            "illuminated: patches weighted by |P|² inside the N/2 support, compared where the \
             summed weight reaches 10 % of one probe's peak"
                .into(),
            "reference_frame: central crops (N·20/64 px) with unit weights, compared over the \
             pixels they cover (the reference's figures were taken this way)"
                .into(),
        ],
    }
}

/// Runs the case and writes `quality.json`.
pub fn run(args: &QualityArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let device = build_device(args.device, false)?;
    let mut data = case_data(args)?;
    apply_overrides(args, &mut data.config);
    data.config.n = data.train.n();
    if data.test.object().is_none() && data.reference.is_none() {
        bail!("{}: no true object to compare with", data.test_name);
    }
    std::fs::create_dir_all(&args.output_dir)
        .with_context(|| format!("cannot create {}", args.output_dir.display()))?;
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
    let report = make_report(
        args,
        &data,
        &bundle,
        &device,
        [started.elapsed().as_secs_f64(), train_secs, infer_rate],
        evaluations,
    );
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    let path = args.output_dir.join("quality.json");
    write_atomic(&path, json.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!("wrote {}", path.display());
    Ok(())
}
