//! What a training run tells its listener (the command line's progress bar, the window's
//! training pane): host values only, never tensors, over a bounded channel.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// A 2-D image on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostImage {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height × width` values.
    pub values: Vec<f32>,
}

impl HostImage {
    /// Copies a 2-D array.
    pub fn from_array(a: &ndarray::ArrayRef2<f32>) -> Self {
        let (height, width) = a.dim();
        Self {
            height,
            width,
            values: a.iter().copied().collect(),
        }
    }
}

/// Figures of one finished epoch (a row of `metrics.csv` and `history.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number, counted over resumed runs too.
    pub epoch: usize,
    /// Mean training loss: Poisson NLL per pixel with lnΓ(k + 1) (weighted sum of terms).
    #[serde(with = "nullable_f64")]
    pub train_loss: f64,
    /// The same on the validation groups (NaN when there are none; `null` in JSON).
    #[serde(with = "nullable_f64")]
    pub val_loss: f64,
    /// Learning rate used during the epoch.
    pub learning_rate: f64,
    /// Wall-clock seconds of the epoch (training and validation).
    pub duration_secs: f64,
    /// Training patterns (groups × g²) per second of the optimiser steps (validation excluded).
    pub patterns_per_s: f64,
}

/// JSON has no NaN: non-finite numbers are written as `null` and read back as NaN.
mod nullable_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// The sizes of a run, sent once at the start.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// First epoch to run (1-based; > 1 when resuming).
    pub first_epoch: usize,
    /// Last epoch.
    pub last_epoch: usize,
    /// Optimiser steps per epoch.
    pub batches_per_epoch: usize,
    /// Training groups.
    pub train_groups: usize,
    /// Validation groups.
    pub val_groups: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Diffraction patterns the network sees per epoch (groups × patterns per group).
    pub patterns_per_epoch: usize,
    /// Where it runs ("cpu", "wgpu").
    pub device: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// Early stopping: no improvement for the configured patience.
    EarlyStopping,
    /// The stop flag (Stop button, Ctrl-C).
    Stopped,
    /// The loss became NaN or infinite.
    Diverged,
}

/// One message from a training run.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// The run starts.
    Started(RunInfo),
    /// One optimiser step finished. May be dropped when the listener is behind.
    Batch {
        /// Epoch (1-based).
        epoch: usize,
        /// Step within the epoch (1-based).
        batch: usize,
        /// Steps per epoch.
        batches: usize,
        /// The step's loss.
        loss: f64,
    },
    /// One epoch finished.
    Epoch(EpochRecord),
    /// The stitched amplitude and phase of the preview groups. May be dropped when the listener is
    /// behind.
    Preview {
        /// After this epoch (or, with `batch`, during it).
        epoch: usize,
        /// Mid-epoch: the step reached and the steps per epoch (`None` after the epoch).
        batch: Option<(usize, usize)>,
        /// Amplitude.
        amplitude: HostImage,
        /// Phase, radians.
        phase: HostImage,
    },
    /// A line for the log.
    Log(String),
    /// The run ended (the model is saved when a directory was given).
    Finished {
        /// Why.
        reason: StopReason,
        /// Epochs in the model's history.
        epochs: usize,
    },
}

impl TrainEvent {
    /// Events a slow listener can miss without losing anything that matters.
    fn droppable(&self) -> bool {
        matches!(self, Self::Batch { .. } | Self::Preview { .. })
    }
}

/// The sending end: bounded, so a stalled listener slows training rather than filling memory;
/// batch and preview events are dropped instead of waiting. A listener that went away is ignored.
pub struct EventSender {
    sender: Option<SyncSender<TrainEvent>>,
    notify: Option<Box<dyn Fn() + Send>>,
}

impl std::fmt::Debug for EventSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSender")
            .field("connected", &self.sender.is_some())
            .finish()
    }
}

impl EventSender {
    /// A sender that discards everything.
    pub fn none() -> Self {
        Self {
            sender: None,
            notify: None,
        }
    }

    /// A bounded channel holding up to `capacity` events.
    pub fn channel(capacity: usize) -> (Self, Receiver<TrainEvent>) {
        let (sender, receiver) = sync_channel(capacity.max(1));
        (
            Self {
                sender: Some(sender),
                notify: None,
            },
            receiver,
        )
    }

    /// Sends into an existing bounded channel (a window's streaming job makes it).
    pub fn from_sender(sender: SyncSender<TrainEvent>) -> Self {
        Self {
            sender: Some(sender),
            notify: None,
        }
    }

    /// Calls `notify` after every delivered event (the window's `request_repaint`).
    #[must_use]
    pub fn with_notify(mut self, notify: impl Fn() + Send + 'static) -> Self {
        self.notify = Some(Box::new(notify));
        self
    }

    /// Sends `event`.
    pub fn send(&self, event: TrainEvent) {
        let Some(sender) = &self.sender else { return };
        let delivered = if event.droppable() {
            match sender.try_send(event) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            }
        } else {
            sender.send(event).is_ok()
        };
        if delivered && let Some(notify) = &self.notify {
            notify();
        }
    }

    /// Sends a log line and records it with `tracing`.
    pub fn log(&self, line: String) {
        tracing::info!("{line}");
        self.send(TrainEvent::Log(line));
    }

    /// Sends a warning (a log line starting "warning: ") and records it with `tracing`.
    pub fn warn(&self, line: &str) {
        tracing::warn!("{line}");
        self.send(TrainEvent::Log(format!("warning: {line}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_drops_batches_but_not_epochs() {
        let (sender, receiver) = EventSender::channel(1);
        sender.send(TrainEvent::Log("first".into()));
        // Full: the batch event is dropped rather than blocking.
        sender.send(TrainEvent::Batch {
            epoch: 1,
            batch: 1,
            batches: 1,
            loss: 0.0,
        });
        assert!(matches!(receiver.recv().unwrap(), TrainEvent::Log(_)));
        assert!(receiver.try_recv().is_err());
        drop(receiver);
        // Disconnected: nothing blocks, nothing panics.
        sender.send(TrainEvent::Log("nobody listens".into()));
    }
}
