//! The orthonormal 2-D DFT with `fftshift` folded in, as real matrix products:
//! `fftshift(fft2(x)) / N = Ws · x · Wsᵀ`, Ws = the DFT matrix with its rows rolled by N/2,
//! scaled by 1/√N. Exact, differentiable, and a matmul on the GPU.

use std::f64::consts::PI;

use burn::prelude::*;

use super::CTensor;

/// Precomputed DFT matrices for one N on one device.
#[derive(Debug, Clone)]
pub struct Dft2 {
    n: usize,
    /// Ws as `[1, 1, n, n]` (rows rolled by N/2).
    left: CTensor<4>,
    /// Wsᵀ as `[1, 1, n, n]`.
    right: CTensor<4>,
}

impl Dft2 {
    /// Builds the matrices for size `n` on `device` (angles in f64, stored f32).
    pub fn new(n: usize, device: &Device) -> Self {
        let scale = 1.0 / (n as f64).sqrt();
        let mut re = vec![0.0f32; n * n];
        let mut im = vec![0.0f32; n * n];
        for k in 0..n {
            let row = (k + n / 2) % n; // fftshift: output row k holds frequency row
            for j in 0..n {
                let angle = -2.0 * PI * ((row * j) % n) as f64 / n as f64;
                re[k * n + j] = (angle.cos() * scale) as f32;
                im[k * n + j] = (angle.sin() * scale) as f32;
            }
        }
        let tensor = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, n, n]), device);
        let left = CTensor::new(tensor(re), tensor(im));
        let right = left.map(|t| t.swap_dims(2, 3));
        Self { n, left, right }
    }

    /// The size.
    pub fn n(&self) -> usize {
        self.n
    }

    /// `fftshift(fft2(x)) / N` over the last two axes.
    ///
    /// # Shapes
    /// - x: `[b, c, n, n]` → `[b, c, n, n]`
    pub fn forward(&self, x: &CTensor<4>) -> CTensor<4> {
        self.left.matmul(x).matmul(&self.right)
    }
}
