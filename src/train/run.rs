//! The training loop (physics.md §5): Adam with a plateau schedule and early stopping, a stop
//! flag checked between batches, events for a listener, `metrics.csv`, and the model directory
//! saved after every epoch (so stopping, or a crash, keeps the last finished epoch).

use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;

use super::bundle::ModelBundle;
use super::config::TrainConfig;
use super::control::TrainControl;
use super::epoch::{EpochPass, train_epoch};
use super::error::TrainError;
use super::events::{EpochRecord, RunInfo, StopReason, TrainEvent};
use super::metrics_log::write_metrics_csv;
use super::parallel::{broadcast_parameters, parameter_spread};
use super::preview::Preview;
use super::probe_check::probe_gain;
use super::probe_param::TrainableProbe;
use super::schedule::Schedule;
use super::split::Splits;
use super::start::{adam, check_resume, start_network};
use super::state::RunState;
use super::step::{Setup, mean};
use crate::data::Dataset;
use crate::physics::ForwardModel;
use crate::physics::forward::intensity_scale;
use crate::physics::probe::normalization_factor;

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
    check_start(train_data, config, control, resume, init)?;
    // A refined or learned probe is computed once; a resumed run keeps the probe its model was
    // trained with (and, with a trainable probe, goes on learning from it).
    let refined;
    let mut probe_check = resume.and_then(|b| b.manifest.probe_check);
    let train_data = match (resume, init) {
        (Some(bundle), _) if config.probe_from_epie > 0 || config.train_probe => {
            refined = train_data.with_probe(bundle.probe.clone())?;
            &refined
        }
        (None, _) if config.probe_from_epie > 0 => {
            let (probe, record) = super::probe_start::checked_probe(train_data, config, control)?;
            probe_check = Some(record);
            match probe {
                Some(probe) => {
                    refined = train_data.with_probe(probe)?;
                    &refined
                }
                None => train_data,
            }
        }
        _ => train_data,
    };
    check_overlap_group_size(config, train_data, test_data)?;
    let splits = Splits::build(train_data, test_data, config)?;
    let probe = crate::physics::probe_tensor(train_data.probe(), device);
    let factor = normalization_factor(&probe, config.probe_mask);
    // A resumed run keeps its model's operating point; a new one sets it from the scan's probe.
    let gain = resume.map_or_else(
        || {
            probe_gain(
                train_data.probe(),
                config.probe_mask,
                config.amplitude_target,
            )
        },
        |b| b.manifest.probe_gain,
    );
    let probe = probe.scale(factor);
    let forward = ForwardModel::new(
        &probe.scale(gain as f32),
        intensity_scale(config.nphotons, config.n),
        config.merge_mode(),
        config.group_side(),
    );
    let setup = Setup {
        config,
        forward,
        probe_to_scan_scale: 1.0 / factor,
        probe_gain: gain as f32,
        probe_check,
        splits,
        device_label: crate::device::describe(device),
    };
    let comm = &*control.collective;
    let (network, optimizer) = start_network(config, resume, init, device)?;
    let network = broadcast_parameters(comm, network);
    let learned_probe = config.train_probe.then(|| {
        let probe = TrainableProbe::new(&probe, &device.clone().autodiff());
        (broadcast_parameters(comm, probe), adam(config))
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
        super::probe_check::amplitude_scale_warning(train_data.probe(), config.probe_mask, gain)
    {
        control.events.warn(&warning);
    }
    let preview = Preview::new(&setup.splits.train, control.preview_groups);
    run_epochs(&setup, &mut state, &preview, device, control, train_data)
}

/// The checks before a run starts (settings, processes, N, a model to start from), and the
/// note that a fine-tune starts from another model's weights.
fn check_start(
    train_data: &Dataset,
    config: &TrainConfig,
    control: &TrainControl,
    resume: Option<&ModelBundle>,
    init: Option<&ModelBundle>,
) -> Result<(), TrainError> {
    config.validate()?;
    if control.collective.size() > 1 && config.train_positions {
        return Err(TrainError::Mismatch(
            "training over several processes does not refine positions (--train-positions) \
             yet: train those in one process"
                .into(),
        ));
    }
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
    Ok(())
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
            sum_secs,
        } = train_epoch(setup, state, (epoch, epoch == first_epoch), device, control)?;
        let train_secs = started.elapsed().as_secs_f64();
        if control.collective.size() > 1 {
            control.events.log(format!(
                "epoch {epoch}: {sum_secs:.2} s of {train_secs:.1} s in the gradient sums over {} \
                 processes",
                control.collective.size()
            ));
        }
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
        let val_loss = validation_loss(setup, state, device, control)?;
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
    check_ranks_agree(state, control)?;
    if reason != StopReason::Stopped && control.collective.rank() == 0 {
        measure_training_fit(setup, state, control, train_data, device)?;
    }
    save(setup, state, control, train_data)?;
    let bundle = state.bundle(setup, control, train_data);
    control.events.send(TrainEvent::Finished {
        reason,
        epochs: state.history.len(),
    });
    Ok(TrainOutcome { bundle, reason })
}

/// The mean loss over the validation groups, each process evaluating its share.
fn validation_loss(
    setup: &Setup<'_>,
    state: &RunState,
    device: &Device,
    control: &TrainControl,
) -> Result<f64, TrainError> {
    let probe = state.learned_probe.as_ref().map(|(p, _)| p);
    let validation = &setup.splits.validation;
    // Refined positions belong to the training scan; a separate test scan keeps its own.
    let positions = state
        .positions
        .as_deref()
        .filter(|_| std::ptr::eq(validation.dataset, setup.splits.train.dataset));
    let comm = &*control.collective;
    let mut sums = setup.evaluate_share(
        &state.network,
        (probe, positions),
        validation,
        device,
        (comm.rank(), comm.size()),
    )?;
    comm.sum(&mut sums);
    Ok(mean(sums[0], sums[1].round() as usize))
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

/// One more pass over the training scan measures the finished model's fit to it (a run the user
/// stopped ends at once without it).
fn measure_training_fit(
    setup: &Setup<'_>,
    state: &mut RunState,
    control: &TrainControl,
    train_data: &Dataset,
    device: &Device,
) -> Result<(), TrainError> {
    if state.history.is_empty() {
        return Ok(());
    }
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
    Ok(())
}

/// Over several processes: checks that every process ends with the same weights, as identical
/// steps must leave them, and logs it.
fn check_ranks_agree(state: &RunState, control: &TrainControl) -> Result<(), TrainError> {
    let comm = &*control.collective;
    if comm.size() == 1 {
        return Ok(());
    }
    let network = parameter_spread(comm, &state.network);
    let probe = state
        .learned_probe
        .as_ref()
        .map_or(0.0, |(p, _)| parameter_spread(comm, p));
    let spread = network.max(probe);
    if spread > 0.0 {
        return Err(TrainError::Mismatch(format!(
            "the {} processes' weights differ by up to {spread:.3e} after identical steps",
            comm.size()
        )));
    }
    control.events.log(format!(
        "the weights are identical on all {} processes",
        comm.size()
    ));
    Ok(())
}

/// Writes the model directory and `metrics.csv` when the run has an output directory (process 0
/// of several).
fn save(
    setup: &Setup<'_>,
    state: &RunState,
    control: &TrainControl,
    train_data: &Dataset,
) -> Result<(), TrainError> {
    let Some(dir) = control
        .output_dir
        .as_ref()
        .filter(|_| control.collective.rank() == 0)
    else {
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
