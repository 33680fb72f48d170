//! Training the network on a scan (physics.md §5): the configuration, the loop with its schedule
//! and events, the live preview and the model directory. Uses `data`, `physics`, `model` and
//! `infer`; knows nothing of egui.

pub mod bundle;
pub mod collective;
pub mod config;
pub mod control;
mod epoch;
pub mod error;
pub mod events;
pub mod fit;
pub mod metrics_log;
#[cfg(feature = "mpi")]
pub mod mpi_world;
pub mod parallel;
pub mod positions;
pub mod preview;
pub mod probe_check;
pub mod probe_param;
mod probe_start;
pub mod run;
pub mod schedule;
pub mod split;
mod start;
mod state;
mod step;

pub use bundle::{BundleError, ModelBundle, resolve_model_dir};
pub use collective::{Collective, SingleProcess};
pub use config::{AdamSettings, Monitor, TrainConfig};
pub use control::TrainControl;
pub use error::TrainError;
pub use events::{EpochRecord, EventSender, HostImage, RunInfo, StopReason, TrainEvent};
pub use run::{Start, TrainOutcome, train, train_from};
