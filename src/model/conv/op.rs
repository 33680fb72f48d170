//! The fast 3×3 convolution as a Burn operation: the backend extension [`Conv3x3Backend`], whose
//! Flex (CPU) implementation runs [`super::kernels`], and whose autodiff implementation records a
//! backward step that runs them again (input gradient only when the input needs one). Burn's own
//! CPU convolution computes the weight gradient as a convolution with the batch as channels and
//! the output gradient as a 64 × 64 kernel, which copies every input pixel nine times per output
//! channel block; these kernels do the same work as three matrix products.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::{DType, TensorData};

use super::kernels::{self, ConvShape};

/// A backend with the three passes of the 3×3 "same" convolution.
pub trait Conv3x3Kernels: Backend {
    /// `conv(x, weight) + bias`: `[b, c_in, h, w]`, `[c_out, c_in, 3, 3]`, `[c_out]` →
    /// `[b, c_out, h, w]`.
    fn conv3x3_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// The input gradient for output gradient `dy`.
    fn conv3x3_input_grad(dy: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The weight and bias gradients for input `x` and output gradient `dy`.
    fn conv3x3_weight_grads(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        channels_out: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// The operation the network calls, routed by Burn's dispatch to Flex or to autodiff over Flex.
#[backend_extension(Flex, Autodiff)]
pub trait Conv3x3Backend: Backend {
    /// `conv(x, weight) + bias`, 3 × 3, stride 1, zero padding 1.
    fn conv3x3_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// Contiguous `f32` values and the four dimensions of a tensor.
fn read4(tensor: &FlexTensor) -> (Vec<usize>, FlexTensor) {
    let dims = tensor.layout().shape().to_vec();
    (dims, tensor.to_contiguous())
}

fn values(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("conv3x3 runs on contiguous f32 tensors (checked by the caller)")
}

fn tensor(values: Vec<f32>, dims: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, dims.to_vec()))
}

fn conv_shape(x_dims: &[usize], channels_out: usize) -> ConvShape {
    ConvShape {
        batch: x_dims[0],
        channels_in: x_dims[1],
        channels_out,
        height: x_dims[2],
        width: x_dims[3],
    }
}

impl Conv3x3Kernels for Flex {
    fn conv3x3_forward(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (x_dims, x) = read4(&x);
        let (w_dims, weight) = read4(&weight);
        let bias = bias.to_contiguous();
        let shape = conv_shape(&x_dims, w_dims[0]);
        let y = kernels::forward(values(&x), values(&weight), Some(values(&bias)), &shape);
        tensor(
            y,
            &[shape.batch, shape.channels_out, shape.height, shape.width],
        )
    }

    fn conv3x3_input_grad(dy: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let (dy_dims, dy) = read4(&dy);
        let (w_dims, weight) = read4(&weight);
        let shape = ConvShape {
            batch: dy_dims[0],
            channels_in: w_dims[1],
            channels_out: dy_dims[1],
            height: dy_dims[2],
            width: dy_dims[3],
        };
        let dx = kernels::input_grad(values(&dy), values(&weight), &shape);
        tensor(
            dx,
            &[shape.batch, shape.channels_in, shape.height, shape.width],
        )
    }

    fn conv3x3_weight_grads(
        x: FlexTensor,
        dy: FlexTensor,
        channels_out: usize,
    ) -> (FlexTensor, FlexTensor) {
        let (x_dims, x) = read4(&x);
        let dy = dy.to_contiguous();
        let shape = conv_shape(&x_dims, channels_out);
        let (dw, db) = kernels::weight_grads(values(&x), values(&dy), &shape);
        (
            tensor(dw, &[channels_out, shape.channels_in, 3, 3]),
            tensor(db, &[channels_out]),
        )
    }
}

impl Conv3x3Backend for Flex {
    fn conv3x3_same(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        Self::conv3x3_forward(x, weight, bias)
    }
}

/// The recorded backward step: parents (input, weight, bias); state (input, weight).
#[derive(Debug)]
struct Conv3x3Backward;

impl<B: Conv3x3Kernels> Backward<B, 3> for Conv3x3Backward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, weight) = ops.state;
        let channels_out = weight_channels_out::<B>(&weight);
        if node_w.is_some() || node_b.is_some() {
            let (dw, db) = B::conv3x3_weight_grads(x, dy.clone(), channels_out);
            if let Some(node) = node_w {
                grads.register::<B>(node.id, dw);
            }
            if let Some(node) = node_b {
                grads.register::<B>(node.id, db);
            }
        }
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::conv3x3_input_grad(dy, weight));
        }
    }
}

fn weight_channels_out<B: Backend>(weight: &FloatTensor<B>) -> usize {
    use burn::backend::TensorMetadata;
    weight.shape().dims::<4>()[0]
}

impl<B: Conv3x3Kernels, C: CheckpointStrategy> Conv3x3Backend for Autodiff<B, C> {
    fn conv3x3_same(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match Conv3x3Backward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, weight, bias) = (
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                let y = B::conv3x3_forward(x.clone(), weight.clone(), bias);
                prep.finish((x, weight), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv3x3_forward(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }
}

/// Whether the fast path can take a tensor of this dtype.
pub fn supports(dtype: DType) -> bool {
    dtype == DType::F32
}
