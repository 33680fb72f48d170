//! The PtychoPINN network (physics.md §4): diffraction amplitudes in, object amplitude and phase
//! patches out.

use std::f32::consts::PI;

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, silu, tanh};

use super::blocks::{ConvPool, ConvPoolConfig, ConvUp, ConvUpConfig, conv3x3};
use super::conv::conv3x3_forward;

/// Channels of the decoder output that feed the border branch.
const BORDER_CHANNELS: usize = 4;

/// Configuration of [`PinnNet`], with the reference's defaults.
#[derive(Config, Debug)]
pub struct PinnNetConfig {
    /// Pattern size N (64, 128 or 256).
    pub n: usize,
    /// g: the network sees g² patterns per sample.
    #[config(default = 1)]
    pub gridsize: usize,
    /// Filter multiplier (`n_filters_scale`).
    #[config(default = 2)]
    pub n_filters_scale: usize,
    /// One output channel per input channel (true) or a single patch (false).
    #[config(default = true)]
    pub object_big: bool,
    /// The learned border branch ("probe.big").
    #[config(default = true)]
    pub probe_big: bool,
}

impl PinnNetConfig {
    /// Encoder levels: N / 2^levels = 8.
    pub fn levels(&self) -> usize {
        (self.n / 8).max(2).ilog2() as usize
    }

    /// Encoder filters, e.g. [64, 128, 256] at N = 64, nfs = 2.
    pub fn encoder_filters(&self) -> Vec<usize> {
        let levels = self.levels();
        (0..levels)
            .map(|i| (128 >> (levels - 1 - i)) * self.n_filters_scale)
            .collect()
    }

    /// Decoder filters per head, e.g. [128, 64] at N = 64, nfs = 2.
    pub fn decoder_filters(&self) -> Vec<usize> {
        let levels = self.levels();
        (0..levels - 1)
            .map(|i| (32 << (levels - 2 - i)) * self.n_filters_scale)
            .collect()
    }

    /// Output channels of each head.
    pub fn channels_out(&self) -> usize {
        if self.object_big {
            self.gridsize * self.gridsize
        } else {
            1
        }
    }

    /// Builds the network with Glorot-uniform weights on `device`.
    pub fn init(&self, device: &Device) -> PinnNet {
        let mut channels = self.gridsize * self.gridsize;
        let mut encoder = Vec::new();
        for filters in self.encoder_filters() {
            encoder.push(ConvPoolConfig::new(channels, filters).init(device));
            channels = filters;
        }
        let bottleneck = channels;
        let head = || Decoder::new(self, bottleneck, device);
        PinnNet {
            encoder,
            amplitude: head(),
            phase: head(),
            n: self.n,
        }
    }
}

/// One decoder head: upsampling blocks, the main 3×3 head and the optional border branch.
#[derive(Module, Debug)]
pub struct Decoder {
    ups: Vec<ConvUp>,
    head: Conv2d,
    border_up: Option<ConvUp>,
    border_head: Option<Conv2d>,
}

impl Decoder {
    fn new(config: &PinnNetConfig, bottleneck: usize, device: &Device) -> Self {
        let mut channels = bottleneck;
        let mut ups = Vec::new();
        for filters in config.decoder_filters() {
            ups.push(ConvUpConfig::new(channels, filters).init(device));
            channels = filters;
        }
        let c_out = config.channels_out();
        let (border_up, border_head) = if config.probe_big {
            let filters = config.n_filters_scale * 2048 / config.n;
            (
                Some(ConvUpConfig::new(BORDER_CHANNELS, filters).init(device)),
                Some(conv3x3(filters, c_out, device)),
            )
        } else {
            (None, None)
        };
        let head_in = if config.probe_big {
            channels - BORDER_CHANNELS
        } else {
            channels
        };
        Self {
            ups,
            head: conv3x3(head_in, c_out, device),
            border_up,
            border_head,
        }
    }

    /// # Shapes
    /// - features: `[b, bottleneck, 8, 8]` → `[b, c_out, n, n]`
    fn forward(
        &self,
        features: Tensor<4>,
        activation: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        let x = self.ups.iter().fold(features, |x, up| up.forward(x)); // [b, f, n/2, n/2]
        let [_, f, half, _] = x.dims();
        let quarter = half / 2;
        let (main_in, border_in) = match (&self.border_up, &self.border_head) {
            (Some(_), Some(_)) => (
                x.clone().slice(s![.., 0..f - BORDER_CHANNELS, .., ..]),
                Some(x.slice(s![.., f - BORDER_CHANNELS..f, .., ..])),
            ),
            _ => (x, None),
        };
        let main = activation(conv3x3_forward(&self.head, main_in))
            .pad([(quarter, quarter), (quarter, quarter)], 0.0); // [b, c, n, n]
        match (border_in, &self.border_up, &self.border_head) {
            (Some(b), Some(up), Some(head)) => {
                let border = silu(conv3x3_forward(head, up.forward(b))); // [b, c, n, n]
                let device = border.device();
                let centre = Tensor::<4>::ones([1, 1, half, half], &device)
                    .pad([(quarter, quarter), (quarter, quarter)], 0.0);
                let outside = centre.neg().add_scalar(1.0); // 1 outside the central n/2 square
                main + border * outside
            }
            _ => main,
        }
    }
}

/// The network: shared encoder, amplitude head (sigmoid), phase head (π·tanh).
#[derive(Module, Debug)]
pub struct PinnNet {
    encoder: Vec<ConvPool>,
    amplitude: Decoder,
    phase: Decoder,
    n: usize,
}

impl PinnNet {
    /// Predicts object amplitude and phase patches from normalised diffraction amplitudes.
    ///
    /// A single-pattern network (gridsize 1) given groups of c > 1 patterns predicts each
    /// pattern on its own and returns one patch per pattern: that is how it trains on groups of
    /// neighbours whose patches the forward model merges (`TrainConfig::overlap_groups`).
    ///
    /// # Shapes
    /// - x: `[b, g², n, n]` → (amplitude, phase), each `[b, c_out, n, n]`
    /// - single-pattern network, x: `[b, c, n, n]` → each `[b, c, n, n]`
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let [b, c, n, _] = x.dims();
        if c > 1 && self.channels_in() == 1 {
            let (amplitude, phase) = self.forward(x.reshape([b * c, 1, n, n]));
            return (amplitude.reshape([b, c, n, n]), phase.reshape([b, c, n, n]));
        }
        let features = self.encoder.iter().fold(x, |x, block| block.forward(x)); // [b, f, 8, 8]
        let amplitude = self.amplitude.forward(features.clone(), sigmoid);
        let phase = self.phase.forward(features, |t| tanh(t).mul_scalar(PI));
        (amplitude, phase)
    }

    /// Patterns the network takes per sample (g²).
    pub fn channels_in(&self) -> usize {
        self.encoder.first().map_or(1, ConvPool::channels_in)
    }

    /// Pattern size N.
    pub fn n(&self) -> usize {
        self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_plan_follows_the_table() {
        let c = |n| PinnNetConfig::new(n);
        assert_eq!(c(64).encoder_filters(), [64, 128, 256]);
        assert_eq!(c(64).decoder_filters(), [128, 64]);
        assert_eq!(c(128).encoder_filters(), [32, 64, 128, 256]);
        assert_eq!(c(128).decoder_filters(), [256, 128, 64]);
        assert_eq!(c(256).encoder_filters(), [16, 32, 64, 128, 256]);
        assert_eq!(c(256).decoder_filters(), [512, 256, 128, 64]);
    }

    #[test]
    fn parameter_count_matches_the_reference() {
        let net = PinnNetConfig::new(64).init(&Device::flex());
        let count = net.num_params();
        println!("parameters at N = 64, nfs = 2, gridsize 1: {count}");
        let reference = 2_331_772.0;
        assert!(
            (count as f64 - reference).abs() / reference < 0.01,
            "{count}"
        );
    }

    #[test]
    fn a_single_pattern_network_predicts_each_pattern_of_a_group_alone() {
        let device = Device::flex();
        let net = PinnNetConfig::new(64).with_n_filters_scale(1).init(&device);
        assert_eq!(net.channels_in(), 1);
        let x = Tensor::<4>::random(
            [2, 4, 64, 64],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let (amplitude, phase) = net.forward(x.clone());
        assert_eq!(amplitude.dims(), [2, 4, 64, 64]);
        let (alone_a, alone_p) = net.forward(x.slice(s![1..2, 2..3, .., ..]));
        let group_a = amplitude.slice(s![1..2, 2..3, .., ..]);
        let group_p = phase.slice(s![1..2, 2..3, .., ..]);
        let diff = |a: Tensor<4>, b: Tensor<4>| (a - b).abs().max().into_scalar::<f32>();
        assert!(diff(alone_a, group_a) < 1e-5);
        assert!(diff(alone_p, group_p) < 1e-5);
    }

    #[test]
    fn shapes_and_ranges() {
        let device = Device::flex();
        let net = PinnNetConfig::new(64).with_gridsize(2).init(&device);
        let x = Tensor::<4>::random(
            [2, 4, 64, 64],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let (amplitude, phase) = net.forward(x);
        assert_eq!(amplitude.dims(), [2, 4, 64, 64]);
        assert_eq!(phase.dims(), [2, 4, 64, 64]);
        let a = amplitude.try_into_vec_as::<f32>().unwrap();
        let p = phase.try_into_vec_as::<f32>().unwrap();
        // The centre comes from sigmoid and π·tanh; the border from the (unbounded) swish branch.
        assert!(a[32 * 64 + 32] > 0.0 && a[32 * 64 + 32] < 1.0);
        assert!(p.iter().take(64 * 64).all(|v| v.is_finite()));
        assert!(p[32 * 64 + 32].abs() <= PI);
    }
}
