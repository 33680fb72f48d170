//! The network's 3×3 "same" convolutions. Burn's `Conv2d` module holds the weights, so the model
//! format and the wgpu path do not change; on the CPU (Flex) backend the forward and backward
//! passes run as matrix products ([`kernels`]: Winograd's F(2×2, 3×3) where the channels are
//! many, [`winograd`], else im2col; on [`matmul`]) through a Burn backend extension
//! ([`op`]); `benches/conv.rs` measures them against Burn's generic CPU convolution.

pub mod kernels;
mod matmul;
mod op;
#[cfg(test)]
mod reference;
mod shape;
mod winograd;

use burn::backend::Dispatch;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;

use op::Conv3x3Backend;

/// Whether `conv` applied to `x` takes the fast path: our CPU kernels apply
/// ([`crate::fast_cpu`]), and it is f32, 3 × 3, stride 1, dilation 1, one group, "same" (or
/// explicit 1-pixel) padding, with a bias.
pub fn takes_fast_path(conv: &Conv2d, x: &Tensor<4>) -> bool {
    let padding_one = match &conv.padding {
        PaddingConfig2d::Same => true,
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            [*top, *left, *bottom, *right] == [1, 1, 1, 1]
        }
        _ => false,
    };
    crate::fast_cpu::applies_to(&x.device())
        && op::supports(x.dtype())
        && conv.kernel_size == [3, 3]
        && conv.stride == [1, 1]
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && padding_one
        && conv.bias.is_some()
}

/// `conv.forward(x)`, on the fast path where [`takes_fast_path`] allows.
pub fn conv3x3_forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if !takes_fast_path(conv, &x) {
        return conv.forward(x);
    }
    let Some(bias) = &conv.bias else {
        return conv.forward(x);
    };
    Tensor::from_dispatch(<Dispatch as Conv3x3Backend>::conv3x3_same(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
    ))
}
