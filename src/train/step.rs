//! What one optimiser step computes, apart from the loop that takes the steps: the weighted loss
//! of a batch of groups through the network and the forward model (physics.md §4), and the mean
//! loss over a set with the network in inference mode.

use burn::module::Module;
use burn::prelude::*;

use super::config::TrainConfig;
use super::probe_param::TrainableProbe;
use super::split::{GroupSet, Splits};
use crate::data::DatasetError;
use crate::infer::predict::to_tensor;
use crate::model::PinnNet;
use crate::physics::loss::{amplitude_mae, poisson_deviance, total_variation};
use crate::physics::{CTensor, ForwardModel};

/// The loss of one batch (a tensor on the batch's device) and the constant that makes it the full
/// Poisson negative log-likelihood per pixel, λ − k·ln λ + lnΓ(k + 1).
pub(crate) struct BatchLoss {
    /// The weighted loss the optimiser minimises.
    pub loss: Tensor<1>,
    /// The per-pixel constant the loss leaves out.
    pub constant: f64,
}

/// Everything fixed during a run: the settings, the forward model and the groups.
pub(crate) struct Setup<'a> {
    /// The run's settings.
    pub config: &'a TrainConfig,
    /// The differentiable forward model with the run's probe.
    pub forward: ForwardModel,
    /// Scan probe = normalised probe × this (the inverse of the §3.3 factor), to save a learned
    /// probe at the scan's scale.
    pub probe_to_scan_scale: f32,
    /// The §3.3-normalised probe times this is the forward model's (the operating point of
    /// [`TrainConfig::amplitude_target`]); the fixed probe in `forward` has it already.
    pub probe_gain: f32,
    /// How the starting probe was chosen, when ePIE checked it.
    pub probe_check: Option<super::bundle::ProbeCheckRecord>,
    /// The training and validation groups.
    pub splits: Splits<'a>,
    /// The training device, as the model records it.
    pub device_label: String,
}

impl Setup<'_> {
    /// The weighted loss of `rows` of `set` through `network`, on `device`, with the trainable
    /// `probe` in the forward model when there is one (else the run's fixed probe), and the
    /// overlap groups merged at `positions` (refined, one per pattern of the set's dataset) when
    /// given (else at the dataset's).
    pub fn batch_loss(
        &self,
        network: &PinnNet,
        (probe, positions): (Option<&TrainableProbe>, Option<&[[f64; 2]]>),
        set: &GroupSet<'_>,
        rows: &[usize],
        device: &Device,
    ) -> Result<BatchLoss, DatasetError> {
        let weights = self.config.loss;
        let learned;
        let forward = match probe {
            Some(probe) => {
                learned = self.forward.with_probe(
                    &probe
                        .normalized(self.config.probe_mask)
                        .scale(self.probe_gain),
                );
                &learned
            }
            None => &self.forward,
        };
        let x = to_tensor(&set.inputs(rows)?, device); // [b, c, n, n]
        let coords = match positions {
            Some(positions) => set.coords_relative_at(rows, positions),
            None => set.groups.coords_relative_rows(rows),
        };
        let (amplitude, phase) = network.forward(x.clone());
        let object = CTensor::new(
            amplitude.clone() * phase.clone().cos(),
            amplitude * phase.sin(),
        );
        let s = forward.intensity_scale();
        let mut loss = Tensor::<1>::zeros([1], device);
        let own_patch = if forward.merges() {
            weights.own_patch_nll
        } else {
            0.0
        };
        if weights.nll > 0.0 || own_patch > 0.0 {
            let observed = x.clone().powf_scalar(2.0).mul_scalar(s * s);
            if weights.nll > 0.0 {
                let predicted = forward.intensity(&object, &coords);
                loss = loss + poisson_deviance(predicted, observed.clone()).mul_scalar(weights.nll);
            }
            if own_patch > 0.0 {
                let predicted = forward.unmerged().intensity(&object, &coords);
                loss = loss + poisson_deviance(predicted, observed).mul_scalar(own_patch);
            }
        }
        if weights.mae > 0.0 {
            let predicted = forward.amplitude(&object, &coords);
            loss = loss + amplitude_mae(predicted, x).mul_scalar(weights.mae);
        }
        if weights.tv > 0.0 {
            loss = loss + total_variation(&object).mul_scalar(weights.tv);
        }
        Ok(BatchLoss {
            loss,
            constant: f64::from(weights.nll + own_patch) * set.offset_mean(rows),
        })
    }

    /// The summed loss and the group count of process `rank`'s share (of `size`) of `set`, as
    /// [`Self::evaluate`] weighs them: the shares' sums add up to the whole set's.
    pub fn evaluate_share(
        &self,
        network: &PinnNet,
        (probe, positions): (Option<&TrainableProbe>, Option<&[[f64; 2]]>),
        set: &GroupSet<'_>,
        device: &Device,
        (rank, size): (usize, usize),
    ) -> Result<[f64; 2], DatasetError> {
        let network = network.valid();
        let probe = probe.map(Module::valid);
        let rows = super::collective::share(&set.rows, rank, size);
        let (mut total, mut count) = (0.0, 0usize);
        for rows in rows.chunks(self.config.batch_size) {
            let batch =
                self.batch_loss(&network, (probe.as_ref(), positions), set, rows, device)?;
            let value = f64::from(batch.loss.into_scalar::<f32>());
            total += (value + batch.constant) * rows.len() as f64;
            count += rows.len();
        }
        Ok([total, count as f64])
    }
}

/// `total / count`, NaN when nothing was counted.
pub(crate) fn mean(total: f64, count: usize) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    }
}
