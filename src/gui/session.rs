//! What the window holds while it runs and never persists: the loaded scan, the training run,
//! the model, the reconstruction and its comparison, the running jobs and the log. `ui` code
//! reads it; [`super::app::PtychoApp::logic`] changes it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ndarray::Array2;
use num_complex::Complex32;

use super::jobs::{Job, StreamingJob};
use crate::data::{Dataset, Loaded};
use crate::epie::EpieResult;
use crate::infer::Stitched;
use crate::io::schema::Layout;
use crate::metrics::evaluate::Evaluation;
use crate::metrics::trust::TrustChecks;
use crate::train::{EpochRecord, ModelBundle, RunInfo, StopReason, TrainEvent, TrainOutcome};

/// A value that remembers how often it changed, so textures are re-uploaded only then.
#[derive(Debug, Clone, Default)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Bumped on every change.
    pub version: u64,
}

impl<T> Versioned<T> {
    /// Replaces the value and bumps the version.
    pub fn set(&mut self, value: T) {
        self.value = value;
        self.version += 1;
    }
}

/// The loaded scan. The dataset is shared (`Arc`) with the jobs that use it, never copied.
#[derive(Debug, Clone)]
pub struct DatasetView {
    /// Where it came from.
    pub path: PathBuf,
    /// The validated scan.
    pub dataset: Arc<Dataset>,
    /// The layout the file had.
    pub layout: Layout,
    /// The loader's notes (conversions made, things worth knowing).
    pub notes: Vec<String>,
    /// Every probe mode in the file (mode 0 is the dataset's probe).
    pub probe_modes: Vec<Array2<Complex32>>,
    /// The facts the dataset pane and the report show, computed once on the loading thread.
    pub summary: Vec<String>,
    /// The scan's dose and overlap, and the method they favour (on the loading thread).
    pub regime: crate::data::regime::RegimeAdvice,
    /// Bumped when a new dataset replaces the old (textures follow).
    pub version: u64,
}

impl DatasetView {
    /// Wraps a loaded file (on the loading thread: the summary reads every pattern once).
    pub fn new(path: PathBuf, loaded: Loaded) -> Self {
        let Loaded {
            dataset,
            layout,
            notes,
            probe_modes,
        } = loaded;
        let summary = crate::data::summary::dataset_summary(&path, &dataset, layout);
        let regime = crate::data::regime::advise(&dataset);
        Self {
            path,
            dataset: Arc::new(dataset),
            layout,
            notes,
            probe_modes,
            summary,
            regime,
            version: 0,
        }
    }
}

/// The severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Progress and results.
    Info,
    /// Something to look at.
    Warn,
    /// Something failed.
    Error,
}

/// One line of the log pane.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Severity.
    pub level: Level,
    /// Text.
    pub text: String,
}

/// A stitched object shown in the reconstruction pane.
#[derive(Debug, Clone)]
pub struct ObjectView {
    /// What made it ("PtychoPINN", "ePIE, 20 sweeps", "true object").
    pub label: String,
    /// `[h, w]` the object.
    pub object: Array2<Complex32>,
    /// Object coordinates `[x, y]` of pixel (0, 0).
    pub origin_px: [f64; 2],
}

/// The stitched object of the preview groups after an epoch.
#[derive(Debug, Clone)]
pub struct PreviewImages {
    /// After this epoch, or during it at step `batch` of `batches`.
    pub epoch: usize,
    /// Mid-epoch: `(batch, batches)`.
    pub batch: Option<(usize, usize)>,
    /// Amplitude.
    pub amplitude: Array2<f32>,
    /// Phase, radians.
    pub phase: Array2<f32>,
}

/// A reconstruction's progress: groups done and the object so far.
#[derive(Debug, Clone)]
pub struct InferUpdate {
    /// Groups stitched.
    pub done: usize,
    /// Groups in all.
    pub total: usize,
    /// The object so far.
    pub object: Array2<Complex32>,
    /// Object coordinates of pixel (0, 0).
    pub origin_px: [f64; 2],
}

/// One ePIE sweep's report.
#[derive(Debug, Clone)]
pub struct EpieUpdate {
    /// Sweeps done.
    pub sweep: usize,
    /// Sweeps planned.
    pub sweeps: usize,
    /// This sweep's Fourier error.
    pub error: f64,
    /// The object so far.
    pub object: Array2<Complex32>,
    /// Object coordinates of pixel (0, 0).
    pub origin_px: [f64; 2],
}

/// A training run and what it has reported.
#[derive(Debug, Default)]
pub struct TrainingView {
    /// The running job (its events stream in).
    pub job: Option<StreamingJob<TrainOutcome, TrainEvent>>,
    /// Sizes sent at the start.
    pub info: Option<RunInfo>,
    /// Finished epochs.
    pub history: Vec<EpochRecord>,
    /// `(epoch, batch, batches)` of the last step.
    pub batch: Option<(usize, usize, usize)>,
    /// Steps finished in this run (for the time-left estimate).
    pub steps_done: usize,
    /// Every step's loss as it arrives, `[epoch − 1 + batch / batches, log10 loss]`, so the
    /// curve starts with the first batch rather than after the first epoch.
    pub batch_losses: Vec<[f64; 2]>,
    /// When the run started.
    pub started: Option<Instant>,
    /// The last preview.
    pub preview: Versioned<Option<PreviewImages>>,
    /// The run's directory (the model is saved under `model/`).
    pub run_dir: Option<PathBuf>,
    /// The device it runs on, and any fallback note.
    pub device_label: String,
    /// How the last run ended.
    pub last_reason: Option<StopReason>,
    /// The model of the last run.
    pub trained: Option<ModelBundle>,
}

impl TrainingView {
    /// True while a run is going.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// Patterns per second so far in this run, from the steps finished (available from the
    /// first step, before an epoch has finished).
    pub fn patterns_per_s(&self) -> Option<f64> {
        let info = self.info.as_ref()?;
        let elapsed = self.started?.elapsed().as_secs_f64();
        if self.steps_done == 0 || elapsed <= 0.0 {
            return None;
        }
        let per_step = info.patterns_per_epoch as f64 / info.batches_per_epoch.max(1) as f64;
        Some(self.steps_done as f64 * per_step / elapsed)
    }

    /// Seconds left at the current pace, when it can be estimated.
    pub fn seconds_left(&self) -> Option<f64> {
        let info = self.info.as_ref()?;
        let started = self.started?;
        if self.steps_done == 0 {
            return None;
        }
        let per_step = started.elapsed().as_secs_f64() / self.steps_done as f64;
        let epochs = info.last_epoch + 1 - info.first_epoch;
        let total = epochs * info.batches_per_epoch;
        Some(per_step * total.saturating_sub(self.steps_done) as f64)
    }
}

/// The model used for reconstruction.
#[derive(Debug, Clone)]
pub struct ModelView {
    /// The network and its manifest.
    pub bundle: ModelBundle,
    /// Where it came from ("trained in this session", a directory).
    pub source: String,
    /// The device its network lives on.
    pub device: burn::prelude::Device,
}

/// A running reconstruction's live state.
#[derive(Debug)]
pub struct ReconstructionRun {
    /// The job (its result: the object and, with a true object, the §7 metrics) and its
    /// progress.
    pub job: StreamingJob<(Stitched, Option<Evaluation>, Option<TrustChecks>), InferUpdate>,
    /// Groups done so far.
    pub done: usize,
    /// Groups in all.
    pub total: usize,
}

/// Scan positions as a method refined them.
#[derive(Debug, Clone)]
pub struct RefinedPositions {
    /// Which method ("ePIE, 20 sweeps").
    pub label: String,
    /// `[x, y]` object pixels, one per pattern of the loaded scan.
    pub positions_px: Vec<[f64; 2]>,
}

/// A running ePIE comparison.
#[derive(Debug)]
pub struct EpieRun {
    /// "ePIE", or "PtychoPINN + ePIE" when seeded by the network.
    pub label: &'static str,
    /// The job and its per-sweep updates.
    pub job: StreamingJob<EpieResult, EpieUpdate>,
    /// Sweeps done.
    pub done: usize,
    /// Sweeps planned.
    pub total: usize,
}

/// Everything that is not persisted.
#[derive(Debug, Default)]
pub struct Session {
    /// The loaded scan.
    pub dataset: Option<DatasetView>,
    /// Why the last open failed, and what would fix it (shown until the next open).
    pub failed_open: Option<OpenFailure>,
    /// A scan being loaded.
    pub loading: Option<Job<Result<DatasetView, OpenFailure>>>,
    /// The demo dataset being generated.
    pub generating_demo: Option<Job<PathBuf>>,
    /// Training.
    pub training: TrainingView,
    /// The model for reconstruction.
    pub model: Option<ModelView>,
    /// A model being loaded or saved.
    pub model_job: Option<Job<ModelJobResult>>,
    /// The network's reconstruction (fills in live).
    pub reconstruction: Versioned<Option<ObjectView>>,
    /// The running reconstruction.
    pub reconstructing: Option<ReconstructionRun>,
    /// The comparison object: ePIE or the true object.
    pub comparison: Versioned<Option<ObjectView>>,
    /// The running ePIE.
    pub epie: Option<EpieRun>,
    /// Scan positions a method refined on this scan (drawn over the given ones).
    pub refined_positions: Option<RefinedPositions>,
    /// §7 metrics of the reconstruction against the true object.
    pub metrics: Option<Evaluation>,
    /// The reconstruction's checks without a ground truth (flat phase, amplitude at the bound).
    pub checks: Option<TrustChecks>,
    /// A native file dialog open on a worker thread, and what its answer is for.
    pub dialog: Option<(Job<Option<PathBuf>>, DialogPurpose)>,
    /// An export being written.
    pub exporting: Option<Job<Vec<PathBuf>>>,
    /// The log pane.
    pub log: Vec<LogLine>,
    /// Reconstruct as soon as a model is ready (set by `--model`).
    pub reconstruct_when_ready: bool,
}

/// A conversion the user can ask for when a file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFix {
    /// `Some(true)`: take √ (the file holds counts); `Some(false)`: use as amplitudes.
    Sqrt(bool),
    /// `Some(true)`: move DC from the corner to the centre; `Some(false)`: leave it.
    Fftshift(bool),
    /// Choose the ptychodus product file.
    Product,
    /// Choose a positions file for an HDF5 scan.
    Positions,
}

impl OpenFix {
    /// The button's text.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqrt(true) => "Open with √ (the file holds counts)",
            Self::Sqrt(false) => "Open as amplitudes anyway",
            Self::Fftshift(true) => "Open with fftshift (DC at the corner)",
            Self::Fftshift(false) => "Open without fftshift anyway",
            Self::Product => "Choose the product file…",
            Self::Positions => "Choose a positions file…",
        }
    }
}

/// A file the loader refused.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenFailure {
    /// The file.
    pub path: PathBuf,
    /// The options it was opened with.
    pub options: crate::data::LoadOptions,
    /// The error, naming the key, shape or convention.
    pub message: String,
    /// Conversions that would let it load.
    pub fixes: Vec<OpenFix>,
    /// For an HDF5 file, the datasets its settings form offers (or why they cannot be listed),
    /// read on the loading worker with the refusal; `None` for other files.
    pub hdf5_candidates: Option<Result<crate::io::hdf5::tree::Candidates, String>>,
}

impl OpenFailure {
    /// Describes `error` and the fixes it admits.
    pub fn new(
        path: PathBuf,
        options: crate::data::LoadOptions,
        error: &crate::data::DatasetError,
    ) -> Self {
        use crate::data::DatasetError as E;
        let fixes = match error {
            E::LooksLikeIntensity { .. } => vec![OpenFix::Sqrt(true), OpenFix::Sqrt(false)],
            E::DcAtCorner { .. } => vec![OpenFix::Fftshift(true), OpenFix::Fftshift(false)],
            E::NeedsProduct => vec![OpenFix::Product],
            E::NoPositions => vec![OpenFix::Positions],
            _ => Vec::new(),
        };
        let hdf5_candidates = crate::io::hdf5::is_hdf5(&path)
            .then(|| crate::io::hdf5::tree::candidates(&path).map_err(|e| e.to_string()));
        Self {
            message: format!("cannot open {}: {error}", path.display()),
            path,
            options,
            fixes,
            hdf5_candidates,
        }
    }
}

/// What a dialog's answer is used for.
#[derive(Debug, Clone, PartialEq)]
pub enum DialogPurpose {
    /// Open a dataset.
    OpenDataset,
    /// The product file for a ptychodus diffraction file, opened with these options.
    Product(PathBuf, crate::data::LoadOptions),
    /// The positions file for an HDF5 scan, opened with these options.
    Positions(PathBuf, crate::data::LoadOptions),
    /// Load a model directory.
    LoadModel,
    /// Save the model to a directory.
    SaveModel,
    /// Export the report into a directory.
    Export,
}

/// What a model job produced.
#[derive(Debug)]
pub enum ModelJobResult {
    /// A model was loaded.
    Loaded(Box<ModelView>),
    /// The model was saved there.
    Saved(PathBuf),
}

impl Session {
    /// The most lines the log keeps.
    pub const MAX_LOG: usize = 2000;

    /// Adds a line to the log (and to `tracing`).
    pub fn log(&mut self, level: Level, text: impl Into<String>) {
        let text = text.into();
        match level {
            Level::Info => tracing::info!("{text}"),
            Level::Warn => tracing::warn!("{text}"),
            Level::Error => tracing::error!("{text}"),
        }
        self.log.push(LogLine { level, text });
        if self.log.len() > Self::MAX_LOG {
            let excess = self.log.len() - Self::MAX_LOG;
            self.log.drain(..excess);
        }
    }

    /// True while any job runs (the window keeps repainting for progress).
    pub fn busy(&self) -> bool {
        self.loading.is_some()
            || self.generating_demo.is_some()
            || self.training.running()
            || self.model_job.is_some()
            || self.reconstructing.is_some()
            || self.epie.is_some()
            || self.exporting.is_some()
    }
}
