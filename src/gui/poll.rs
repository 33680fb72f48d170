//! Collecting what the jobs report: progress events, results and errors, each turned into
//! session state and a log line. Time-boxed, so a flood of events never stalls a frame.

use std::time::{Duration, Instant};

use super::actions::{open_dataset, use_trained_model};
use super::command::Command;
use super::env::{Env, file_name};
use super::session::{
    DialogPurpose, Level, ModelJobResult, ObjectView, PreviewImages, RefinedPositions, Session,
};
use crate::train::TrainEvent;

/// Collects what every job reported since the last frame; spends at most ~10 ms on events.
pub fn poll_jobs(session: &mut Session, env: &mut Env<'_>, commands: &mut Vec<Command>) {
    poll_loading(session, env);
    poll_dialog(session, commands);
    poll_training(session);
    poll_model_job(session);
    if session.reconstruct_when_ready
        && session.dataset.is_some()
        && session.model.is_some()
        && session.loading.is_none()
    {
        session.reconstruct_when_ready = false;
        commands.push(Command::Reconstruct);
    }
    poll_reconstruction(session);
    poll_epie(session);
    poll_export(session);
}

fn poll_loading(session: &mut Session, env: &mut Env<'_>) {
    if let Some(job) = &mut session.generating_demo
        && let Some(result) = job.poll()
    {
        session.generating_demo = None;
        match result {
            Ok(path) => open_dataset(session, env, &path, crate::data::LoadOptions::default()),
            Err(e) => session.log(Level::Error, format!("demo scan: {e}")),
        }
    }
    let Some(job) = &mut session.loading else {
        return;
    };
    let Some(result) = job.poll() else { return };
    session.loading = None;
    match result {
        Ok(Ok(mut view)) => {
            let path = view.path.clone();
            env.state.remember(&path);
            let summary = format!(
                "opened {}: {} patterns of {}², {}",
                file_name(&path),
                view.dataset.len(),
                view.dataset.n(),
                view.layout.describe()
            );
            for note in &view.notes {
                session.log(Level::Warn, format!("{}: {note}", file_name(&path)));
            }
            session.log(Level::Info, summary);
            let version = session.dataset.as_ref().map_or(0, |d| d.version) + 1;
            // A new scan: the old reconstruction and comparison no longer apply.
            let truth = view.dataset.object().cloned().map(|object| ObjectView {
                label: crate::report::TRUE_OBJECT_LABEL.into(),
                object,
                origin_px: [0.0, 0.0],
            });
            // Jobs on the previous scan no longer apply: stop them and drop their results.
            if let Some(run) = session.reconstructing.take() {
                run.job.request_stop();
            }
            if let Some(run) = session.epie.take() {
                run.job.request_stop();
            }
            session.comparison.set(truth);
            session.reconstruction.set(None);
            session.metrics = None;
            session.checks = None;
            session.refined_positions = None;
            session.failed_open = None;
            view.version = version;
            session.dataset = Some(view);
        }
        Ok(Err(failure)) => {
            session.log(Level::Error, failure.message.clone());
            session.failed_open = Some(failure);
        }
        Err(e) => session.log(Level::Error, e),
    }
}

fn poll_dialog(session: &mut Session, commands: &mut Vec<Command>) {
    let Some((job, _)) = &mut session.dialog else {
        return;
    };
    let Some(result) = job.poll() else { return };
    let Some((_, purpose)) = session.dialog.take() else {
        return;
    };
    match result {
        Ok(Some(path)) => commands.push(match purpose {
            DialogPurpose::Product(scan, mut options) => {
                options.product = Some(path);
                Command::OpenDatasetWith(scan, options)
            }
            DialogPurpose::Positions(scan, mut options) => {
                options.hdf5.positions = Some(path);
                Command::OpenDatasetWith(scan, options)
            }
            DialogPurpose::OpenDataset => Command::OpenDataset(path),
            DialogPurpose::LoadModel => Command::LoadModel(path),
            DialogPurpose::SaveModel => Command::SaveModel(path),
            DialogPurpose::Export => Command::ExportReport(path),
        }),
        Ok(None) => session.log(
            Level::Info,
            "nothing chosen (if no dialog appeared, this desktop has no file-chooser portal: \
             drag the file onto the window instead)",
        ),
        Err(e) => session.log(Level::Error, format!("file dialog: {e}")),
    }
}

fn poll_training(session: &mut Session) {
    let deadline = Instant::now() + Duration::from_millis(10);
    let mut lines = Vec::new();
    let mut events = Vec::new();
    if let Some(job) = &session.training.job {
        while let Ok(event) = job.updates.try_recv() {
            events.push(event);
            if Instant::now() > deadline {
                break;
            }
        }
    }
    for event in events {
        apply_train_event(&mut session.training, event, &mut lines);
    }
    for (level, line) in lines {
        session.log(level, line);
    }
    let Some(job) = &mut session.training.job else {
        return;
    };
    if !job.job.is_finished() {
        return;
    }
    // The thread has ended: every event it sent is in the channel. Read them all, then finish.
    let rest: Vec<TrainEvent> = job.updates.try_iter().collect();
    let Some(result) = job.job.poll() else { return };
    let mut lines = Vec::new();
    for event in rest {
        apply_train_event(&mut session.training, event, &mut lines);
    }
    for (level, line) in lines {
        session.log(level, line);
    }
    session.training.job = None;
    match result {
        Ok(outcome) => {
            let epochs = outcome.bundle.history.len();
            session.log(
                Level::Info,
                format!(
                    "training ended ({:?}) after {epochs} epochs; model saved in {}",
                    outcome.reason,
                    session
                        .training
                        .run_dir
                        .as_ref()
                        .map_or_else(String::new, |d| d.join("model").display().to_string())
                ),
            );
            session.training.last_reason = Some(outcome.reason);
            session.training.trained = Some(outcome.bundle);
            use_trained_model(session);
        }
        Err(e) => session.log(Level::Error, format!("training failed: {e}")),
    }
}

fn apply_train_event(
    training: &mut super::session::TrainingView,
    event: TrainEvent,
    lines: &mut Vec<(Level, String)>,
) {
    match event {
        TrainEvent::Started(info) => training.info = Some(info),
        TrainEvent::Batch {
            epoch,
            batch,
            batches,
            loss,
        } => {
            training.batch = Some((epoch, batch, batches));
            if loss > 0.0 && loss.is_finite() {
                let x = (epoch - 1) as f64 + batch as f64 / batches.max(1) as f64;
                training.batch_losses.push([x, loss.log10()]);
            }
            // From the position, not a count: batch events may be dropped when the window lags.
            let first = training.info.as_ref().map_or(epoch, |i| i.first_epoch);
            training.steps_done = (epoch.saturating_sub(first)) * batches + batch;
        }
        TrainEvent::Epoch(record) => {
            lines.push((
                Level::Info,
                format!(
                    "epoch {}: loss {:.4}, validation {:.4}, lr {:.1e}, {:.1} patterns/s",
                    record.epoch,
                    record.train_loss,
                    record.val_loss,
                    record.learning_rate,
                    record.patterns_per_s
                ),
            ));
            training.history.push(record);
        }
        TrainEvent::Preview {
            epoch,
            batch,
            amplitude,
            phase,
        } => {
            let to_array = |img: crate::train::HostImage| {
                ndarray::Array2::from_shape_vec((img.height, img.width), img.values).ok()
            };
            if let (Some(amplitude), Some(phase)) = (to_array(amplitude), to_array(phase)) {
                training.preview.set(Some(PreviewImages {
                    epoch,
                    batch,
                    amplitude,
                    phase,
                }));
            }
        }
        TrainEvent::Log(line) => {
            let level = if line.starts_with("warning: ") {
                Level::Warn
            } else {
                Level::Info
            };
            lines.push((level, line));
        }
        TrainEvent::Finished { reason, .. } => training.last_reason = Some(reason),
    }
}

fn poll_model_job(session: &mut Session) {
    let Some(job) = &mut session.model_job else {
        return;
    };
    let Some(result) = job.poll() else { return };
    session.model_job = None;
    match result {
        Ok(ModelJobResult::Loaded(view)) => {
            session.log(
                Level::Info,
                format!(
                    "model loaded: N {}, gridsize {}, {} epochs",
                    view.bundle.manifest.config.n,
                    view.bundle.manifest.config.gridsize,
                    view.bundle.history.len()
                ),
            );
            session.model = Some(*view);
        }
        Ok(ModelJobResult::Saved(dir)) => {
            session.log(Level::Info, format!("model saved to {}", dir.display()));
        }
        Err(e) => session.log(Level::Error, e),
    }
}

fn poll_reconstruction(session: &mut Session) {
    let Some(run) = &mut session.reconstructing else {
        return;
    };
    // Only the newest snapshot matters.
    if let Some(u) = run.job.updates.try_iter().last() {
        run.done = u.done;
        run.total = u.total;
        session.reconstruction.set(Some(ObjectView {
            label: crate::report::NETWORK_LABEL.into(),
            object: u.object,
            origin_px: u.origin_px,
        }));
    }
    let Some(result) = run.job.job.poll() else {
        return;
    };
    session.reconstructing = None;
    match result {
        Ok((stitched, metrics, checks)) => {
            session.log(
                Level::Info,
                format!(
                    "reconstructed {} patterns in {:.2} s ({:.0} patterns/s){}",
                    stitched.patterns,
                    stitched.duration_secs,
                    stitched.patterns as f64 / stitched.duration_secs.max(1e-9),
                    if stitched.stopped { ", stopped" } else { "" }
                ),
            );
            session.reconstruction.set(Some(ObjectView {
                label: crate::report::NETWORK_LABEL.into(),
                object: stitched.object,
                origin_px: stitched.origin_px,
            }));
            session.metrics = metrics;
            for warning in checks.iter().flat_map(|c| &c.warnings) {
                session.log(Level::Warn, warning.clone());
            }
            session.checks = checks;
        }
        Err(e) => session.log(Level::Error, format!("reconstruction failed: {e}")),
    }
}

fn poll_epie(session: &mut Session) {
    let Some(run) = &mut session.epie else {
        return;
    };
    // Only the newest snapshot matters.
    if let Some(u) = run.job.updates.try_iter().last() {
        run.done = u.sweep;
        run.total = u.sweeps;
        session.comparison.set(Some(ObjectView {
            label: format!(
                "{}, sweep {}/{} (Fourier error {:.4})",
                run.label, u.sweep, u.sweeps, u.error
            ),
            object: u.object,
            origin_px: u.origin_px,
        }));
    }
    let Some(result) = run.job.job.poll() else {
        return;
    };
    let label = run.label;
    session.epie = None;
    match result {
        Ok(result) => {
            let sweeps = result.errors.len();
            session.log(
                Level::Info,
                format!(
                    "{label}: {sweeps} sweeps, Fourier error {:.4}",
                    result.errors.last().copied().unwrap_or(f64::NAN)
                ),
            );
            let moved = session
                .dataset
                .as_ref()
                .map(|view| view.dataset.positions_px())
                .filter(|given| result.positions_px.as_slice() != *given);
            if let Some(given) = moved {
                let stats = crate::positions::error_stats(&result.positions_px, given);
                session.log(
                    Level::Info,
                    format!(
                        "{label} moved the positions by {:.2} px RMS (largest {:.1} px, mean \
                         shift removed); the dataset pane draws them",
                        stats.rms_px, stats.max_px
                    ),
                );
                session.refined_positions = Some(RefinedPositions {
                    label: format!("{label}, {sweeps} sweeps"),
                    positions_px: result.positions_px.clone(),
                });
            }
            session.comparison.set(Some(ObjectView {
                label: format!("{label}, {sweeps} sweeps"),
                object: result.object,
                origin_px: result.origin_px,
            }));
        }
        Err(e) => session.log(Level::Error, format!("{label} failed: {e}")),
    }
}

/// Collects a finished export.
pub fn poll_export(session: &mut Session) {
    let Some(job) = &mut session.exporting else {
        return;
    };
    let Some(result) = job.poll() else { return };
    session.exporting = None;
    match result {
        Ok(files) => {
            let names: Vec<String> = files.iter().map(|f| file_name(f)).collect();
            let dir = files
                .first()
                .and_then(|f| f.parent())
                .map_or_else(String::new, |d| d.display().to_string());
            session.log(
                Level::Info,
                format!("exported {} to {dir}", names.join(", ")),
            );
        }
        Err(e) => session.log(Level::Error, format!("export failed: {e}")),
    }
}
