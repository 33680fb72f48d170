//! Training the network on a scan (physics.md §5): the configuration, the loop with its schedule
//! and events, the live preview and the model directory. Uses `data`, `physics`, `model` and
//! `infer`; knows nothing of egui.

pub mod bundle;
pub mod config;
pub mod error;
pub mod events;
pub mod fit;
pub mod metrics_log;
pub mod positions;
pub mod preview;
pub mod probe_check;
pub mod probe_param;
pub mod run;
pub mod schedule;
pub mod split;
mod start;
mod step;

pub use bundle::{BundleError, ModelBundle, resolve_model_dir};
pub use config::{AdamSettings, Monitor, TrainConfig};
pub use error::TrainError;
pub use events::{EpochRecord, EventSender, HostImage, RunInfo, StopReason, TrainEvent};
pub use run::{Start, TrainControl, TrainOutcome, train, train_from};
