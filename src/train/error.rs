//! What can stop a training run before it starts or while it runs.

use std::path::PathBuf;

use super::bundle::BundleError;
use super::config::ConfigError;
use crate::data::DatasetError;
use crate::infer::predict::InferError;

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A bad setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Bad or unsuitable data.
    #[error(transparent)]
    Data(#[from] DatasetError),
    /// Data that do not fit the configuration or each other.
    #[error("{0}")]
    Mismatch(String),
    /// Saving the model.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// Running the network.
    #[error(transparent)]
    Infer(#[from] InferError),
    /// Writing `metrics.csv`.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The optimiser state of a resumed model.
    #[error("cannot restore the optimiser state: {0}")]
    Optimizer(String),
}
