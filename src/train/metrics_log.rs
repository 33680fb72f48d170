//! `metrics.csv`, the run's plain-file training log (the reference logged to MLflow).

use std::path::Path;

use super::error::TrainError;
use super::events::EpochRecord;
use crate::io::atomic::write_atomic;

/// `metrics.csv`: one row per epoch, rewritten whole (atomically) after every epoch.
pub fn write_metrics_csv(path: &Path, history: &[EpochRecord]) -> Result<(), TrainError> {
    let mut text =
        String::from("epoch,train_loss,val_loss,learning_rate,duration_secs,patterns_per_s\n");
    for r in history {
        text.push_str(&format!(
            "{},{:.8e},{:.8e},{:.6e},{:.3},{:.2}\n",
            r.epoch, r.train_loss, r.val_loss, r.learning_rate, r.duration_secs, r.patterns_per_s
        ));
    }
    write_atomic(path, text.as_bytes()).map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}
