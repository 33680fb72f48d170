//! [`TrainConfig::validate`]: every setting checked before a run starts, the error naming the
//! first bad one.

use super::{MAX_FILTERS_SCALE, TrainConfig};

/// A configuration that cannot train.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid training setting {field} = {value}: {reason}")]
pub struct ConfigError {
    /// The setting.
    pub field: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl TrainConfig {
    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !crate::data::dataset::SUPPORTED_N.contains(&self.n) {
            return bad("n", &self.n, "the network exists for N = 64, 128 and 256");
        }
        if !(1..=3).contains(&self.gridsize) {
            return bad("gridsize", &self.gridsize, "must be 1, 2 or 3");
        }
        if self.gridsize > 1 && !self.object_big {
            return bad(
                "object_big",
                &self.object_big,
                "gridsize > 1 needs object_big (one patch per channel)",
            );
        }
        if !(1..=MAX_FILTERS_SCALE).contains(&self.n_filters_scale) {
            // The parameters grow as its square: 16 is 150 M of them at N = 64, far past any
            // network the reference trains (it uses 2), and still within memory.
            return bad(
                "n_filters_scale",
                &self.n_filters_scale,
                "must be in 1..=16",
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", &self.batch_size, "must be ≥ 1");
        }
        if self.n_groups == 0 {
            return bad("n_groups", &self.n_groups, "must be ≥ 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", &self.learning_rate, "must be > 0");
        }
        self.validate_probe_and_positions()?;
        let adam = self.adam;
        if !(0.0..1.0).contains(&adam.beta_1) {
            return bad("adam.beta_1", &adam.beta_1, "must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&adam.beta_2) {
            return bad("adam.beta_2", &adam.beta_2, "must be in [0, 1)");
        }
        if !(adam.epsilon.is_finite() && adam.epsilon > 0.0) {
            return bad("adam.epsilon", &adam.epsilon, "must be > 0");
        }
        if !(self.min_learning_rate.is_finite() && self.min_learning_rate >= 0.0) {
            return bad("min_learning_rate", &self.min_learning_rate, "must be ≥ 0");
        }
        if !(self.plateau_factor > 0.0 && self.plateau_factor <= 1.0) {
            return bad("plateau_factor", &self.plateau_factor, "must be in (0, 1]");
        }
        if !(0.0..1.0).contains(&self.validation_fraction) {
            return bad(
                "validation_fraction",
                &self.validation_fraction,
                "must be in [0, 1)",
            );
        }
        if !(self.nphotons.is_finite() && self.nphotons > 0.0) {
            return bad("nphotons", &self.nphotons, "must be > 0");
        }
        let w = self.loss;
        if [w.nll, w.mae, w.tv, w.own_patch_nll]
            .iter()
            .any(|v| !v.is_finite() || *v < 0.0)
        {
            return bad("loss weights", &format!("{w:?}"), "must be finite and ≥ 0");
        }
        if w.nll + w.mae == 0.0 {
            return bad(
                "loss weights",
                &format!("{w:?}"),
                "the NLL or the MAE weight must be > 0 (the data must enter the loss)",
            );
        }
        Ok(())
    }

    /// The checks of the probe's and the positions' refinement settings.
    fn validate_probe_and_positions(&self) -> Result<(), ConfigError> {
        if self.train_probe
            && !(self.probe_learning_rate.is_finite() && self.probe_learning_rate > 0.0)
        {
            return bad(
                "probe_learning_rate",
                &self.probe_learning_rate,
                "must be > 0 when the probe is trained",
            );
        }
        if let Some(target) = self.amplitude_target
            && !(target.is_finite() && target > 0.0 && target < 1.0)
        {
            return bad(
                "amplitude_target",
                &target,
                "must be in (0, 1): the network's amplitude is a sigmoid",
            );
        }
        if self.train_positions && self.gridsize != 1 {
            return bad(
                "train_positions",
                &self.train_positions,
                "position refinement needs gridsize 1 (one predicted patch per pattern)",
            );
        }
        if self.position_start_epoch == 0 {
            return bad(
                "position_start_epoch",
                &self.position_start_epoch,
                "epochs count from 1",
            );
        }
        if self.probe_start_epoch == 0 {
            return bad(
                "probe_start_epoch",
                &self.probe_start_epoch,
                "epochs count from 1",
            );
        }
        Ok(())
    }
}

/// The error for `field` = `value`.
fn bad(field: &'static str, value: &dyn ToString, reason: &'static str) -> Result<(), ConfigError> {
    Err(ConfigError {
        field,
        value: value.to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::super::AdamSettings;
    use super::*;

    #[test]
    fn bad_settings_are_named() {
        let e = TrainConfig {
            n: 100,
            ..TrainConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "n");
        let e = TrainConfig {
            batch_size: 0,
            ..TrainConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("batch_size"));
        let e = TrainConfig {
            adam: AdamSettings {
                beta_2: 1.0,
                ..AdamSettings::default()
            },
            ..TrainConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field, "adam.beta_2");
    }
}
