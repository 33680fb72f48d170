//! Data-parallel training steps over a [`Collective`]: every process computes the gradients of its
//! share of the global batch, the shares' gradients (weighted by their sample counts) and their
//! losses are summed in one buffer, and every process then takes the same optimiser step as one
//! process with the whole batch would. Also the broadcast of the starting weights and the check
//! that the processes' weights still agree.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::TensorData;

use super::collective::Collective;

/// One process's gradients of its share of a batch.
pub(crate) struct LocalGrads {
    /// The network's gradients of the share's mean loss.
    pub network: GradientsParams,
    /// The trainable probe's, when it trains in this step.
    pub probe: Option<GradientsParams>,
    /// Σ over the share of the per-pixel loss (the full negative log-likelihood).
    pub loss_sum: f64,
    /// Groups in the share.
    pub count: usize,
}

/// What one step applies: the batch's gradients and loss, or why it stops.
pub(crate) struct StepGrads {
    /// The network's gradients of the whole batch's mean loss.
    pub network: GradientsParams,
    /// The trainable probe's.
    pub probe: Option<GradientsParams>,
    /// The whole batch's mean per-pixel loss.
    pub loss: f64,
    /// Groups in the whole batch.
    pub count: usize,
    /// Some process was asked to stop.
    pub stop: bool,
    /// Some process's loss was not finite.
    pub diverged: bool,
}

/// The flags and sums that travel after the gradients in the buffer.
const TRAILER: usize = 4;

/// Sums the processes' shares: each share's gradients are weighted by its group count, so the
/// result is the gradient of the whole batch's mean loss. `local` is `None` for a process with no
/// share (a batch smaller than the process count), one asked to stop, or one whose loss was not
/// finite (`diverged`). The network's and the probe's gradients, the counts, the loss and the
/// flags go in one buffer and one sum.
pub(crate) fn combine(
    comm: &dyn Collective,
    (network, probe): (&impl Module, Option<&impl Module>),
    local: Option<&LocalGrads>,
    (stop, diverged): (bool, bool),
) -> StepGrads {
    let count = local.map_or(0, |l| l.count);
    let weight = count as f64;
    let mut buffer = Vec::new();
    pack_gradients(
        network,
        local.as_ref().map(|l| &l.network),
        weight,
        &mut buffer,
    );
    if let Some(probe) = probe {
        let grads = local.and_then(|l| l.probe.as_ref());
        pack_gradients(probe, grads, weight, &mut buffer);
    }
    buffer.extend([
        weight,
        local.map_or(0.0, |l| l.loss_sum),
        f64::from(u8::from(stop)),
        f64::from(u8::from(diverged)),
    ]);
    comm.sum(&mut buffer);
    let trailer = &buffer[buffer.len() - TRAILER..];
    let (total, loss_sum) = (trailer[0], trailer[1]);
    let (stop, diverged) = (trailer[2] > 0.0, trailer[3] > 0.0);
    let scale = if total > 0.0 { 1.0 / total } else { 0.0 };
    let mut offset = 0;
    let network = unpack_gradients(network, &buffer, &mut offset, scale);
    let probe = probe.map(|p| unpack_gradients(p, &buffer, &mut offset, scale));
    StepGrads {
        network,
        probe,
        loss: loss_sum * scale,
        count: total.round() as usize,
        stop,
        diverged,
    }
}

impl StepGrads {
    /// One process's step: its gradients as they are.
    pub(crate) fn alone(local: Option<LocalGrads>, (stop, diverged): (bool, bool)) -> Self {
        match local {
            Some(l) => Self {
                loss: l.loss_sum / l.count.max(1) as f64,
                count: l.count,
                network: l.network,
                probe: l.probe,
                stop,
                diverged,
            },
            None => Self {
                network: GradientsParams::new(),
                probe: None,
                loss: f64::NAN,
                count: 0,
                stop,
                diverged,
            },
        }
    }
}

/// Sets every process's parameters of `module` to process 0's.
pub(crate) fn broadcast_parameters<M: Module>(comm: &dyn Collective, module: M) -> M {
    if comm.size() == 1 {
        return module;
    }
    let mut buffer = flatten_parameters(&module);
    comm.broadcast(&mut buffer);
    module.map(&mut LoadParameters {
        buffer: &buffer,
        offset: 0,
    })
}

/// The largest difference between this process's parameters of `module` and process 0's, the
/// same on every process (0 when they agree, as they must after identical steps).
pub(crate) fn parameter_spread(comm: &dyn Collective, module: &impl Module) -> f64 {
    if comm.size() == 1 {
        return 0.0;
    }
    let own = flatten_parameters(module);
    let mut first = own.clone();
    comm.broadcast(&mut first);
    let largest = own
        .iter()
        .zip(&first)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let mut total = [largest];
    comm.sum(&mut total);
    total[0]
}

/// `module`'s float parameters in visiting order, flattened.
pub fn flatten_parameters(module: &impl Module) -> Vec<f64> {
    struct Flatten<'a>(&'a mut Vec<f64>);
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let data = param.val().into_data();
            self.0.extend(data.iter::<f32>().map(f64::from));
        }
    }
    let mut out = Vec::new();
    module.visit(&mut Flatten(&mut out));
    out
}

/// Appends `grads` of `module`'s float parameters × `weight` to `out`, in visiting order; zeros
/// where a parameter has no gradient (or there are none), so every process packs the same length.
fn pack_gradients(
    module: &impl Module,
    grads: Option<&GradientsParams>,
    weight: f64,
    out: &mut Vec<f64>,
) {
    struct Pack<'a> {
        grads: Option<&'a GradientsParams>,
        weight: f64,
        out: &'a mut Vec<f64>,
    }
    impl ModuleVisitor for Pack<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            match self.grads.and_then(|g| g.get::<D>(param.id)) {
                Some(grad) => {
                    let data = grad.into_data();
                    self.out
                        .extend(data.iter::<f32>().map(|g| f64::from(g) * self.weight));
                }
                None => {
                    let len = param.val().shape().num_elements();
                    self.out.extend(std::iter::repeat_n(0.0, len));
                }
            }
        }
    }
    module.visit(&mut Pack { grads, weight, out });
}

/// The gradients of `module`'s float parameters read from `buffer` at `offset` (advanced past
/// them) × `scale`, on the parameters' devices without autodiff, as the optimiser takes them.
fn unpack_gradients(
    module: &impl Module,
    buffer: &[f64],
    offset: &mut usize,
    scale: f64,
) -> GradientsParams {
    struct Unpack<'a> {
        buffer: &'a [f64],
        offset: &'a mut usize,
        scale: f64,
        grads: GradientsParams,
    }
    impl ModuleVisitor for Unpack<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            let shape = value.shape();
            let len = shape.num_elements();
            let values: Vec<f32> = self.buffer[*self.offset..*self.offset + len]
                .iter()
                .map(|&g| (g * self.scale) as f32)
                .collect();
            *self.offset += len;
            let device = value.device().inner();
            let grad = Tensor::<D>::from_data(TensorData::new(values, shape), &device);
            self.grads.register(param.id, grad);
        }
    }
    let mut unpack = Unpack {
        buffer,
        offset,
        scale,
        grads: GradientsParams::new(),
    };
    module.visit(&mut unpack);
    unpack.grads
}

/// Replaces each float parameter with the next values of `buffer`, keeping its id, device and
/// whether it trains.
struct LoadParameters<'a> {
    buffer: &'a [f64],
    offset: usize,
}

impl ModuleMapper for LoadParameters<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let shape = tensor.shape();
            let len = shape.num_elements();
            let values: Vec<f32> = self.buffer[self.offset..self.offset + len]
                .iter()
                .map(|&v| v as f32)
                .collect();
            self.offset += len;
            let trains = tensor.is_require_grad();
            let loaded = Tensor::<D>::from_data(TensorData::new(values, shape), &tensor.device());
            if trains {
                loaded.require_grad()
            } else {
                loaded
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::{Linear, LinearConfig};

    use super::*;

    /// P identical processes in one: a sum multiplies by P, a broadcast sets process 0's values
    /// (`first`, when given).
    #[derive(Debug)]
    struct Identical {
        size: usize,
        first: Option<Vec<f64>>,
    }

    impl Collective for Identical {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            self.size
        }
        fn broadcast(&self, buffer: &mut [f64]) {
            if let Some(first) = &self.first {
                buffer.copy_from_slice(first);
            }
        }
        fn sum(&self, buffer: &mut [f64]) {
            for v in buffer {
                *v *= self.size as f64;
            }
        }
    }

    fn layer_and_grads() -> (Linear, GradientsParams) {
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_data([[1.0f32, 2.0, 3.0], [0.5, -1.0, 2.0]], &device);
        let loss = layer.forward(x).powf_scalar(2.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &layer);
        (layer, grads)
    }

    fn flat_grads(layer: &Linear, grads: &GradientsParams) -> Vec<f64> {
        let mut out = Vec::new();
        pack_gradients(layer, Some(grads), 1.0, &mut out);
        out
    }

    #[test]
    fn identical_shares_sum_to_the_same_gradient_count_and_loss() {
        let (layer, grads) = layer_and_grads();
        let own = flat_grads(&layer, &grads);
        assert_eq!(own.len(), 3 * 2 + 2);
        assert!(own.iter().any(|g| g.abs() > 1e-3), "a gradient to carry");
        let local = LocalGrads {
            network: grads,
            probe: None,
            loss_sum: 6.0,
            count: 3,
        };
        let comm = Identical {
            size: 4,
            first: None,
        };
        let step = combine(
            &comm,
            (&layer, None::<&Linear>),
            Some(&local),
            (false, false),
        );
        assert_eq!(step.count, 12);
        assert!((step.loss - 2.0).abs() < 1e-12, "{}", step.loss);
        assert!(!step.stop && !step.diverged);
        let summed = flat_grads(&layer, &step.network);
        for (a, b) in summed.iter().zip(&own) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} against {b}");
        }
        // A process with no share and a stop request: zeros, and the flag reaches every one.
        let step = combine(&comm, (&layer, None::<&Linear>), None, (true, false));
        assert!(step.stop && step.count == 0);
        assert!(flat_grads(&layer, &step.network).iter().all(|&g| g == 0.0));
    }

    #[test]
    fn broadcast_parameters_load_process_0s_and_keep_them_trainable() {
        let (layer, _) = layer_and_grads();
        let first: Vec<f64> = (0..8).map(|i| f64::from(i) * 0.25 - 1.0).collect();
        let comm = Identical {
            size: 2,
            first: Some(first.clone()),
        };
        let loaded = broadcast_parameters(&comm, layer);
        assert_eq!(flatten_parameters(&loaded), first);
        assert!(loaded.weight.val().is_require_grad());
        // Loaded weights still train: a backward pass reaches them.
        let x = Tensor::<2>::from_data([[1.0f32, 2.0, 3.0]], &loaded.weight.val().device());
        let loss = loaded.forward(x).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &loaded);
        assert_eq!(grads.len(), 2);
        assert_eq!(parameter_spread(&comm, &loaded), 0.0);
    }
}
