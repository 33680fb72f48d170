//! How a training run is driven and where it writes: the stop flag, the events' listener, the
//! run directory, the previews, and the processes it is spread over.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::collective::{Collective, SingleProcess};
use super::events::EventSender;

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
    /// The processes the run is spread over (data-parallel training; one by default). Each takes
    /// its share of every batch; process 0 saves the model.
    pub collective: Arc<dyn Collective>,
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
            collective: Arc::new(SingleProcess),
        }
    }
}
