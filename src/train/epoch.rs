//! One epoch's optimiser steps: the shuffled batches, each process's share of a batch, the
//! gradients summed across processes, the Adam steps, the batch events and the first epoch's
//! early previews.

use std::sync::atomic::Ordering;
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::collective::share;
use super::config::TrainConfig;
use super::control::TrainControl;
use super::error::TrainError;
use super::events::{StopReason, TrainEvent};
use super::parallel::{LocalGrads, StepGrads, combine};
use super::preview::Preview;
use super::state::RunState;
use super::step::{Setup, mean};

/// Groups stitched by a mid-epoch preview (the ones nearest the scan's centre): 32 groups of 4
/// patterns take seconds on a CPU, where the epoch's 256 take as long as several steps.
const EARLY_PREVIEW_GROUPS: usize = 32;

/// What one pass over the training groups did.
pub(super) struct EpochPass {
    /// Mean training loss per pixel (full negative log-likelihood) over the groups seen.
    pub(super) train_loss: f64,
    /// Groups the optimiser stepped on.
    pub(super) groups_seen: usize,
    /// Why the pass ended early (stopped, diverged), if it did.
    pub(super) interrupted: Option<StopReason>,
    /// Seconds spent packing, summing across processes and unpacking the gradients.
    pub(super) sum_secs: f64,
}

/// Runs one epoch's optimiser steps; in the run's first epoch (`first`), sends mid-epoch
/// previews as [`TrainControl::first_epoch_preview_secs`] asks.
pub(super) fn train_epoch(
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
    let mut rows = setup.splits.train.rows.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9));
    rows.shuffle(&mut rng);
    let batches = rows.len().div_ceil(config.batch_size);
    let comm = &*control.collective;
    let (mut total, mut count) = (0.0, 0usize);
    let mut sum_secs = 0.0;
    for (i, chunk) in rows.chunks(config.batch_size).enumerate() {
        let step = (epoch - 1) * batches + i + 1;
        let stop = control.stop.load(Ordering::SeqCst);
        let trains_probe = epoch >= config.probe_start_epoch;
        let share = share(chunk, comm.rank(), comm.size());
        let (local, diverged) = if stop || share.is_empty() {
            (None, false)
        } else {
            local_gradients(setup, state, &share, trains_probe, &autodiff)?
        };
        let flags = (stop, diverged);
        let grads = if comm.size() == 1 {
            StepGrads::alone(local, flags)
        } else {
            let probe = state.learned_probe.as_ref().map(|(p, _)| p);
            let probe = probe.filter(|_| trains_probe);
            let summing = Instant::now();
            let grads = combine(comm, (&state.network, probe), local.as_ref(), flags);
            sum_secs += summing.elapsed().as_secs_f64();
            grads
        };
        if grads.stop || grads.diverged {
            return Ok(EpochPass {
                train_loss: if grads.diverged {
                    grads.loss
                } else {
                    mean(total, count)
                },
                groups_seen: count,
                interrupted: Some(if grads.diverged {
                    StopReason::Diverged
                } else {
                    StopReason::Stopped
                }),
                sum_secs,
            });
        }
        let rate = warmed_up(config, state.schedule.learning_rate, step);
        if let (Some((probe, optimizer)), Some(probe_grads)) =
            (state.learned_probe.as_mut(), grads.probe)
        {
            let probe_rate = rate * config.probe_learning_rate / config.learning_rate;
            *probe = optimizer.step(probe_rate, probe.clone(), probe_grads);
        }
        let network = state.network.clone();
        state.network = state.optimizer.step(rate, network, grads.network);
        total += grads.loss * grads.count as f64;
        count += grads.count;
        control.events.send(TrainEvent::Batch {
            epoch,
            batch: i + 1,
            batches,
            loss: grads.loss,
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
        sum_secs,
    })
}

/// This process's share of a batch: its loss and gradients (the probe's too when it trains in
/// this step), or none and `true` when the loss is not finite.
fn local_gradients(
    setup: &Setup<'_>,
    state: &RunState,
    rows: &[usize],
    trains_probe: bool,
    autodiff: &Device,
) -> Result<(Option<LocalGrads>, bool), TrainError> {
    let set = &setup.splits.train;
    let probe = state.learned_probe.as_ref().map(|(p, _)| p);
    let inputs = (probe, state.positions.as_deref());
    let batch = setup.batch_loss(&state.network, inputs, set, rows, autodiff)?;
    let value = f64::from(batch.loss.clone().into_scalar::<f32>());
    if !value.is_finite() {
        return Ok((None, true));
    }
    let mut grads = batch.loss.backward();
    let network = GradientsParams::from_module(&mut grads, &state.network);
    let probe = probe
        .filter(|_| trains_probe)
        .map(|p| GradientsParams::from_module(&mut grads, p));
    let local = LocalGrads {
        network,
        probe,
        loss_sum: (value + batch.constant) * rows.len() as f64,
        count: rows.len(),
    };
    Ok((Some(local), false))
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
