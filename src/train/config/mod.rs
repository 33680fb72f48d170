//! The whole training configuration (physics.md §2, §3, §5), saved with every model.

use crate::data::grouping::GroupingConfig;
use crate::model::PinnNetConfig;
use crate::physics::MergeMode;
use crate::physics::loss::LossWeights;
use crate::physics::merge::MergeWeights;

mod validate;

pub use validate::ConfigError;

/// The widest network a configuration may ask for (see [`TrainConfig::validate`]).
pub const MAX_FILTERS_SCALE: usize = 16;

/// Which loss early stopping watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Monitor {
    /// The training loss (the reference's choice).
    Train,
    /// The validation loss.
    Validation,
}

/// Adam's moment decays and ε (physics.md §5: Keras's defaults, ε = 1e-7; PyTorch's ε is 1e-8).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AdamSettings {
    /// Decay of the first moment (the gradient's running mean).
    pub beta_1: f32,
    /// Decay of the second moment (the squared gradient's running mean).
    pub beta_2: f32,
    /// Added to the second moment's square root in the step's denominator.
    pub epsilon: f32,
}

impl Default for AdamSettings {
    fn default() -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }
}

/// Everything that decides a training run. Serialised into the model directory's `config.json`;
/// missing fields take the defaults below, so older files stay readable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Pattern size N (set from the data).
    pub n: usize,
    /// g: patterns per group side (1 or 2).
    pub gridsize: usize,
    /// Filter multiplier of the network.
    pub n_filters_scale: usize,
    /// One object patch per channel, merged in the forward model (gridsize > 1).
    pub object_big: bool,
    /// The learned border branch of the network.
    pub probe_big: bool,
    /// Normalise the probe over the central disk of radius N/4 only.
    pub probe_mask: bool,
    /// The |P|²-weighted rms object amplitude the probe's scale is set for: after physics.md
    /// §3.3's normalisation the probe is multiplied by one constant per run, so that an object
    /// of this rms amplitude explains the data's energy. The network's amplitude is a sigmoid
    /// (≤ 1); §3.3 alone leaves the operating point to the probe's shape (the reference's own
    /// probe: 0.64; the real Siemens star's: 1.09, past the bound, where the amplitude
    /// saturates and goes flat). `None`: §3.3 alone, as models written before this setting.
    #[serde(default = "trained_before_amplitude_target")]
    pub amplitude_target: Option<f64>,
    /// Before training, this many sweeps of ePIE check the scan's probe against the training
    /// scan, once held fixed and once refined ([`crate::epie::probe_choice`]); 0: no check, the
    /// scan's probe as it is. Whether the refined probe replaces the scan's is
    /// `probe_from_epie_always`'s. On by default: a measured probe guess is often far from what
    /// the data ask for (the real Siemens star: ePIE's fit 6.7× better refined), and the network
    /// trains a probe far more slowly than ePIE refines it (docs/measured-scans.md). A
    /// `config.json` that does not name it was written before it existed: 0.
    #[serde(default)]
    pub probe_from_epie: usize,
    /// With `probe_from_epie`: train with ePIE's refined probe whatever the check says (`true`,
    /// as runs did before the check existed), or only when it explains the scan at least
    /// [`crate::epie::probe_choice::REFINED_PROBE_GAIN`] times better than the scan's own
    /// (`false`, the default: an exact probe, as a simulation has, is kept).
    #[serde(default = "refined_probe_always_before_the_check")]
    pub probe_from_epie_always: bool,
    /// Optimise the probe jointly with the network (its own Adam, the same loss), starting from
    /// the scan's probe (or ePIE's, with `probe_from_epie`). Its normalisation (§3.3) is kept
    /// inside the graph, so only its shape and phase are learned. The learned probe is saved
    /// with the model. On by default: a measured probe guess is never exact (the real Siemens
    /// star: phase Pearson against ePIE 0.908 trained, 0.715 fixed; docs/quality.md). A
    /// `config.json` written before the default changed was trained with it fixed.
    #[serde(default = "trained_before_train_probe_default")]
    pub train_probe: bool,
    /// The probe's Adam learning rate; the plateau schedule lowers it by the network's factor.
    /// At this default (1e-3) the probe learns too slowly to explain the real Siemens star's
    /// bright field: 1e-2 fits it better (docs/measured-scans.md), but disturbs a short
    /// single-pattern run with an exact probe, so the default is unchanged.
    pub probe_learning_rate: f64,
    /// The first epoch whose steps update the probe (1: from the start); before it the network
    /// learns an object against the probe as given.
    pub probe_start_epoch: usize,
    /// Refine the scan positions while training (gridsize 1): after each epoch from
    /// `position_start_epoch` on, every pattern's predicted patch is registered against the
    /// object its neighbours stitch (a search over ±`position_search_px`, then sub-pixel), the
    /// mean displacement pinned. Overlap groups merge at the refined positions; the model keeps
    /// them for the stitch of the same scan. Experimental and off: the network's independently
    /// predicted patches do not agree with their neighbours' stitch closely enough to be
    /// registered (started from the true positions of `lines-512-positions`, a model's patches
    /// drift to 11.6 px RMS; docs/positions.md).
    #[serde(default)]
    pub train_positions: bool,
    /// The first epoch after which positions are refined.
    #[serde(default = "default_position_start_epoch")]
    pub position_start_epoch: usize,
    /// The registration's search radius, pixels (0: N/2).
    #[serde(default)]
    pub position_search_px: usize,
    /// How overlapping channels are weighted in the gridsize > 1 merge (the reference's
    /// central N/2 box by default).
    pub merge_weights: MergeWeights,
    /// How the four patches of an overlap group ([`TrainConfig::overlap_groups`]) are weighted
    /// where they overlap: by the probe's intensity |P|² by default. The central box leaves a
    /// patch's outer ring to its neighbours' boxes alone and averages disagreeing patches with
    /// equal weight; |P|² weighs each pixel by how much light it got. Measured on lines-512,
    /// phase Pearson after 2 epochs: see docs/quality.md. A model directory
    /// written before the setting existed was trained with the box.
    #[serde(default = "trained_before_overlap_merge_weights")]
    pub overlap_merge_weights: MergeWeights,
    /// Gridsize 1 only: train the single-pattern network on groups of 2 × 2 neighbouring
    /// patterns, each predicted on its own, whose patches the forward model merges before
    /// diffraction as at gridsize 2 (physics.md §3.2), so overlapping patches must agree.
    /// One pattern cannot tell the object from its twin Ō(c − r) when the probe is real and
    /// centro-symmetric (the §9 probe is); overlapping ones can. The model stays a gridsize-1
    /// model: inference predicts every pattern alone. `n_groups` and `batch_size` count groups
    /// of four. On by default; a model directory written before the setting existed was
    /// trained without it, and reads back so.
    #[serde(default = "trained_before_overlap_groups")]
    pub overlap_groups: bool,
    /// Groups drawn for training (all patterns when ≥ M).
    pub n_groups: usize,
    /// K: neighbours considered around each seed (gridsize > 1).
    pub neighbor_count: usize,
    /// Groups per optimiser step.
    pub batch_size: usize,
    /// Maximum epochs.
    pub nepochs: usize,
    /// Adam's starting learning rate.
    pub learning_rate: f64,
    /// Adam's β₁, β₂ and ε.
    pub adam: AdamSettings,
    /// Optimiser steps over which the learning rate ramps linearly from learning_rate / steps
    /// up to learning_rate (0: no warm-up). Adam's first steps move every weight by about the
    /// full rate at once; without a ramp they switch off a third of the ReLU units before the
    /// network has seen the data (see docs/quality.md).
    pub warmup_steps: usize,
    /// The plateau schedule never goes below this.
    pub min_learning_rate: f64,
    /// The plateau schedule multiplies the rate by this.
    pub plateau_factor: f64,
    /// Epochs without a validation improvement before the rate drops.
    pub plateau_patience: usize,
    /// Epochs without improvement before training stops (0: never stop early).
    pub early_stopping_patience: usize,
    /// The loss early stopping watches.
    pub early_stopping_monitor: Monitor,
    /// Fraction of the groups held out for validation when no test file is given.
    pub validation_fraction: f64,
    /// Photons per pattern that set the intensity scale s = √nphotons / (N/2).
    pub nphotons: f64,
    /// Weights of the loss terms.
    pub loss: LossWeights,
    /// Seed of the weights, the grouping, the split and the batch order.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            n: 64,
            gridsize: 1,
            n_filters_scale: 2,
            object_big: true,
            probe_big: true,
            probe_mask: false,
            amplitude_target: Some(DEFAULT_AMPLITUDE_TARGET),
            probe_from_epie: crate::epie::probe_choice::DEFAULT_CHECK_SWEEPS,
            probe_from_epie_always: false,
            train_probe: true,
            probe_learning_rate: 1e-3,
            probe_start_epoch: 1,
            train_positions: false,
            position_start_epoch: default_position_start_epoch(),
            position_search_px: 0,
            merge_weights: MergeWeights::CentralBox,
            overlap_merge_weights: MergeWeights::ProbeIntensity,
            overlap_groups: true,
            n_groups: 512,
            neighbor_count: 4,
            batch_size: 16,
            nepochs: 50,
            learning_rate: 1e-3,
            adam: AdamSettings::default(),
            warmup_steps: 0,
            min_learning_rate: 1e-4,
            plateau_factor: 0.5,
            plateau_patience: 2,
            early_stopping_patience: 3,
            early_stopping_monitor: Monitor::Train,
            validation_fraction: 0.05,
            nphotons: 1e9,
            loss: LossWeights::default(),
            seed: 42,
        }
    }
}

/// The default [`TrainConfig::amplitude_target`]: the operating point §3.3's normalisation
/// gives the reference's own probe (`reference_lines/`: 0.639), where the network was validated
/// and its sigmoid is near its steepest, with room for brighter pixels.
pub const DEFAULT_AMPLITUDE_TARGET: f64 = 0.64;

/// `amplitude_target` of a `config.json` that does not name it: written before the setting
/// existed, when §3.3's normalisation alone set the probe's scale.
fn trained_before_amplitude_target() -> Option<f64> {
    None
}

/// `probe_from_epie_always` of a `config.json` that does not name it: written before the
/// check existed, when a non-zero `probe_from_epie` always replaced the scan's probe.
fn refined_probe_always_before_the_check() -> bool {
    true
}

/// `train_probe` of a `config.json` that does not name it: written before the setting existed,
/// when the probe was always held fixed.
fn trained_before_train_probe_default() -> bool {
    false
}

/// The first epoch after which positions are refined: the network needs an epoch to predict
/// patches worth registering.
fn default_position_start_epoch() -> usize {
    2
}

/// `overlap_groups` of a `config.json` that does not name it (written before it existed).
fn trained_before_overlap_groups() -> bool {
    false
}

/// `overlap_merge_weights` of a `config.json` that does not name it (written before it existed,
/// when overlap groups merged with the central box).
fn trained_before_overlap_merge_weights() -> MergeWeights {
    MergeWeights::CentralBox
}

impl TrainConfig {
    /// Whether a network trained with `other` has this configuration's shape (N, gridsize,
    /// n_filters_scale, object_big, probe_big), so its weights fit.
    pub fn same_architecture(&self, other: &Self) -> bool {
        self.n == other.n
            && self.gridsize == other.gridsize
            && self.n_filters_scale == other.n_filters_scale
            && self.object_big == other.object_big
            && self.probe_big == other.probe_big
    }

    /// The network's shape in words, e.g. "N 64, gridsize 1, n_filters_scale 2".
    pub fn architecture_label(&self) -> String {
        format!(
            "N {}, gridsize {}, n_filters_scale {}",
            self.n, self.gridsize, self.n_filters_scale
        )
    }

    /// This configuration with `other`'s network shape (see [`Self::same_architecture`]).
    pub fn with_architecture_of(self, other: &Self) -> Self {
        Self {
            n: other.n,
            gridsize: other.gridsize,
            n_filters_scale: other.n_filters_scale,
            object_big: other.object_big,
            probe_big: other.probe_big,
            ..self
        }
    }

    /// The network this configuration trains.
    pub fn network(&self) -> PinnNetConfig {
        PinnNetConfig::new(self.n)
            .with_gridsize(self.gridsize)
            .with_n_filters_scale(self.n_filters_scale)
            .with_object_big(self.object_big)
            .with_probe_big(self.probe_big)
    }

    /// The side of a training group: the gridsize, or 2 for a gridsize-1 network trained on
    /// overlapping groups ([`TrainConfig::overlap_groups`]).
    pub fn group_side(&self) -> usize {
        if self.overlap_groups && self.gridsize == 1 {
            2
        } else {
            self.gridsize
        }
    }

    /// The training grouping.
    pub fn grouping(&self) -> GroupingConfig {
        GroupingConfig {
            n_groups: self.n_groups,
            neighbor_count: self.neighbor_count,
            gridsize: self.group_side(),
            seed: self.seed,
        }
    }

    /// The forward model's merge.
    pub fn merge_mode(&self) -> MergeMode {
        if self.gridsize == 1 && self.overlap_groups {
            MergeMode::On(self.overlap_merge_weights)
        } else if self.gridsize > 1 && self.object_big {
            MergeMode::On(self.merge_weights)
        } else {
            MergeMode::Off
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_json() {
        let config = TrainConfig::default();
        config.validate().unwrap();
        let text = serde_json::to_string(&config).unwrap();
        let back: TrainConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config);
        // Missing fields take defaults.
        let partial: TrainConfig = serde_json::from_str(r#"{"n": 128}"#).unwrap();
        assert_eq!(partial.n, 128);
        assert_eq!(partial.batch_size, 16);
        // Written before the settings existed: the probe was fixed and §3.3 alone set its
        // scale, so an old model keeps its meaning; a new run gets the target.
        assert!(!partial.train_probe);
        assert_eq!(partial.amplitude_target, None);
        // A `probe_from_epie` of an older model always replaced the scan's probe.
        assert_eq!(partial.probe_from_epie, 0);
        assert!(partial.probe_from_epie_always);
        assert!(!config.probe_from_epie_always);
        assert_eq!(config.amplitude_target, Some(DEFAULT_AMPLITUDE_TARGET));
        let bad = TrainConfig {
            amplitude_target: Some(1.2),
            ..TrainConfig::default()
        };
        assert!(bad.validate().is_err_and(|e| e.field == "amplitude_target"));
    }

    #[test]
    fn overlap_groups_train_a_single_pattern_network_on_merged_groups_of_four() {
        let config = TrainConfig::default();
        assert!(config.overlap_groups);
        assert_eq!(config.grouping().gridsize, 2);
        assert_eq!(config.network().gridsize, 1);
        assert!(matches!(config.merge_mode(), MergeMode::On(_)));
        let single = TrainConfig {
            overlap_groups: false,
            ..TrainConfig::default()
        };
        assert_eq!(single.merge_mode(), MergeMode::Off);
        assert_eq!(single.grouping().gridsize, 1);
        // A config.json from before the setting was trained on single patterns.
        let old: TrainConfig = serde_json::from_str(r#"{"n": 64}"#).unwrap();
        assert!(!old.overlap_groups);
        // Overlap groups merge by the probe's intensity; gridsize 2 keeps the reference's box.
        assert_eq!(
            config.merge_mode(),
            MergeMode::On(MergeWeights::ProbeIntensity)
        );
        let boxed: TrainConfig =
            serde_json::from_str(r#"{"n": 64, "overlap_groups": true}"#).unwrap();
        assert_eq!(boxed.merge_mode(), MergeMode::On(MergeWeights::CentralBox));
        // At gridsize 2 the merge is there already; the flag changes nothing.
        let g2 = TrainConfig {
            gridsize: 2,
            ..config
        };
        assert_eq!(g2.group_side(), 2);
        assert_eq!(g2.network().gridsize, 2);
        assert_eq!(g2.merge_mode(), MergeMode::On(MergeWeights::CentralBox));
    }

    #[test]
    fn a_config_json_without_adam_settings_gets_the_keras_ones() {
        let old: TrainConfig = serde_json::from_str(r#"{"n": 64}"#).unwrap();
        assert_eq!(old.adam, AdamSettings::default());
        assert_eq!(old.adam.epsilon, 1e-7);
        let partial: TrainConfig = serde_json::from_str(r#"{"adam": {"epsilon": 1e-8}}"#).unwrap();
        assert_eq!(partial.adam.beta_1, 0.9);
        assert_eq!(partial.adam.epsilon, 1e-8);
    }
}
