//! The two building blocks: ConvPool (two 3×3 conv + ReLU, max-pool 2) and ConvUp (two 3×3
//! conv + ReLU, nearest upsampling ×2). Glorot-uniform weights and zero biases, as Keras
//! initialises them.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use super::conv::conv3x3_forward;

/// A 3×3 "same" convolution with Glorot-uniform weights and a zero bias.
pub fn conv3x3(channels_in: usize, channels_out: usize, device: &Device) -> Conv2d {
    let mut conv = Conv2dConfig::new([channels_in, channels_out], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .with_initializer(Initializer::XavierUniform { gain: 1.0 })
        .init(device);
    conv.bias = Some(burn::module::Param::from_tensor(Tensor::zeros(
        [channels_out],
        device,
    )));
    conv
}

/// Two convolutions with ReLU, then 2 × 2 max-pooling.
#[derive(Module, Debug)]
pub struct ConvPool {
    first: Conv2d,
    second: Conv2d,
    pool: MaxPool2d,
}

/// Configuration of [`ConvPool`].
#[derive(Config, Debug)]
pub struct ConvPoolConfig {
    /// Input channels.
    pub channels_in: usize,
    /// Filters of both convolutions.
    pub filters: usize,
}

impl ConvPoolConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> ConvPool {
        ConvPool {
            first: conv3x3(self.channels_in, self.filters, device),
            second: conv3x3(self.filters, self.filters, device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }
}

impl ConvPool {
    /// Input channels of the block.
    pub fn channels_in(&self) -> usize {
        self.first.weight.dims()[1]
    }

    /// # Shapes
    /// - x: `[b, c_in, h, w]` → `[b, filters, h/2, w/2]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(conv3x3_forward(&self.first, x));
        let x = relu(conv3x3_forward(&self.second, x));
        self.pool.forward(x)
    }
}

/// Two convolutions with ReLU, then nearest-neighbour upsampling ×2.
#[derive(Module, Debug)]
pub struct ConvUp {
    first: Conv2d,
    second: Conv2d,
}

/// Configuration of [`ConvUp`].
#[derive(Config, Debug)]
pub struct ConvUpConfig {
    /// Input channels.
    pub channels_in: usize,
    /// Filters of both convolutions.
    pub filters: usize,
}

impl ConvUpConfig {
    /// Builds the block.
    pub fn init(&self, device: &Device) -> ConvUp {
        ConvUp {
            first: conv3x3(self.channels_in, self.filters, device),
            second: conv3x3(self.filters, self.filters, device),
        }
    }
}

impl ConvUp {
    /// # Shapes
    /// - x: `[b, c_in, h, w]` → `[b, filters, 2h, 2w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(conv3x3_forward(&self.first, x));
        let x = relu(conv3x3_forward(&self.second, x));
        let [_, _, h, w] = x.dims();
        interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([2 * h, 2 * w]),
        )
    }
}
