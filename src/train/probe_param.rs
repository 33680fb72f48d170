//! The probe as a trainable parameter (`train --train-probe`): a measured probe guess is never
//! exact, and a network that holds it fixed must put the probe's error into the object. The
//! probe is optimised jointly with the network by its own Adam, through the same loss.
//!
//! Its overall scale is not free: the forward model uses P / (4 · mean|mask · P|) (physics.md
//! §3.3) computed inside the graph, times the run's constant gain (`amplitude_target`), so the
//! probe keeps the normalisation the run started with and cannot trade brightness with the
//! network's bounded (sigmoid) amplitude. Only its shape and phase are learned (a peakier shape
//! at the same mean |P| carries more energy, so it can still move the object's operating
//! point somewhat).

use burn::module::{Module, Param};
use burn::prelude::*;
use ndarray::Array2;
use num_complex::Complex32;

use crate::physics::CTensor;
use crate::physics::probe::disk_mask;

/// A complex `[n, n]` probe held as two real parameters.
#[derive(Module, Debug)]
pub struct TrainableProbe {
    re: Param<Tensor<2>>,
    im: Param<Tensor<2>>,
}

impl TrainableProbe {
    /// Starts from `probe` (already normalised), on `device` (an autodiff device to train).
    pub fn new(probe: &CTensor<2>, device: &Device) -> Self {
        // Created on the device, as the network's weights are, so that an autodiff device
        // tracks them (moving a tensor there with `to_device` does not).
        let leaf = |t: &Tensor<2>| Param::from_tensor(Tensor::from_data(t.to_data(), device));
        Self {
            re: leaf(&probe.re),
            im: leaf(&probe.im),
        }
    }

    /// The probe the forward model uses: the parameters scaled to mean |mask · P| = 1/4, the
    /// mask being the disk of radius N/4 when `use_mask` (differentiable; a 1e-12 floor inside
    /// the modulus keeps the gradient finite where the probe is zero).
    ///
    /// # Shapes
    /// `[n, n]`
    pub fn normalized(&self, use_mask: bool) -> CTensor<2> {
        let (re, im) = (self.re.val(), self.im.val());
        let [n, _] = re.dims();
        let magnitude = (re.clone().powf_scalar(2.0) + im.clone().powf_scalar(2.0))
            .add_scalar(1e-12)
            .sqrt();
        let magnitude = if use_mask {
            magnitude * disk_mask(n, &re.device())
        } else {
            magnitude
        };
        let factor = magnitude.mean().mul_scalar(4.0).recip().reshape([1, 1]);
        CTensor::new(re * factor.clone(), im * factor)
    }

    /// [`Self::normalized`] on the host, multiplied by `scale`.
    pub fn to_host(&self, use_mask: bool, scale: f32) -> Array2<Complex32> {
        let probe = self.normalized(use_mask);
        let [n, m] = probe.re.dims();
        let part = |t: Tensor<2>| t.try_into_vec_as::<f32>().unwrap_or_default();
        let (re, im) = (part(probe.re), part(probe.im));
        Array2::from_shape_fn((n, m), |(y, x)| {
            let i = y * m + x;
            Complex32::new(
                re.get(i).copied().unwrap_or(0.0) * scale,
                im.get(i).copied().unwrap_or(0.0) * scale,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::probe::normalize_probe;

    #[test]
    fn normalized_keeps_the_scale_whatever_the_parameters() {
        let device = Device::flex();
        let n = 16;
        let re: Vec<f32> = (0..n * n).map(|i| ((i % 7) as f32 - 2.0) * 0.3).collect();
        let im: Vec<f32> = (0..n * n).map(|i| ((i % 5) as f32) * 0.1).collect();
        let probe = CTensor::new(
            Tensor::<2>::from_data(TensorData::new(re, [n, n]), &device),
            Tensor::<2>::from_data(TensorData::new(im, [n, n]), &device),
        );
        for mask in [false, true] {
            let expected = normalize_probe(&probe, mask);
            // Ten times brighter parameters give the same normalised probe.
            let trainable = TrainableProbe::new(&probe.scale(10.0), &device);
            let got = trainable.normalized(mask);
            let diff = (got.re - expected.re.clone())
                .abs()
                .max()
                .into_scalar::<f32>()
                + (got.im - expected.im.clone())
                    .abs()
                    .max()
                    .into_scalar::<f32>();
            assert!(diff < 1e-5, "mask {mask}: differs by {diff}");
            let host = trainable.to_host(mask, 2.0);
            let want = expected.re.try_into_vec_as::<f32>().unwrap_or_default();
            assert!((host[[3, 4]].re - 2.0 * want[3 * n + 4]).abs() < 1e-5);
        }
    }

    /// The loss reaches the probe's parameters, through the normalisation, with the gradient a
    /// central difference gives.
    #[test]
    fn gradients_reach_the_parameters_and_match_finite_differences() {
        let n = 8;
        let values = |f: fn(usize) -> f32| -> Vec<f32> { (0..n * n).map(f).collect() };
        let start = (
            values(|i| 0.5 + 0.1 * (i % 3) as f32),
            values(|i| 0.05 * (i % 4) as f32),
        );
        let weights = (
            values(|i| (i as f32 * 0.37).sin()),
            values(|i| (i as f32 * 0.11).cos()),
        );
        let loss_of = |re: &[f32], im: &[f32], device: &Device| -> (Tensor<1>, TrainableProbe) {
            let t = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [n, n]), device);
            let probe = TrainableProbe::new(&CTensor::new(t(re), t(im)), device);
            let p = probe.normalized(true);
            let loss = (p.re * t(&weights.0)).sum() + (p.im * t(&weights.1)).sum();
            (loss, probe)
        };
        let autodiff = Device::flex().autodiff();
        let (loss, probe) = loss_of(&start.0, &start.1, &autodiff);
        let grads = loss.backward();
        let grad_re = probe
            .re
            .val()
            .grad(&grads)
            .expect("the real part has a gradient");
        let grad_re = grad_re.try_into_vec_as::<f32>().unwrap_or_default();
        let cpu = Device::flex();
        let eps = 1e-3;
        // Pixels inside (27: row 3, column 3) and outside (0) the N/4 disk.
        for i in [0, 27, 36] {
            let (mut up, mut down) = (start.0.clone(), start.0.clone());
            up[i] += eps;
            down[i] -= eps;
            let value = |re: &[f32]| f64::from(loss_of(re, &start.1, &cpu).0.into_scalar::<f32>());
            let numeric = (value(&up) - value(&down)) / (2.0 * f64::from(eps));
            let analytic = f64::from(grad_re[i]);
            assert!(
                (numeric - analytic).abs() < 2e-2 * numeric.abs().max(1.0),
                "pixel {i}: autodiff {analytic}, finite difference {numeric}"
            );
        }
    }
}
