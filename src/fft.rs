//! Orthonormal 2-D FFTs of square complex images on the CPU (rustfft), for the simulator and the
//! ePIE baseline. Images are row-major `n × n` slices; the zero frequency is at index 0.

use std::sync::Arc;

use num_complex::Complex32;
use rayon::prelude::*;
use rustfft::{Fft, FftPlanner};

/// Forward and inverse plans for one size, orthonormal scaling (each direction divides by n, so
/// Σ|F|² = Σ|ψ|²).
pub struct Fft2 {
    n: usize,
    forward: Arc<dyn Fft<f32>>,
    inverse: Arc<dyn Fft<f32>>,
    /// Split row passes over the rayon pool.
    parallel: bool,
}

impl Fft2 {
    /// Plans size `n`. `parallel` splits each pass into two halves on the rayon pool (worth it
    /// from n = 128 on two cores; see the ePIE bench).
    pub fn new(n: usize, parallel: bool) -> Self {
        let mut planner = FftPlanner::new();
        Self {
            n,
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
            parallel,
        }
    }

    /// The size.
    pub fn n(&self) -> usize {
        self.n
    }

    fn rows(&self, data: &mut [Complex32], inverse: bool) {
        let plan = if inverse {
            &self.inverse
        } else {
            &self.forward
        };
        let scale = 1.0 / (self.n as f32).sqrt();
        let run = |chunk: &mut [Complex32]| {
            let mut scratch = vec![Complex32::default(); plan.get_inplace_scratch_len()];
            plan.process_with_scratch(chunk, &mut scratch);
            for v in chunk.iter_mut() {
                *v *= scale;
            }
        };
        if self.parallel {
            let half = self.n / 2 * self.n;
            data.par_chunks_mut(half.max(self.n)).for_each(run);
        } else {
            run(data);
        }
    }

    /// `out = dataᵀ` for n × n images.
    fn transpose(&self, data: &[Complex32], out: &mut [Complex32]) {
        const BLOCK: usize = 16;
        let n = self.n;
        for rb in (0..n).step_by(BLOCK) {
            for cb in (0..n).step_by(BLOCK) {
                for r in rb..(rb + BLOCK).min(n) {
                    for c in cb..(cb + BLOCK).min(n) {
                        out[c * n + r] = data[r * n + c];
                    }
                }
            }
        }
    }

    /// Forward transform of `data`, leaving the **transposed** spectrum in `spectrum_t`
    /// (`spectrum_t[kx·n + ky] = F[ky, kx]`); `data` is used as scratch. Saves two transposes
    /// when the caller works point-wise on the spectrum and transforms back with
    /// [`Fft2::inverse_from_transposed`].
    pub fn forward_transposed(&self, data: &mut [Complex32], spectrum_t: &mut [Complex32]) {
        self.rows(data, false);
        self.transpose(data, spectrum_t);
        self.rows(spectrum_t, false);
    }

    /// Inverse of [`Fft2::forward_transposed`]: from a transposed spectrum (used as scratch) to
    /// the image in `out`.
    pub fn inverse_from_transposed(&self, spectrum_t: &mut [Complex32], out: &mut [Complex32]) {
        self.rows(spectrum_t, true);
        self.transpose(spectrum_t, out);
        self.rows(out, true);
    }

    /// In-place forward transform, natural orientation.
    pub fn forward(&self, data: &mut [Complex32]) {
        let mut t = vec![Complex32::default(); data.len()];
        self.forward_transposed(data, &mut t);
        self.transpose(&t, data);
    }

    /// In-place inverse transform, natural orientation.
    pub fn inverse(&self, data: &mut [Complex32]) {
        let mut t = vec![Complex32::default(); data.len()];
        self.transpose(data, &mut t);
        self.inverse_from_transposed(&mut t, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthonormal_and_invertible_and_matches_a_direct_dft() {
        let n = 8;
        let img: Vec<Complex32> = (0..n * n)
            .map(|i| Complex32::new((i as f32 * 0.37).sin(), (i as f32 * 0.11).cos()))
            .collect();
        for parallel in [false, true] {
            let fft = Fft2::new(n, parallel);
            let mut f = img.clone();
            fft.forward(&mut f);
            let e0: f32 = img.iter().map(|c| c.norm_sqr()).sum();
            let e1: f32 = f.iter().map(|c| c.norm_sqr()).sum();
            assert!((e0 - e1).abs() < 1e-4 * e0);
            // F[ky, kx] = Σ ψ[y, x] e^{−2πi(ky·y + kx·x)/n} / n
            let (ky, kx) = (3, 5);
            let direct: Complex32 = (0..n * n)
                .map(|i| {
                    let (y, x) = (i / n, i % n);
                    let angle = -2.0 * std::f32::consts::PI * ((ky * y + kx * x) as f32) / n as f32;
                    img[i] * Complex32::from_polar(1.0, angle)
                })
                .sum::<Complex32>()
                / n as f32;
            assert!((f[ky * n + kx] - direct).norm() < 1e-4);
            fft.inverse(&mut f);
            for (a, b) in f.iter().zip(&img) {
                assert!((a - b).norm() < 1e-5);
            }
        }
    }
}
