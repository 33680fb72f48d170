//! Bilinear translation with zero fill, batched with one shift per image:
//! `translate(img, t)` moves content by +t (x = column, y = row), i.e. out(y, x) = img(y − t_y,
//! x − t_x) interpolated bilinearly, zero where the source falls outside.
//!
//! Bilinear interpolation is separable, so a translation is `Ty · img · Txᵀ` with banded
//! matrices built on the host from the shifts (data, not parameters): exact, differentiable with
//! respect to the image, and a batched matmul on the GPU.

use burn::backend::Dispatch;
use burn::prelude::*;

use super::translate_cpu::TranslateBackend;

/// Writes the `len × len` matrix of a 1-D shift by `t` into `out` (row-major):
/// out_vec[i] = in(i − t) = (1 − a)·in[j₀] + a·in[j₀ + 1], j₀ = ⌊i − t⌋, a = frac(i − t).
fn shift_matrix(len: usize, t: f64, out: &mut [f32]) {
    for i in 0..len {
        let source = i as f64 - t;
        let j0 = source.floor();
        let a = (source - j0) as f32;
        let j0 = j0 as i64;
        for (j, weight) in [(j0, 1.0 - a), (j0 + 1, a)] {
            if j >= 0 && (j as usize) < len && weight != 0.0 {
                out[i * len + j as usize] += weight;
            }
        }
    }
}

/// A set of translations, one per image of a `[b, c, h, w]` batch: on the CPU (Flex) the direct
/// two-tap kernel of [`super::translate_cpu`], elsewhere the banded matrices.
#[derive(Debug, Clone)]
pub struct Translation {
    /// `b·c` shifts `[t_x, t_y]`, batch-major.
    shifts: Vec<[f64; 2]>,
    /// `[b, c, h, w]`.
    dims: [usize; 4],
    /// (Ty `[b, c, h, h]`, Txᵀ `[b, c, w, w]`) when the matrix products run.
    matrices: Option<(Tensor<4>, Tensor<4>)>,
}

impl Translation {
    /// The translations for `shifts` (`b·c` entries `[t_x, t_y]`, batch-major) on images of
    /// `h × w`, run the way `device` runs them best.
    pub fn new(
        shifts: &[[f64; 2]],
        batch: usize,
        channels: usize,
        h: usize,
        w: usize,
        device: &Device,
    ) -> Self {
        if crate::fast_cpu::applies_to(device) {
            Self {
                shifts: shifts.to_vec(),
                dims: [batch, channels, h, w],
                matrices: None,
            }
        } else {
            Self::matrices(shifts, batch, channels, h, w, device)
        }
    }

    /// The same translations as banded matrices on `device`, whatever the device.
    pub fn matrices(
        shifts: &[[f64; 2]],
        batch: usize,
        channels: usize,
        h: usize,
        w: usize,
        device: &Device,
    ) -> Self {
        debug_assert_eq!(shifts.len(), batch * channels);
        let mut rows = vec![0.0f32; shifts.len() * h * h];
        let mut cols_t = vec![0.0f32; shifts.len() * w * w];
        let mut tx = vec![0.0f32; w * w];
        for (k, shift) in shifts.iter().enumerate() {
            shift_matrix(h, shift[1], &mut rows[k * h * h..(k + 1) * h * h]);
            tx.iter_mut().for_each(|v| *v = 0.0);
            shift_matrix(w, shift[0], &mut tx);
            let dst = &mut cols_t[k * w * w..(k + 1) * w * w];
            for i in 0..w {
                for j in 0..w {
                    dst[j * w + i] = tx[i * w + j];
                }
            }
        }
        Self {
            shifts: shifts.to_vec(),
            dims: [batch, channels, h, w],
            matrices: Some((
                Tensor::from_data(TensorData::new(rows, [batch, channels, h, h]), device),
                Tensor::from_data(TensorData::new(cols_t, [batch, channels, w, w]), device),
            )),
        }
    }

    /// Applies the translations.
    ///
    /// # Shapes
    /// - images: `[b, c, h, w]` (or `[b, 1, h, w]`, broadcast over c) → `[b, c, h, w]`
    pub fn apply(&self, images: Tensor<4>) -> Tensor<4> {
        match &self.matrices {
            Some((rows, cols_t)) => rows.clone().matmul(images).matmul(cols_t.clone()),
            None => {
                let images = images.expand(self.dims);
                Tensor::from_dispatch(<Dispatch as TranslateBackend>::translate_bilinear(
                    images.into_dispatch(),
                    self.shifts.clone(),
                ))
            }
        }
    }
}

/// Translates each image of `images` by its own shift (see the module doc).
///
/// # Shapes
/// - images: `[b, c, h, w]`; shifts: `b·c` entries `[t_x, t_y]` → `[b, c, h, w]`
pub fn translate(images: Tensor<4>, shifts: &[[f64; 2]]) -> Tensor<4> {
    let [b, c, h, w] = images.dims();
    Translation::new(shifts, b, c, h, w, &images.device()).apply(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_content_by_plus_t_with_zero_fill() {
        let device = Device::flex();
        // A single bright pixel at (row 2, col 3) of a 6 × 8 image.
        let mut values = vec![0.0f32; 48];
        values[2 * 8 + 3] = 1.0;
        let img = Tensor::<4>::from_data(TensorData::new(values, [1, 1, 6, 8]), &device);
        let out = translate(img.clone(), &[[2.0, 1.0]])
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(out[3 * 8 + 5], 1.0, "moved by x +2, y +1");
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let half = translate(img.clone(), &[[0.5, 0.0]])
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((half[2 * 8 + 3] - 0.5).abs() < 1e-6 && (half[2 * 8 + 4] - 0.5).abs() < 1e-6);
        let gone = translate(img, &[[10.0, 0.0]])
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!(gone.iter().all(|&v| v == 0.0), "zero fill");
    }

    #[test]
    fn the_cpu_kernel_equals_the_matrix_products() {
        let (h, w) = (7, 9);
        let shifts = [[1.25, -0.5], [-3.0, 2.75], [0.0, 0.0], [10.0, 0.3]];
        let images: Vec<f32> = (0..shifts.len() * h * w)
            .map(|i| ((i * 37 % 23) as f32) / 23.0 - 0.4)
            .collect();
        let fast = super::super::translate_cpu::translate_images(&images, h, w, &shifts, 1.0);
        let device = Device::flex();
        let tensor = Tensor::<4>::from_data(TensorData::new(images, [2, 2, h, w]), &device);
        let slow = Translation::matrices(&shifts, 2, 2, h, w, &device)
            .apply(tensor)
            .try_into_vec_as::<f32>()
            .unwrap();
        let worst = fast
            .iter()
            .zip(&slow)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "{worst}");
    }
}
