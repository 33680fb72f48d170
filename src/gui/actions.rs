//! Applying [`Command`]s: with [`super::poll`], the only code that changes the session.
//! Everything heavy is started here on a worker thread and collected by
//! [`super::poll::poll_jobs`].

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
use super::jobs::{Job, StreamingJob, compute_threads, in_compute_pool};
use super::session::{
    DatasetView, DialogPurpose, EpieRun, EpieUpdate, InferUpdate, Level, ModelJobResult, ModelView,
    OpenFailure, ReconstructionRun, Session,
};
use super::state::{AppState, Pane};
use crate::data::{LoadOptions, load};
use crate::device::DeviceChoice;
use crate::epie::{Epie, EpieConfig};
use crate::infer::{InferOptions, reconstruct};
use crate::train::{EventSender, ModelBundle, TrainControl, train};

/// What an action needs besides the session: settings, the GPU and the egui context.
pub struct Env<'a> {
    /// Persisted settings.
    pub state: &'a mut AppState,
    /// The window's GPU as Burn sees it.
    pub gpu: &'a GpuStatus,
    /// For repaints from worker threads.
    pub ctx: &'a egui::Context,
    /// `--runs-dir` for this session only (not persisted).
    pub runs_dir_override: Option<&'a Path>,
}

impl Env<'_> {
    /// The device the network runs on and a note when the choice had to fall back.
    pub fn compute_device(&self) -> (Device, String) {
        match (self.state.device, self.gpu.device()) {
            (DeviceChoice::Wgpu, Some(device)) => (device.clone(), self.gpu.describe()),
            (DeviceChoice::Wgpu, None) => (
                Device::flex(),
                format!(
                    "CPU, {} (no GPU for the network: {})",
                    threads_label(),
                    self.gpu.describe()
                ),
            ),
            (DeviceChoice::Cpu, _) => (Device::flex(), format!("CPU, {}", threads_label())),
        }
    }

    /// Where training runs are written.
    pub fn runs_dir(&self) -> PathBuf {
        self.runs_dir_override
            .map(Path::to_owned)
            .or_else(|| self.state.runs_dir.clone())
            .unwrap_or_else(default_data_dir)
    }
}

fn threads_label() -> String {
    match compute_threads() {
        1 => "1 thread".into(),
        n => format!("{n} threads"),
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
        Command::OpenDataset(path) => open_dataset(session, env, &path, LoadOptions::default()),
        Command::OpenDatasetWith(path, options) => open_dataset(session, env, &path, options),
        Command::BrowseProduct(path, options) => {
            browse(session, env, DialogPurpose::Product(path, options));
        }
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

pub(super) fn open_dataset(
    session: &mut Session,
    env: &mut Env<'_>,
    path: &Path,
    options: LoadOptions,
) {
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
            Ok(match load(&job_path, &options) {
                Ok(loaded) => Ok(DatasetView::new(job_path, loaded)),
                Err(e) => Err(OpenFailure::new(job_path, options, &e)),
            })
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
    let job_purpose = purpose.clone();
    let job = Job::spawn("dialog", env.ctx, move || {
        let purpose = job_purpose;
        let mut dialog = rfd::FileDialog::new();
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        Ok(match purpose {
            DialogPurpose::Product(..) => dialog
                .add_filter("ptychodus product", &["npz"])
                .set_title("Choose the ptychodus product file (probe, positions)")
                .pick_file(),
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
    let dataset = view.dataset.clone();
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
        Ok(in_compute_pool(move || {
            train(&dataset, None, &config, &device, &control, None)
        })?)
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
        session.log(
            Level::Warn,
            "a model is being loaded or saved: try again when it is done",
        );
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
        session.log(
            Level::Warn,
            "a model is being loaded or saved: try again when it is done",
        );
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

pub(super) fn use_trained_model(session: &mut Session) {
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
    let dataset = view.dataset.clone();
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
        let stitched = in_compute_pool(|| {
            reconstruct(&network, &dataset, &options, &device, |done, total, st| {
                // A snapshot costs a pass over the canvas here and a recolouring in the window: at
                // most every 250 ms, and the last.
                if last.elapsed() >= Duration::from_millis(250) || done == total {
                    last = Instant::now();
                    let update = InferUpdate {
                        done,
                        total,
                        object: st.object(),
                        origin_px: st.origin_px(),
                    };
                    if sender.try_send(update).is_ok() {
                        ctx.request_repaint();
                    }
                }
                !job_stop.load(std::sync::atomic::Ordering::SeqCst)
            })
        })?;
        // §7 metrics against the true object, here on the worker (registration and FRC are
        // FFTs over the whole object: too slow for a frame); none for a stopped, partial object.
        let truth = dataset.object().filter(|_| !stitched.stopped);
        let metrics = truth.and_then(|truth| {
            crate::metrics::evaluate::evaluate(
                &stitched.object,
                stitched.origin_px,
                truth,
                dataset.positions_px(),
                true,
            )
        });
        Ok((stitched, metrics))
    });
    session.metrics = None;
    session.reconstructing = Some(ReconstructionRun {
        job: StreamingJob { job, updates, stop },
        done: 0,
        total: view.dataset.len(),
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
    let dataset = view.dataset.clone();
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
        let mut last = Instant::now() - Duration::from_secs(1);
        for sweep in 1..=iterations {
            let error = epie.sweep();
            // The window recolours the canvas per update: at most every 250 ms.
            if last.elapsed() < Duration::from_millis(250) && sweep < iterations {
                if job_stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            last = Instant::now();
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
