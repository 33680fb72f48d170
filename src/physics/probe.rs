//! Probe normalisation (physics.md §3.3) and the optional disk mask.

use burn::prelude::*;

use super::CTensor;

/// A disk of ones of radius N/4 centred at (N/2, N/2), zeros outside, `[n, n]`.
pub fn disk_mask(n: usize, device: &Device) -> Tensor<2> {
    let r = n as f64 / 4.0;
    let c = n as f64 / 2.0;
    let values: Vec<f32> = (0..n * n)
        .map(|i| {
            let (y, x) = ((i / n) as f64 - c, (i % n) as f64 - c);
            if x * x + y * y <= r * r { 1.0 } else { 0.0 }
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [n, n]), device)
}

/// The factor 1 / (4 · mean|mask · P|) of [`normalize_probe`] (1 for an all-zero probe), the
/// mask being the disk of radius N/4 when `use_mask`, else none.
///
/// # Shapes
/// - probe: `[n, n]`
pub fn normalization_factor(probe: &CTensor<2>, use_mask: bool) -> f32 {
    let [n, _] = probe.dims();
    let magnitude = probe.abs_sq().sqrt();
    let magnitude = if use_mask {
        magnitude * disk_mask(n, &probe.re.device())
    } else {
        magnitude
    };
    let mean = magnitude.mean().into_scalar::<f32>();
    if mean > 0.0 { 1.0 / (4.0 * mean) } else { 1.0 }
}

/// P / (4 · mean|mask · P|), the mask being the disk of radius N/4 when `use_mask`, else none.
/// The mask only enters the mean: the returned probe is not masked.
///
/// # Shapes
/// - probe: `[n, n]` → `[n, n]`
pub fn normalize_probe(probe: &CTensor<2>, use_mask: bool) -> CTensor<2> {
    probe.scale(normalization_factor(probe, use_mask))
}

/// A host probe as a complex tensor on `device`.
///
/// # Shapes
/// - probe: `[h, w]` → `[h, w]`
pub fn probe_tensor(
    probe: &ndarray::Array2<num_complex::Complex32>,
    device: &Device,
) -> CTensor<2> {
    let (h, w) = probe.dim();
    let part = |f: fn(&num_complex::Complex32) -> f32| {
        let values: Vec<f32> = probe.iter().map(f).collect();
        Tensor::<2>::from_data(TensorData::new(values, [h, w]), device)
    };
    CTensor::new(part(|c| c.re), part(|c| c.im))
}
