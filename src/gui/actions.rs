//! Applying [`Command`]s and collecting what jobs report: the only code that changes the
//! session. Everything heavy is started here on a worker thread and finished by [`poll_jobs`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use burn::module::Module;
use burn::prelude::Device;
use eframe::egui;

use super::command::Command;
use super::gpu::GpuStatus;
use super::jobs::{Job, StreamingJob};
use super::session::{
    DatasetView, DialogPurpose, EpieRun, EpieUpdate, Level, ModelJobResult, ModelView, ObjectView,
    PreviewImages, ReconstructionRun, Session,
};
use super::state::{AppState, Pane};
use crate::data::{LoadOptions, load};
use crate::device::DeviceChoice;
use crate::epie::{Epie, EpieConfig};
use crate::infer::{InferOptions, reconstruct};
use crate::train::{EventSender, ModelBundle, TrainControl, TrainEvent, train};

/// What an action needs besides the session: settings, the GPU and the egui context.
pub struct Env<'a> {
    /// Persisted settings.
    pub state: &'a mut AppState,
    /// The window's GPU as Burn sees it.
    pub gpu: &'a GpuStatus,
    /// For repaints from worker threads.
    pub ctx: &'a egui::Context,
}

impl Env<'_> {
    /// The device the network runs on and a note when the choice had to fall back.
    pub fn compute_device(&self) -> (Device, String) {
        match (self.state.device, self.gpu.device()) {
            (DeviceChoice::Wgpu, Some(device)) => (device.clone(), self.gpu.describe()),
            (DeviceChoice::Wgpu, None) => (
                Device::flex(),
                format!("CPU (no GPU for the network: {})", self.gpu.describe()),
            ),
            (DeviceChoice::Cpu, _) => (Device::flex(), "CPU".into()),
        }
    }

    /// Where training runs are written.
    pub fn runs_dir(&self) -> PathBuf {
        self.state.runs_dir.clone().unwrap_or_else(default_data_dir)
    }
}

/// The app's data directory (`~/.local/share/ptychostudio` on Linux), or a temporary one.
pub fn default_data_dir() -> PathBuf {
    eframe::storage_dir(super::APP_ID)
        .unwrap_or_else(|| std::env::temp_dir().join("ptychostudio"))
        .join("runs")
}

/// Applies one command.
pub fn apply(session: &mut Session, env: &mut Env<'_>, command: Command) {
    match command {
        Command::OpenDataset(path) => open_dataset(session, env, &path),
        Command::OpenDemo => open_demo(session, env),
        Command::ShowPane(pane) => env.state.pane = pane,
        Command::BrowseDataset => browse(session, env, DialogPurpose::OpenDataset),
        Command::BrowseLoadModel => browse(session, env, DialogPurpose::LoadModel),
        Command::BrowseSaveModel => browse(session, env, DialogPurpose::SaveModel),
        Command::BrowseExport => browse(session, env, DialogPurpose::Export),
        Command::StartTraining => start_training(session, env),
        Command::StopTraining => {
            if let Some(job) = &session.training.job {
                job.request_stop();
                session.log(Level::Info, "stopping after this batch; the model is kept");
            }
        }
        Command::SaveModel(dir) => save_model(session, env, &dir),
        Command::LoadModel(dir) => load_model(session, env, dir),
        Command::UseTrainedModel => use_trained_model(session),
        Command::Reconstruct => start_reconstruction(session, env),
        Command::StopReconstruction => {
            if let Some(run) = &session.reconstructing {
                run.job.request_stop();
            }
        }
        Command::RunEpie => start_epie(session, env),
        Command::StopEpie => {
            if let Some(run) = &session.epie {
                run.job.request_stop();
            }
        }
        Command::ExportReport(dir) => super::export::start_export(session, env, dir),
    }
}

fn open_dataset(session: &mut Session, env: &mut Env<'_>, path: &Path) {
    if session.loading.is_some() {
        session.log(Level::Warn, "a file is already being opened; wait for it");
        return;
    }
    session.log(Level::Info, format!("opening {}", path.display()));
    let job_path = path.to_owned();
    session.loading = Some(Job::spawn(
        format!("open {}", file_name(path)),
        env.ctx,
        move || {
            let loaded = load(&job_path, &LoadOptions::default())
                .with_context(|| format!("cannot open {}", job_path.display()))?;
            Ok((job_path, loaded))
        },
    ));
}

fn open_demo(session: &mut Session, env: &mut Env<'_>) {
    if session.generating_demo.is_some() {
        return;
    }
    let dir = env.runs_dir();
    session.log(
        Level::Info,
        "generating the demo scan (lines object, N = 64, 512 positions, 1e9 photons)",
    );
    session.generating_demo = Some(Job::spawn("demo", env.ctx, move || {
        super::demo::write_demo_dataset(&dir)
    }));
}

fn browse(session: &mut Session, env: &mut Env<'_>, purpose: DialogPurpose) {
    if session.dialog.is_some() {
        return;
    }
    let start = env
        .state
        .recent_files
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_owned);
    let job = Job::spawn("dialog", env.ctx, move || {
        let mut dialog = rfd::FileDialog::new();
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        Ok(match purpose {
            DialogPurpose::OpenDataset => dialog
                .add_filter("NPZ scan", &["npz"])
                .set_title("Open a scan")
                .pick_file(),
            DialogPurpose::LoadModel => dialog.set_title("Load a model directory").pick_folder(),
            DialogPurpose::SaveModel => dialog.set_title("Save the model into").pick_folder(),
            DialogPurpose::Export => dialog.set_title("Export the report into").pick_folder(),
        })
    });
    session.dialog = Some((job, purpose));
}

fn start_training(session: &mut Session, env: &mut Env<'_>) {
    if session.training.running() {
        session.log(Level::Warn, "training is already running: stop it first");
        return;
    }
    let Some(view) = &session.dataset else {
        session.log(Level::Warn, "open a scan before training");
        return;
    };
    let dataset = view.loaded.dataset.clone();
    let data_path = view.path.clone();
    let mut config = env.state.train.clone();
    config.n = dataset.n();
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
    let (events, receiver) = EventSender::channel(256);
    let ctx = env.ctx.clone();
    let events = events.with_notify(move || ctx.request_repaint());
    let stop = Arc::new(AtomicBool::new(false));
    let control = TrainControl {
        stop: Arc::clone(&stop),
        events,
        output_dir: Some(run_dir.clone()),
        metrics_log: true,
        preview_every: env.state.preview_every,
        preview_groups: 256,
        training_data: Some(data_path.display().to_string()),
    };
    session.log(
        Level::Info,
        format!(
            "training on {} ({} patterns) on {device_label}; model in {}",
            file_name(&data_path),
            dataset.len(),
            run_dir.display()
        ),
    );
    let job_run_dir = run_dir.clone();
    let job = Job::spawn("train", env.ctx, move || {
        let run_dir = job_run_dir;
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("cannot create {}", run_dir.display()))?;
        Ok(train(&dataset, None, &config, &device, &control, None)?)
    });
    let training = &mut session.training;
    training.job = Some(StreamingJob {
        job,
        updates: receiver,
        stop,
    });
    training.info = None;
    training.history.clear();
    training.batch = None;
    training.steps_done = 0;
    training.started = Some(Instant::now());
    training.run_dir = Some(run_dir);
    training.device_label = device_label;
    training.last_reason = None;
    env.state.pane = Pane::Training;
}

fn save_model(session: &mut Session, env: &mut Env<'_>, dir: &Path) {
    let Some(model) = &session.model else {
        session.log(Level::Warn, "no model to save: train or load one first");
        return;
    };
    if session.model_job.is_some() {
        return;
    }
    let bundle = model.bundle.clone();
    let target = dir.join("model");
    session.model_job = Some(Job::spawn("save model", env.ctx, move || {
        bundle
            .save(&target)
            .with_context(|| format!("cannot save the model to {}", target.display()))?;
        Ok(ModelJobResult::Saved(target))
    }));
}

fn load_model(session: &mut Session, env: &mut Env<'_>, dir: PathBuf) {
    if session.model_job.is_some() {
        return;
    }
    let (device, label) = env.compute_device();
    session.log(
        Level::Info,
        format!("loading the model in {} on {label}", dir.display()),
    );
    session.model_job = Some(Job::spawn("load model", env.ctx, move || {
        let bundle = ModelBundle::load(&dir, &device)
            .with_context(|| format!("cannot load a model from {}", dir.display()))?;
        Ok(ModelJobResult::Loaded(Box::new(ModelView {
            bundle,
            source: dir.display().to_string(),
            device,
        })))
    }));
}

fn use_trained_model(session: &mut Session) {
    let Some(bundle) = session.training.trained.clone() else {
        session.log(Level::Warn, "no model was trained in this session");
        return;
    };
    let device = bundle
        .network
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(Device::flex);
    let source = session.training.run_dir.as_ref().map_or_else(
        || "trained in this session".into(),
        |d| d.display().to_string(),
    );
    session.model = Some(ModelView {
        bundle,
        source,
        device,
    });
}

fn start_reconstruction(session: &mut Session, env: &mut Env<'_>) {
    if session.reconstructing.is_some() {
        return;
    }
    let (Some(view), Some(model)) = (&session.dataset, &session.model) else {
        session.log(Level::Warn, "reconstruction needs a scan and a model");
        return;
    };
    let dataset = view.loaded.dataset.clone();
    let network = model.bundle.network.valid();
    let device = model.device.clone();
    let config = &model.bundle.manifest.config;
    let options = InferOptions {
        batch_size: 64,
        gridsize: config.gridsize,
        neighbor_count: config.neighbor_count,
        seed: config.seed,
        crop: None,
    };
    let (sender, updates) = sync_channel(2);
    let stop = Arc::new(AtomicBool::new(false));
    let job_stop = Arc::clone(&stop);
    let ctx = env.ctx.clone();
    let job = Job::spawn("reconstruct", env.ctx, move || {
        let mut last = Instant::now() - Duration::from_secs(1);
        let stitched = reconstruct(&network, &dataset, &options, &device, |done, total, st| {
            // A snapshot costs a pass over the canvas: at most every 100 ms, and the last.
            if last.elapsed() >= Duration::from_millis(100) || done == total {
                last = Instant::now();
                if sender
                    .try_send((done, total, st.object(), st.origin_px()))
                    .is_ok()
                {
                    ctx.request_repaint();
                }
            }
            !job_stop.load(std::sync::atomic::Ordering::SeqCst)
        })?;
        Ok(stitched)
    });
    session.metrics = None;
    session.reconstructing = Some(ReconstructionRun {
        job: StreamingJob { job, updates, stop },
        done: 0,
        total: view.loaded.dataset.len(),
    });
    env.state.pane = Pane::Reconstruction;
}

fn start_epie(session: &mut Session, env: &mut Env<'_>) {
    if session.epie.is_some() {
        return;
    }
    let Some(view) = &session.dataset else {
        session.log(Level::Warn, "open a scan before running ePIE");
        return;
    };
    let dataset = view.loaded.dataset.clone();
    let iterations = env.state.epie_iterations.max(1);
    let (sender, updates) = sync_channel(2);
    let stop = Arc::new(AtomicBool::new(false));
    let job_stop = Arc::clone(&stop);
    let ctx = env.ctx.clone();
    let job = Job::spawn("epie", env.ctx, move || {
        let mut epie = Epie::new(
            &dataset,
            EpieConfig {
                iterations,
                ..EpieConfig::default()
            },
        );
        for sweep in 1..=iterations {
            let error = epie.sweep();
            let snapshot = epie.object_snapshot();
            let update = EpieUpdate {
                sweep,
                sweeps: iterations,
                error,
                object: snapshot,
                origin_px: epie.origin_px(),
            };
            if sender.try_send(update).is_ok() {
                ctx.request_repaint();
            }
            if job_stop.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
        }
        Ok(epie.into_result())
    });
    session.epie = Some(EpieRun {
        job: StreamingJob { job, updates, stop },
        done: 0,
        total: iterations,
    });
}

/// Collects what every job reported since the last frame; spends at most ~10 ms on events.
pub fn poll_jobs(session: &mut Session, env: &mut Env<'_>, commands: &mut Vec<Command>) {
    poll_loading(session, env);
    poll_dialog(session, commands);
    poll_training(session);
    poll_model_job(session, commands);
    poll_reconstruction(session);
    poll_epie(session);
    super::export::poll_export(session);
}

fn poll_loading(session: &mut Session, env: &mut Env<'_>) {
    if let Some(job) = &mut session.generating_demo
        && let Some(result) = job.poll()
    {
        session.generating_demo = None;
        match result {
            Ok(path) => open_dataset(session, env, &path),
            Err(e) => session.log(Level::Error, format!("demo scan: {e}")),
        }
    }
    let Some(job) = &mut session.loading else {
        return;
    };
    let Some(result) = job.poll() else { return };
    session.loading = None;
    match result {
        Ok((path, loaded)) => {
            env.state.remember(&path);
            let summary = format!(
                "opened {}: {} patterns of {}², {}",
                file_name(&path),
                loaded.dataset.len(),
                loaded.dataset.n(),
                loaded.layout.describe()
            );
            for note in &loaded.notes {
                session.log(Level::Warn, format!("{}: {note}", file_name(&path)));
            }
            session.log(Level::Info, summary);
            let version = session.dataset.as_ref().map_or(0, |d| d.version) + 1;
            // A new scan: the old reconstruction and comparison no longer apply.
            let truth = loaded.dataset.object().cloned().map(|object| ObjectView {
                label: "true object (objectGuess)".into(),
                object,
                origin_px: [0.0, 0.0],
            });
            session.comparison.set(truth);
            session.reconstruction.set(None);
            session.metrics = None;
            session.dataset_error = None;
            session.dataset = Some(DatasetView {
                path,
                loaded,
                version,
            });
        }
        Err(e) => {
            session.log(Level::Error, e.clone());
            session.dataset_error = Some(e);
        }
    }
}

fn poll_dialog(session: &mut Session, commands: &mut Vec<Command>) {
    let Some((job, purpose)) = &mut session.dialog else {
        return;
    };
    let purpose = *purpose;
    let Some(result) = job.poll() else { return };
    session.dialog = None;
    match result {
        Ok(Some(path)) => commands.push(match purpose {
            DialogPurpose::OpenDataset => Command::OpenDataset(path),
            DialogPurpose::LoadModel => Command::LoadModel(path),
            DialogPurpose::SaveModel => Command::SaveModel(path),
            DialogPurpose::Export => Command::ExportReport(path),
        }),
        Ok(None) => {}
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
            ..
        } => {
            training.batch = Some((epoch, batch, batches));
            training.steps_done += 1;
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
            amplitude,
            phase,
        } => {
            let to_array = |img: crate::train::HostImage| {
                ndarray::Array2::from_shape_vec((img.height, img.width), img.values).ok()
            };
            if let (Some(amplitude), Some(phase)) = (to_array(amplitude), to_array(phase)) {
                training.preview.set(Some(PreviewImages {
                    epoch,
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

fn poll_model_job(session: &mut Session, commands: &mut Vec<Command>) {
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
            if std::mem::take(&mut session.reconstruct_when_ready) {
                commands.push(Command::Reconstruct);
            }
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
    let mut latest = None;
    while let Ok(update) = run.job.updates.try_recv() {
        latest = Some(update);
    }
    if let Some((done, total, object, origin_px)) = latest {
        run.done = done;
        run.total = total;
        session.reconstruction.set(Some(ObjectView {
            label: "PtychoPINN".into(),
            object,
            origin_px,
        }));
    }
    let Some(result) = run.job.job.poll() else {
        return;
    };
    session.reconstructing = None;
    match result {
        Ok(stitched) => {
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
                label: "PtychoPINN".into(),
                object: stitched.object,
                origin_px: stitched.origin_px,
            }));
            update_metrics(session);
        }
        Err(e) => session.log(Level::Error, format!("reconstruction failed: {e}")),
    }
}

/// §7 metrics of the reconstruction against the scan's true object, when it has one.
pub fn update_metrics(session: &mut Session) {
    let (Some(view), Some(recon)) = (&session.dataset, &session.reconstruction.value) else {
        return;
    };
    let Some(truth) = view.loaded.dataset.object() else {
        return;
    };
    session.metrics = crate::metrics::evaluate::evaluate(
        &recon.object,
        recon.origin_px,
        truth,
        view.loaded.dataset.positions_px(),
        true,
    );
}

fn poll_epie(session: &mut Session) {
    let Some(run) = &mut session.epie else {
        return;
    };
    let mut latest = None;
    while let Ok(update) = run.job.updates.try_recv() {
        latest = Some(update);
    }
    if let Some(u) = latest {
        run.done = u.sweep;
        run.total = u.sweeps;
        session.comparison.set(Some(ObjectView {
            label: format!(
                "ePIE, sweep {}/{} (Fourier error {:.4})",
                u.sweep, u.sweeps, u.error
            ),
            object: u.object,
            origin_px: u.origin_px,
        }));
    }
    let Some(result) = run.job.job.poll() else {
        return;
    };
    session.epie = None;
    match result {
        Ok(result) => {
            let sweeps = result.errors.len();
            session.log(
                Level::Info,
                format!(
                    "ePIE: {sweeps} sweeps, Fourier error {:.4}",
                    result.errors.last().copied().unwrap_or(f64::NAN)
                ),
            );
            session.comparison.set(Some(ObjectView {
                label: format!("ePIE, {sweeps} sweeps"),
                object: result.object,
                origin_px: result.origin_px,
            }));
        }
        Err(e) => session.log(Level::Error, format!("ePIE failed: {e}")),
    }
}

/// The file name for messages.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "scan".into(), |n| n.to_string_lossy().into_owned())
}
