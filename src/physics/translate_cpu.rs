//! Bilinear translation on the CPU as direct two-tap passes, a Burn backend extension for Flex
//! with its own backward step. The separable matrices of [`super::translate`] have two non-zeros
//! per row, so as dense matrix products they cost `O(h·w·(h + w))` per image where the passes
//! cost `O(4·h·w)`; on the gridsize-2 merge's 78 × 78 canvases that is about 40× less arithmetic.
//!
//! For a uniform shift the hat-function weights are symmetric, so the adjoint of translating by
//! `t` (zero fill included) is translating by `−t`: the backward step is the same kernel.

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};
use burn::tensor::TensorData;
use rayon::prelude::*;

/// The two taps of output index `i` for a shift by `t`: `(source index, weight)` pairs, the
/// weights of [`super::translate`]'s matrices (`in(i − t)`, bilinear, zero outside).
fn taps(i: usize, t: f64, len: usize) -> [(usize, f32); 2] {
    let source = i as f64 - t;
    let j0 = source.floor();
    let a = (source - j0) as f32;
    let j0 = j0 as i64;
    let tap = |j: i64, weight: f32| {
        if j >= 0 && (j as usize) < len && weight != 0.0 {
            (j as usize, weight)
        } else {
            (0, 0.0)
        }
    };
    [tap(j0, 1.0 - a), tap(j0 + 1, a)]
}

/// Translates each `h × w` image of `images` by `sign · shifts[k]` (`[t_x, t_y]`): rows first,
/// then columns, as `Ty · img · Txᵀ`.
pub fn translate_images(
    images: &[f32],
    h: usize,
    w: usize,
    shifts: &[[f64; 2]],
    sign: f64,
) -> Vec<f32> {
    let plane = h * w;
    assert_eq!(
        images.len(),
        plane * shifts.len(),
        "translate: one shift per image"
    );
    let mut out = vec![0.0f32; images.len()];
    if plane == 0 {
        return out;
    }
    out.par_chunks_mut(plane)
        .zip(images.par_chunks(plane))
        .zip(shifts.par_iter())
        .for_each(|((dst, src), shift)| {
            let (tx, ty) = (sign * shift[0], sign * shift[1]);
            let mut rows = vec![0.0f32; plane];
            for (i, row) in rows.chunks_exact_mut(w).enumerate() {
                for (j, weight) in taps(i, ty, h) {
                    if weight != 0.0 {
                        let line = &src[j * w..(j + 1) * w];
                        row.iter_mut().zip(line).for_each(|(o, v)| *o += weight * v);
                    }
                }
            }
            let column_taps: Vec<[(usize, f32); 2]> = (0..w).map(|i| taps(i, tx, w)).collect();
            for (out_row, row) in dst.chunks_exact_mut(w).zip(rows.chunks_exact(w)) {
                for (o, [(j0, a0), (j1, a1)]) in out_row.iter_mut().zip(&column_taps) {
                    *o = a0 * row[*j0] + a1 * row[*j1];
                }
            }
        });
    out
}

/// The operation [`super::translate::Translation`] calls on the CPU.
#[backend_extension(Flex, Autodiff)]
pub trait TranslateBackend: Backend {
    /// Translates image `k` of `images` (`[b, c, h, w]`, `b·c = shifts.len()`) by `shifts[k]`.
    fn translate_bilinear(images: FloatTensor<Self>, shifts: Vec<[f64; 2]>) -> FloatTensor<Self>;
}

/// A backend that can run the translation kernel with either sign.
pub trait TranslateKernel: Backend {
    /// Translates by `sign · shifts`.
    fn translate_signed(
        images: FloatTensor<Self>,
        shifts: &[[f64; 2]],
        sign: f64,
    ) -> FloatTensor<Self>;
}

impl TranslateKernel for Flex {
    fn translate_signed(images: FlexTensor, shifts: &[[f64; 2]], sign: f64) -> FlexTensor {
        let dims = images.layout().shape().to_vec();
        let images = images.to_contiguous();
        let values = images
            .as_slice::<f32>()
            .expect("translate runs on f32 tensors (checked by the caller)");
        let (h, w) = (dims[dims.len() - 2], dims[dims.len() - 1]);
        let out = translate_images(values, h, w, shifts, sign);
        FlexTensor::from_data(TensorData::new(out, dims))
    }
}

impl TranslateBackend for Flex {
    fn translate_bilinear(images: FlexTensor, shifts: Vec<[f64; 2]>) -> FlexTensor {
        Self::translate_signed(images, &shifts, 1.0)
    }
}

/// The backward step: translate the gradient back. State: the shifts.
#[derive(Debug)]
struct TranslateBackward;

impl<B: TranslateKernel> Backward<B, 1> for TranslateBackward {
    type State = Vec<[f64; 2]>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = node {
            grads.register::<B>(node.id, B::translate_signed(grad, &ops.state, -1.0));
        }
    }
}

impl<B: TranslateKernel, C: CheckpointStrategy> TranslateBackend for Autodiff<B, C> {
    fn translate_bilinear(images: FloatTensor<Self>, shifts: Vec<[f64; 2]>) -> FloatTensor<Self> {
        match TranslateBackward
            .prepare::<C>([images.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = B::translate_signed(images.into_primitive(), &shifts, 1.0);
                prep.finish(shifts, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::translate_signed(images.into_primitive(), &shifts, 1.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adjoint_is_the_opposite_shift() {
        // <T x, y> = <x, T⁻ y>, zero fill included (one shift pushes content out).
        let (h, w) = (7, 9);
        let shifts = [[1.25, -0.5], [-3.0, 2.75], [0.0, 0.0], [10.0, 0.3]];
        let x: Vec<f32> = (0..shifts.len() * h * w)
            .map(|i| ((i * 37 % 23) as f32) / 23.0 - 0.4)
            .collect();
        let y: Vec<f32> = (0..x.len())
            .map(|i| ((i * 11 % 17) as f32) / 17.0)
            .collect();
        let forward = translate_images(&x, h, w, &shifts, 1.0);
        let back = translate_images(&y, h, w, &shifts, -1.0);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&forward, &y) - dot(&x, &back)).abs() < 1e-4);
    }
}
