//! The training loop (physics.md §5): Adam with a plateau schedule and early stopping, a stop
//! flag checked between batches, events for a listener, `metrics.csv`, and the model directory
//! saved after every epoch (so stopping, or a crash, keeps the last finished epoch).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::bundle::{Manifest, ModelBundle};
use super::config::TrainConfig;
use super::error::TrainError;
use super::events::{EpochRecord, EventSender, RunInfo, StopReason, TrainEvent};
use super::metrics_log::write_metrics_csv;
use super::positions::ScanPositions;
use super::preview::Preview;
use super::probe_param::TrainableProbe;
use super::schedule::Schedule;
use super::split::Splits;
use super::start::{adam, check_resume, start_network};
use super::step::{Setup, mean};
use crate::data::Dataset;
use crate::model::PinnNet;
use crate::physics::ForwardModel;
use crate::physics::forward::intensity_scale;
use crate::physics::probe::normalization_factor;

/// How a run is driven and where it writes; not part of the model.
#[derive(Debug)]
pub struct TrainControl {
    /// Set to stop between batches (Stop button, Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Where events go.
    pub events: EventSender,
    /// The run directory: the model goes to `<dir>/model`, the log to `<dir>/metrics.csv`.
    pub output_dir: Option<PathBuf>,
    /// Write `metrics.csv` (on by default).
    pub metrics_log: bool,
    /// Send a stitched preview every this many epochs (0: never).
    pub preview_every: usize,
    /// Groups in the preview (the ones nearest the scan's centre).
    pub preview_groups: usize,
    /// During a run's first epoch, also send a preview once this many seconds have passed, and
    /// again every as many (0: never). On a slow CPU the first epoch takes minutes; the window
    /// asks for 30 s, so a user sees a first picture within a minute.
    pub first_epoch_preview_secs: f64,
    /// The training file's name, recorded in the model.
    pub training_data: Option<String>,
}

impl Default for TrainControl {
    fn default() -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(false)),
            events: EventSender::none(),
            output_dir: None,
            metrics_log: true,
            preview_every: 0,
            preview_groups: 256,
            first_epoch_preview_secs: 0.0,
            training_data: None,
        }
    }
}

/// The result of [`train`].
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The model (network in inference mode on the training device).
    pub bundle: ModelBundle,
    /// Why training ended.
    pub reason: StopReason,
}

/// Trains on `train_data` (validating on `test_data`, or on a held-out fraction of the training
/// groups when there is none) and returns the model. With `resume`, continues that model's
/// epochs, schedule and optimiser state. The model is saved to `<output_dir>/model` after every
/// epoch and at the end.
pub fn train(
    train_data: &Dataset,
    test_data: Option<&Dataset>,
    config: &TrainConfig,
    device: &Device,
    control: &TrainControl,
    resume: Option<&ModelBundle>,
) -> Result<TrainOutcome, TrainError> {
    let start = resume.map_or(Start::Scratch, Start::Resume);
    train_from(train_data, test_data, config, device, control, start)
}

/// Where a run's weights come from.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// Seeded initial weights.
    Scratch,
    /// Continue this model: weights, optimiser state, schedule and history.
    Resume(&'a ModelBundle),
    /// Fine-tune: this model's weights (e.g. trained on another scan with the same probe), with
    /// a fresh optimiser and schedule and this run's settings.
    FineTune(&'a ModelBundle),
}

/// [`train`] from any [`Start`].
pub fn train_from(
    train_data: &Dataset,
    test_data: Option<&Dataset>,
    config: &TrainConfig,
    device: &Device,
    control: &TrainControl,
    start: Start<'_>,
) -> Result<TrainOutcome, TrainError> {
    let (resume, init) = match start {
        Start::Scratch => (None, None),
        Start::Resume(b) => (Some(b), None),
        Start::FineTune(b) => (None, Some(b)),
    };
    config.validate()?;
    if train_data.n() != config.n {
        return Err(TrainError::Mismatch(format!(
            "the training data have N = {}, the configuration says N = {}",
            train_data.n(),
            config.n
        )));
    }
    if let Some(bundle) = resume.or(init) {
        check_resume(config, bundle)?;
    }
    if let Some(bundle) = init {
        control.events.log(format!(
            "starting from the weights of a model trained on {} ({} epochs)",
            bundle
                .manifest
                .training_data
                .as_deref()
                .unwrap_or("an unnamed scan"),
            bundle.history.len()
        ));
    }
    // A refined or learned probe is computed once; a resumed run keeps the probe its model was
    // trained with (and, with a trainable probe, goes on learning from it).
    let refined;
    let train_data = match (resume, init) {
        (Some(bundle), _) if config.probe_from_epie > 0 || config.train_probe => {
            refined = train_data.with_probe(bundle.probe.clone())?;
            &refined
        }
        (None, _) if config.probe_from_epie > 0 => {
            let sweeps = config.probe_from_epie;
            control.events.log(format!(
                "refining the probe with {sweeps} sweeps of ePIE on the training scan"
            ));
            refined = train_data.with_probe(crate::epie::refined_probe(train_data, sweeps)?)?;
            &refined
        }
        _ => train_data,
    };
    check_overlap_group_size(config, train_data, test_data)?;
    let splits = Splits::build(train_data, test_data, config)?;
    let probe = crate::physics::probe_tensor(train_data.probe(), device);
    let factor = normalization_factor(&probe, config.probe_mask);
    let probe = probe.scale(factor);
    let forward = ForwardModel::new(
        &probe,
        intensity_scale(config.nphotons, config.n),
        config.merge_mode(),
        config.group_side(),
    );
    let setup = Setup {
        config,
        forward,
        probe_to_scan_scale: 1.0 / factor,
        splits,
        device_label: crate::device::describe(device),
    };
    let (network, optimizer) = start_network(config, resume, init, device)?;
    let learned_probe = config.train_probe.then(|| {
        (
            TrainableProbe::new(&probe, &device.clone().autodiff()),
            adam(config),
        )
    });
    let mut state = RunState {
        network,
        optimizer,
        learned_probe,
        schedule: resume.map_or_else(|| Schedule::new(config), |b| b.manifest.schedule.clone()),
        history: resume.map(|b| b.history.clone()).unwrap_or_default(),
        last_good: None,
        positions: config.train_positions.then(|| {
            resume
                .and_then(|b| b.positions.as_ref())
                .and_then(|p| p.for_scan(train_data))
                .map_or_else(|| train_data.positions_px().to_vec(), <[_]>::to_vec)
        }),
        training_fit: None,
    };
    if let Some(warning) =
        super::probe_check::amplitude_scale_warning(train_data.probe(), config.probe_mask)
    {
        control.events.warn(&warning);
    }
    let preview = Preview::new(&setup.splits.train, control.preview_groups);
    run_epochs(&setup, &mut state, &preview, device, control, train_data)
}

/// Overlap groups need each pattern's nearest neighbours: a scan with too few patterns gets
/// an error that says how to train it anyway.
fn check_overlap_group_size(
    config: &TrainConfig,
    train_data: &Dataset,
    test_data: Option<&Dataset>,
) -> Result<(), TrainError> {
    if !(config.gridsize == 1 && config.overlap_groups) {
        return Ok(());
    }
    let needed = config.neighbor_count + 1;
    for (what, data) in [("training", Some(train_data)), ("test", test_data)] {
        if let Some(data) = data.filter(|d| d.len() < needed) {
            return Err(TrainError::Mismatch(format!(
                "the {what} scan has {} patterns; overlap groups need at least {needed} (a \
                 pattern and its {} nearest neighbours): train on single patterns with \
                 --overlap-groups false (the training pane: untick overlap groups)",
                data.len(),
                config.neighbor_count
            )));
        }
    }
    Ok(())
}

/// What changes during a run.
struct RunState {
    network: PinnNet,
    optimizer: burn::optim::ModuleOptimizer,
    /// The trainable probe and its own Adam (`train_probe`); its moments are not saved, so a
    /// resumed run restarts them.
    learned_probe: Option<(TrainableProbe, burn::optim::ModuleOptimizer)>,
    schedule: Schedule,
    history: Vec<EpochRecord>,
    /// The network after the last finished epoch (inference mode).
    last_good: Option<PinnNet>,
    /// The training scan's positions as refined so far (`train_positions`).
    positions: Option<Vec<[f64; 2]>>,
    /// The finished model's fit to its training scan.
    training_fit: Option<super::bundle::TrainingFit>,
}

impl RunState {
    fn bundle(&self, setup: &Setup<'_>, control: &TrainControl, probe: &Dataset) -> ModelBundle {
        let network = self
            .last_good
            .clone()
            .unwrap_or_else(|| self.network.valid());
        ModelBundle {
            manifest: Manifest {
                format: super::bundle::FORMAT_NAME.into(),
                format_version: super::bundle::FORMAT_VERSION,
                app_version: env!("CARGO_PKG_VERSION").into(),
                config: setup.config.clone(),
                normalization_factor: setup.splits.train.factor,
                intensity_scale: f64::from(setup.forward.intensity_scale()),
                parameters: network.num_params(),
                training_data: control.training_data.clone(),
                schedule: self.schedule.clone(),
                trained_on: Some(setup.device_label.clone()),
                training_fit: self.training_fit,
            },
            network,
            probe: self.learned_probe.as_ref().map_or_else(
                || probe.probe().clone(),
                |(learned, _)| learned.to_host(setup.config.probe_mask, setup.probe_to_scan_scale),
            ),
            history: self.history.clone(),
            optimizer: self.optimizer.into_bytes().ok().map(|b| b.to_vec()),
            positions: self.positions.as_ref().map(|refined| ScanPositions {
                given: probe.positions_px().to_vec(),
                refined: refined.clone(),
            }),
        }
    }
}

/// Groups stitched by a mid-epoch preview (the ones nearest the scan's centre): 32 groups of 4
/// patterns take seconds on a CPU, where the epoch's 256 take as long as several steps.
const EARLY_PREVIEW_GROUPS: usize = 32;

/// What one pass over the training groups did.
struct EpochPass {
    /// Mean training loss per pixel (full negative log-likelihood) over the groups seen.
    train_loss: f64,
    /// Groups the optimiser stepped on.
    groups_seen: usize,
    /// Why the pass ended early (stopped, diverged), if it did.
    interrupted: Option<StopReason>,
}

/// Runs one epoch's optimiser steps; in the run's first epoch (`first`), sends mid-epoch
/// previews as [`TrainControl::first_epoch_preview_secs`] asks.
fn train_epoch(
    setup: &Setup<'_>,
    state: &mut RunState,
    (epoch, first): (usize, bool),
    device: &Device,
    control: &TrainControl,
) -> Result<EpochPass, TrainError> {
    let mut last_preview = Instant::now();
    let preview_secs = control.first_epoch_preview_secs;
    // Mid-epoch previews stitch fewer groups than the epoch's: they interrupt training.
    let early_preview = (first && preview_secs > 0.0).then(|| {
        Preview::new(
            &setup.splits.train,
            control.preview_groups.min(EARLY_PREVIEW_GROUPS),
        )
    });
    let config = setup.config;
    let autodiff = device.clone().autodiff();
    let set = &setup.splits.train;
    let mut rows = set.rows.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
    rows.shuffle(&mut rng);
    let batches = rows.len().div_ceil(config.batch_size);
    let (mut total, mut count) = (0.0, 0usize);
    for (i, chunk) in rows.chunks(config.batch_size).enumerate() {
        let step = (epoch - 1) * batches + i + 1;
        if control.stop.load(Ordering::SeqCst) {
            return Ok(EpochPass {
                train_loss: mean(total, count),
                groups_seen: count,
                interrupted: Some(StopReason::Stopped),
            });
        }
        let probe = state.learned_probe.as_ref().map(|(p, _)| p);
        let inputs = (probe, state.positions.as_deref());
        let batch = setup.batch_loss(&state.network, inputs, set, chunk, &autodiff)?;
        let value = f64::from(batch.loss.clone().into_scalar::<f32>());
        if !value.is_finite() {
            return Ok(EpochPass {
                train_loss: value,
                groups_seen: count,
                interrupted: Some(StopReason::Diverged),
            });
        }
        let mut grads = batch.loss.backward();
        let network_grads = GradientsParams::from_module(&mut grads, &state.network);
        let rate = warmed_up(config, state.schedule.learning_rate, step);
        if let Some((probe, optimizer)) = state.learned_probe.as_mut()
            && epoch >= config.probe_start_epoch
        {
            let probe_grads = GradientsParams::from_module(&mut grads, &*probe);
            let probe_rate = rate * config.probe_learning_rate / config.learning_rate;
            *probe = optimizer.step(probe_rate, probe.clone(), probe_grads);
        }
        let network = state.network.clone();
        state.network = state.optimizer.step(rate, network, network_grads);
        total += (value + batch.constant) * chunk.len() as f64;
        count += chunk.len();
        control.events.send(TrainEvent::Batch {
            epoch,
            batch: i + 1,
            batches,
            loss: value + batch.constant,
        });
        if let Some(preview) = &early_preview
            && i + 1 < batches
            && last_preview.elapsed().as_secs_f64() >= preview_secs
        {
            let at = Some((i + 1, batches));
            preview.send(&state.network.valid(), (epoch, at), device, &control.events)?;
            last_preview = Instant::now();
        }
    }
    Ok(EpochPass {
        train_loss: mean(total, count),
        groups_seen: count,
        interrupted: None,
    })
}

/// The learning rate of optimiser step `step` (1-based): `rate` ramped linearly over the first
/// `config.warmup_steps` steps.
fn warmed_up(config: &TrainConfig, rate: f64, step: usize) -> f64 {
    if config.warmup_steps == 0 {
        rate
    } else {
        rate * (step as f64 / config.warmup_steps as f64).min(1.0)
    }
}

/// Sends the run's sizes and logs its plan.
fn announce(
    setup: &Setup<'_>,
    state: &RunState,
    first_epoch: usize,
    device: &Device,
    control: &TrainControl,
) {
    let config = setup.config;
    control.events.send(TrainEvent::Started(RunInfo {
        first_epoch,
        last_epoch: config.nepochs,
        batches_per_epoch: setup.splits.train.rows.len().div_ceil(config.batch_size),
        train_groups: setup.splits.train.rows.len(),
        val_groups: setup.splits.validation.rows.len(),
        parameters: state.network.num_params(),
        patterns_per_epoch: setup.splits.train.rows.len() * setup.splits.train.groups.channels(),
        device: format!("{device:?}"),
    }));
    control.events.log(format!(
        "training on {} groups, validating on {} ({}), epochs {first_epoch}–{}, seed {}",
        setup.splits.train.rows.len(),
        setup.splits.validation.rows.len(),
        setup.splits.validation_source,
        config.nepochs,
        config.seed
    ));
}

fn run_epochs(
    setup: &Setup<'_>,
    state: &mut RunState,
    preview: &Preview<'_, '_>,
    device: &Device,
    control: &TrainControl,
    train_data: &Dataset,
) -> Result<TrainOutcome, TrainError> {
    let config = setup.config;
    let first_epoch = state.history.len() + 1;
    let channels = config.group_side() * config.group_side();
    announce(setup, state, first_epoch, device, control);
    let mut reason = StopReason::Completed;
    for epoch in first_epoch..=config.nepochs {
        let started = Instant::now();
        let learning_rate = state.schedule.learning_rate;
        let EpochPass {
            train_loss,
            groups_seen,
            interrupted,
        } = train_epoch(setup, state, (epoch, epoch == first_epoch), device, control)?;
        let train_secs = started.elapsed().as_secs_f64();
        if let Some(why) = interrupted {
            reason = why;
            let line = match why {
                StopReason::Diverged => format!(
                    "epoch {epoch}: the loss is {train_loss}; stopped, keeping epoch {}",
                    epoch - 1
                ),
                _ => format!(
                    "stopped during epoch {epoch}; the saved model is the last finished epoch with the steps of this one"
                ),
            };
            control.events.log(line);
            if why == StopReason::Stopped {
                state.last_good = Some(state.network.valid());
            }
            break;
        }
        let probe = state.learned_probe.as_ref().map(|(p, _)| p);
        let validation = &setup.splits.validation;
        // Refined positions belong to the training scan; a separate test scan keeps its own.
        let positions = state
            .positions
            .as_deref()
            .filter(|_| std::ptr::eq(validation.dataset, setup.splits.train.dataset));
        let val_loss = setup.evaluate(&state.network, (probe, positions), validation, device)?;
        let duration_secs = started.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch,
            train_loss,
            val_loss,
            learning_rate,
            duration_secs,
            patterns_per_s: (groups_seen * channels) as f64 / train_secs.max(1e-9),
        };
        state.history.push(record.clone());
        state.last_good = Some(state.network.valid());
        control.events.send(TrainEvent::Epoch(record.clone()));
        let decision = state.schedule.step(config, train_loss, val_loss);
        if let Some(lr) = decision.new_learning_rate {
            control
                .events
                .log(format!("epoch {epoch}: learning rate lowered to {lr:.3e}"));
        }
        if epoch >= config.position_start_epoch {
            refine_positions(setup, state, epoch, device, control)?;
        }
        save(setup, state, control, train_data)?;
        if control.preview_every > 0 && epoch % control.preview_every == 0 {
            preview.send(
                &state.network.valid(),
                (epoch, None),
                device,
                &control.events,
            )?;
        }
        if decision.stop {
            control.events.log(format!(
                "epoch {epoch}: no improvement for {} epochs; early stopping",
                config.early_stopping_patience
            ));
            reason = StopReason::EarlyStopping;
            break;
        }
    }
    // One more pass over the training scan measures the finished model's fit to it; a run the
    // user stopped ends at once without it.
    if !state.history.is_empty() && reason != StopReason::Stopped {
        let bundle = state.bundle(setup, control, train_data);
        let scan = match &state.positions {
            Some(p) => train_data.with_positions(p.clone())?,
            None => train_data.clone(),
        };
        state.training_fit = super::fit::training_fit(&bundle, &scan, device);
        if let Some(fit) = state.training_fit {
            control.events.log(format!(
                "the model's fit to its training scan: Poisson deviance {:.3} per pixel, \
                 Fourier error {:.4}",
                fit.poisson_deviance_per_pixel, fit.fourier_error
            ));
        }
    }
    save(setup, state, control, train_data)?;
    let bundle = state.bundle(setup, control, train_data);
    control.events.send(TrainEvent::Finished {
        reason,
        epochs: state.history.len(),
    });
    Ok(TrainOutcome { bundle, reason })
}

/// Refines the training scan's positions with the network as it is after `epoch` (when the run
/// refines positions) and logs how far they moved.
fn refine_positions(
    setup: &Setup<'_>,
    state: &mut RunState,
    epoch: usize,
    device: &Device,
    control: &TrainControl,
) -> Result<(), TrainError> {
    let Some(current) = state.positions.as_deref() else {
        return Ok(());
    };
    let train = &setup.splits.train;
    let started = Instant::now();
    let probe = state.learned_probe.as_ref().map_or_else(
        || train.dataset.probe().clone(),
        |(p, _)| p.to_host(setup.config.probe_mask, 1.0),
    );
    let (refined, summary) = super::positions::refine(
        &state.network.valid(),
        train.dataset,
        train.factor,
        current,
        &probe,
        &super::positions::registration_options(setup.config),
        device,
    )?;
    let moved = crate::positions::error_stats(&refined, train.dataset.positions_px());
    control.events.log(format!(
        "epoch {epoch}: positions refined in {:.1} s: {:.2} px RMS from the given ones (largest \
         {:.1} px), last round moved {:.2} px RMS, match {:.3}",
        started.elapsed().as_secs_f64(),
        moved.rms_px,
        moved.max_px,
        summary.last_round_rms_px,
        summary.mean_score
    ));
    state.positions = Some(refined);
    Ok(())
}

/// Writes the model directory and `metrics.csv` when the run has an output directory.
fn save(
    setup: &Setup<'_>,
    state: &RunState,
    control: &TrainControl,
    train_data: &Dataset,
) -> Result<(), TrainError> {
    let Some(dir) = &control.output_dir else {
        return Ok(());
    };
    state
        .bundle(setup, control, train_data)
        .save(&dir.join("model"))?;
    if control.metrics_log {
        write_metrics_csv(&dir.join("metrics.csv"), &state.history)?;
    }
    Ok(())
}
