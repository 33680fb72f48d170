//! What changes during a training run (the network, its optimiser, the learned probe, the
//! schedule, the history), and the model it saves.

use burn::module::Module;

use super::bundle::{Manifest, ModelBundle};
use super::control::TrainControl;
use super::events::EpochRecord;
use super::positions::ScanPositions;
use super::probe_param::TrainableProbe;
use super::schedule::Schedule;
use super::step::Setup;
use crate::data::Dataset;
use crate::model::PinnNet;

/// What changes during a run.
pub(super) struct RunState {
    pub(super) network: PinnNet,
    pub(super) optimizer: burn::optim::ModuleOptimizer,
    /// The trainable probe and its own Adam (`train_probe`); its moments are not saved, so a
    /// resumed run restarts them.
    pub(super) learned_probe: Option<(TrainableProbe, burn::optim::ModuleOptimizer)>,
    pub(super) schedule: Schedule,
    pub(super) history: Vec<EpochRecord>,
    /// The network after the last finished epoch (inference mode).
    pub(super) last_good: Option<PinnNet>,
    /// The training scan's positions as refined so far (`train_positions`).
    pub(super) positions: Option<Vec<[f64; 2]>>,
    /// The finished model's fit to its training scan.
    pub(super) training_fit: Option<super::bundle::TrainingFit>,
}

impl RunState {
    pub(super) fn bundle(
        &self,
        setup: &Setup<'_>,
        control: &TrainControl,
        probe: &Dataset,
    ) -> ModelBundle {
        let network = self
            .last_good
            .clone()
            .unwrap_or_else(|| self.network.valid());
        ModelBundle {
            manifest: Manifest {
                format: super::bundle::FORMAT_NAME.into(),
                format_version: super::bundle::FORMAT_VERSION,
                app_version: env!("CARGO_PKG_VERSION").into(),
                config: setup.config.clone(),
                normalization_factor: setup.splits.train.factor,
                intensity_scale: f64::from(setup.forward.intensity_scale()),
                parameters: network.num_params(),
                training_data: control.training_data.clone(),
                schedule: self.schedule.clone(),
                trained_on: Some(setup.device_label.clone()),
                training_fit: self.training_fit,
                probe_gain: f64::from(setup.probe_gain),
                probe_check: setup.probe_check,
            },
            network,
            probe: self.learned_probe.as_ref().map_or_else(
                || probe.probe().clone(),
                |(learned, _)| learned.to_host(setup.config.probe_mask, setup.probe_to_scan_scale),
            ),
            history: self.history.clone(),
            optimizer: self.optimizer.into_bytes().ok().map(|b| b.to_vec()),
            positions: self.positions.as_ref().map(|refined| ScanPositions {
                given: probe.positions_px().to_vec(),
                refined: refined.clone(),
            }),
        }
    }
}
