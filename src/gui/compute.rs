//! The three compute jobs the window starts: training, reconstruction with the network, and
//! ePIE for the comparison. Each runs on its own thread (CPU work in the window's compute pool)
//! and streams progress that [`super::poll`] collects.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use burn::module::Module;

use super::env::{Env, already_running, file_name, file_stem};
use super::jobs::{StreamingJob, in_compute_pool};
use super::session::{EpieRun, EpieUpdate, InferUpdate, Level, ReconstructionRun, Session};
use super::state::Pane;
use crate::epie::{Epie, EpieConfig};
use crate::infer::reconstruct;
use crate::train::{EventSender, Start, TrainControl, train_from};

/// In the window, the first epoch sends a preview after this many seconds, and again every as
/// many, so a slow CPU shows a first picture within a minute.
const FIRST_PREVIEW_SECS: f64 = 30.0;

/// Starts training on the loaded scan with the window's settings, from scratch or (`fine_tune`)
/// from the loaded model's weights.
pub(super) fn start_training(session: &mut Session, env: &mut Env<'_>, fine_tune: bool) {
    if already_running(session, session.training.running(), "training") {
        return;
    }
    let Some(view) = &session.dataset else {
        session.log(Level::Warn, "open a scan before training");
        return;
    };
    let dataset = view.dataset.clone();
    let data_path = view.path.clone();
    let mut config = env.state.train.clone();
    config.n = dataset.n();
    let init = if fine_tune {
        let Some(model) = &session.model else {
            session.log(Level::Warn, "load or train a model to fine-tune from");
            return;
        };
        let trained = &model.bundle.manifest.config;
        if trained.n != config.n {
            let message = format!(
                "the model was trained for N = {}, this scan has N = {}: it cannot be fine-tuned here",
                trained.n, config.n
            );
            session.log(Level::Error, message);
            return;
        }
        config = config.with_architecture_of(trained);
        Some((model.bundle.clone(), model.source.clone()))
    } else {
        None
    };
    if let Err(e) = config.validate() {
        session.log(Level::Error, e.to_string());
        return;
    }
    let (device, device_label) = env.compute_device();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let run_dir = env
        .runs_dir()
        .join(format!("{}-{stamp}", file_stem(&data_path)));
    let preview_every = env.state.preview_every;
    let training_data = Some(data_path.display().to_string());
    session.log(
        Level::Info,
        format!(
            "training on {} ({} patterns) on {device_label}{}; model in {}",
            file_name(&data_path),
            dataset.len(),
            init.as_ref()
                .map_or_else(String::new, |(_, from)| format!(", from the model {from}")),
            run_dir.display()
        ),
    );
    let job_run_dir = run_dir.clone();
    // Training throttles its own events (per-batch ones droppable, per-epoch ones never).
    let job = StreamingJob::spawn("train", env.ctx, 256, Duration::ZERO, move |progress| {
        let run_dir = job_run_dir;
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        let control = TrainControl {
            stop: progress.stop_flag(),
            events: EventSender::from_sender(progress.sender()).with_notify(progress.repaint()),
            output_dir: Some(run_dir),
            metrics_log: true,
            preview_every,
            preview_groups: 256,
            first_epoch_preview_secs: FIRST_PREVIEW_SECS,
            training_data,
            ..TrainControl::default()
        };
        Ok(in_compute_pool(move || {
            let start = init
                .as_ref()
                .map_or(Start::Scratch, |(b, _)| Start::FineTune(b));
            train_from(&dataset, None, &config, &device, &control, start)
        })?)
    });
    let training = &mut session.training;
    training.job = Some(job);
    training.info = None;
    training.history.clear();
    training.batch = None;
    training.steps_done = 0;
    training.batch_losses.clear();
    training.started = Some(Instant::now());
    training.run_dir = Some(run_dir);
    training.device_label = device_label;
    training.last_reason = None;
    env.state.pane = Pane::Training;
}

pub(super) fn start_reconstruction(session: &mut Session, env: &mut Env<'_>) {
    if already_running(
        session,
        session.reconstructing.is_some(),
        "a reconstruction",
    ) {
        return;
    }
    let (Some(view), Some(model)) = (&session.dataset, &session.model) else {
        session.log(Level::Warn, "reconstruction needs a scan and a model");
        return;
    };
    if model.bundle.manifest.config.n != view.dataset.n() {
        let message = format!(
            "the model was trained for N = {}, this scan has N = {}: load a model for N = {}",
            model.bundle.manifest.config.n,
            view.dataset.n(),
            view.dataset.n()
        );
        session.log(Level::Error, message);
        return;
    }
    // The scan the model refined its positions on is stitched at them.
    let dataset = model
        .bundle
        .at_refined_positions(&view.dataset)
        .map_or_else(|| view.dataset.clone(), std::sync::Arc::new);
    let network = model.bundle.network.valid();
    let probe = model.bundle.probe.clone();
    let training_fit = model.bundle.manifest.training_fit;
    let device = model.device.clone();
    let options = model.bundle.reconstruction_options();
    // A snapshot costs a pass over the canvas here and a recolouring in the window: at most
    // every 250 ms, and the last.
    let every = Duration::from_millis(250);
    let job = StreamingJob::spawn("reconstruct", env.ctx, 2, every, move |mut progress| {
        let stitched = in_compute_pool(|| {
            reconstruct(&network, &dataset, &options, &device, |done, total, st| {
                progress.offer(done == total, || InferUpdate {
                    done,
                    total,
                    object: st.object(),
                    origin_px: st.origin_px(),
                });
                !progress.stopped()
            })
        })?;
        // §7 metrics against the true object, here on the worker (registration and FRC are
        // FFTs over the whole object: too slow for a frame); none for a stopped, partial object.
        let metrics = crate::report::reconstruction_metrics(&stitched, &dataset);
        let mut checks = crate::report::object_checks(
            &stitched.object,
            stitched.origin_px,
            Some(&probe),
            &dataset,
            crate::report::Method::Network,
        );
        // A model used on a scan it was not trained on says when it does not fit it.
        if let Some(checks) = &mut checks {
            let notes = crate::train::fit::model_fit_notes(
                &probe,
                training_fit,
                &dataset,
                checks.data_fit.as_ref(),
            );
            checks
                .warnings
                .extend(notes.into_iter().filter(|n| n.0).map(|n| n.1));
        }
        Ok((stitched, metrics, checks))
    });
    session.metrics = None;
    session.checks = None;
    session.reconstructing = Some(ReconstructionRun {
        job,
        done: 0,
        total: view.dataset.len(),
    });
    env.state.pane = Pane::Reconstruction;
}

/// Starts ePIE on the loaded scan beside the network's result: from a flat object and the file's
/// probe, or `seeded` from the network's reconstruction and its model's probe (rescaled to the
/// data; `epie::seed`), to polish the network's picture in a few sweeps.
pub(super) fn start_epie(session: &mut Session, env: &mut Env<'_>, seeded: bool) {
    if already_running(session, session.epie.is_some(), "ePIE") {
        return;
    }
    let Some(view) = &session.dataset else {
        session.log(Level::Warn, "open a scan before running ePIE");
        return;
    };
    let seed = if seeded {
        let (Some(recon), Some(model)) = (&session.reconstruction.value, &session.model) else {
            session.log(
                Level::Warn,
                "reconstruct with a model first: ePIE starts from the network's object",
            );
            return;
        };
        Some((
            recon.object.clone(),
            recon.origin_px,
            model.bundle.probe.clone(),
        ))
    } else {
        None
    };
    let label = if seeded { "PtychoPINN + ePIE" } else { "ePIE" };
    let dataset = view.dataset.clone();
    let iterations = env.state.epie_iterations.max(1);
    let correct_positions = env
        .state
        .epie_correct_positions
        .then(crate::epie::positions::PositionCorrection::default);
    // The window recolours the canvas per update: at most every 250 ms, and the last sweep.
    let every = Duration::from_millis(250);
    let job = StreamingJob::spawn("epie", env.ctx, 2, every, move |mut progress| {
        let mut epie = Epie::new(
            &dataset,
            EpieConfig {
                iterations,
                correct_positions,
                ..EpieConfig::default()
            },
        )?;
        if let Some((object, origin_px, probe)) = &seed {
            epie.seed(object, *origin_px, probe)
                .context("cannot start ePIE from the network's reconstruction")?;
        }
        for sweep in 1..=iterations {
            let error = epie.sweep();
            progress.offer(sweep == iterations, || EpieUpdate {
                sweep,
                sweeps: iterations,
                error,
                object: epie.object_snapshot(),
                origin_px: epie.origin_px(),
            });
            if progress.stopped() {
                break;
            }
        }
        Ok(epie.into_result())
    });
    session.epie = Some(EpieRun {
        label,
        job,
        done: 0,
        total: iterations,
    });
}
