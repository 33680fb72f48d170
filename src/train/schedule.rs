//! The learning-rate schedule and early stopping (physics.md §5), as plain state that is saved
//! with the model so a resumed run carries on where it stopped.
//!
//! ReduceLROnPlateau (Keras semantics): an epoch improves when its loss is below the best by more
//! than `MIN_DELTA`; after `patience` epochs without improvement the rate is multiplied by the
//! factor (never below the floor) and the count restarts. Early stopping counts the same way on
//! its own monitor and stops after `patience` epochs without improvement.

use super::config::{Monitor, TrainConfig};

/// The smallest decrease that counts as an improvement (Keras' default `min_delta`).
pub const MIN_DELTA: f64 = 1e-4;

/// Schedule state after some epochs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Schedule {
    /// The learning rate of the next epoch.
    pub learning_rate: f64,
    /// Best loss the plateau rule has seen (none before the first epoch).
    pub plateau_best: Option<f64>,
    /// Epochs since it improved.
    pub plateau_wait: usize,
    /// Best loss early stopping has seen.
    pub stop_best: Option<f64>,
    /// Epochs since it improved.
    pub stop_wait: usize,
}

/// What the schedule decided after an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The rate was lowered to this.
    pub new_learning_rate: Option<f64>,
    /// Early stopping says stop.
    pub stop: bool,
}

impl Schedule {
    /// The state before the first epoch.
    pub fn new(config: &TrainConfig) -> Self {
        Self {
            learning_rate: config.learning_rate,
            plateau_best: None,
            plateau_wait: 0,
            stop_best: None,
            stop_wait: 0,
        }
    }

    /// Updates the state with an epoch's losses. The plateau rule watches the validation loss
    /// (the training loss when there is no validation set, i.e. `val_loss` is NaN).
    pub fn step(&mut self, config: &TrainConfig, train_loss: f64, val_loss: f64) -> Decision {
        let plateau_loss = if val_loss.is_finite() {
            val_loss
        } else {
            train_loss
        };
        let mut decision = Decision {
            new_learning_rate: None,
            stop: false,
        };
        if improves(plateau_loss, self.plateau_best) {
            self.plateau_best = Some(plateau_loss);
            self.plateau_wait = 0;
        } else {
            self.plateau_wait += 1;
            if self.plateau_wait >= config.plateau_patience.max(1) {
                let lowered =
                    (self.learning_rate * config.plateau_factor).max(config.min_learning_rate);
                if lowered < self.learning_rate {
                    self.learning_rate = lowered;
                    decision.new_learning_rate = Some(lowered);
                }
                self.plateau_wait = 0;
            }
        }
        let stop_loss = match config.early_stopping_monitor {
            Monitor::Validation if val_loss.is_finite() => val_loss,
            _ => train_loss,
        };
        if improves(stop_loss, self.stop_best) {
            self.stop_best = Some(stop_loss);
            self.stop_wait = 0;
        } else {
            self.stop_wait += 1;
            decision.stop = config.early_stopping_patience > 0
                && self.stop_wait >= config.early_stopping_patience;
        }
        decision
    }
}

/// True when `loss` beats `best` by more than [`MIN_DELTA`] (any finite loss beats none).
fn improves(loss: f64, best: Option<f64>) -> bool {
    loss.is_finite() && best.is_none_or(|best| loss < best - MIN_DELTA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_halves_after_patience_and_respects_the_floor() {
        let config = TrainConfig {
            learning_rate: 1e-3,
            min_learning_rate: 4e-4,
            early_stopping_patience: 0,
            ..TrainConfig::default()
        };
        let mut s = Schedule::new(&config);
        assert_eq!(s.step(&config, 1.0, 1.0).new_learning_rate, None);
        assert_eq!(s.step(&config, 1.0, 1.0).new_learning_rate, None);
        assert_eq!(s.step(&config, 1.0, 1.0).new_learning_rate, Some(5e-4));
        assert_eq!(s.step(&config, 1.0, 1.0).new_learning_rate, None);
        assert_eq!(s.step(&config, 1.0, 1.0).new_learning_rate, Some(4e-4));
        s.step(&config, 1.0, 1.0);
        // At the floor: no further change is reported.
        assert_eq!(s.step(&config, 1.0, 1.0).new_learning_rate, None);
        assert!((s.learning_rate - 4e-4).abs() < 1e-15);
        // An improvement resets the count.
        assert_eq!(s.step(&config, 1.0, 0.5).new_learning_rate, None);
        assert_eq!(s.plateau_wait, 0);
    }

    #[test]
    fn early_stopping_counts_epochs_without_improvement() {
        let config = TrainConfig {
            early_stopping_patience: 3,
            early_stopping_monitor: Monitor::Train,
            ..TrainConfig::default()
        };
        let mut s = Schedule::new(&config);
        assert!(!s.step(&config, 1.0, f64::NAN).stop);
        assert!(!s.step(&config, 0.9, f64::NAN).stop);
        assert!(!s.step(&config, 0.95, f64::NAN).stop);
        assert!(!s.step(&config, 0.9, f64::NAN).stop);
        assert!(s.step(&config, 0.91, f64::NAN).stop);
        // Off when the patience is 0.
        let off = TrainConfig {
            early_stopping_patience: 0,
            ..config
        };
        let mut s = Schedule::new(&off);
        assert!((0..10).all(|_| !s.step(&off, 1.0, 1.0).stop));
    }
}
