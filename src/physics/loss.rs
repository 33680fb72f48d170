//! Losses (physics.md §3.6): Poisson negative log-likelihood of the counts, MAE on amplitudes,
//! total variation of the object.

use burn::prelude::*;

use super::CTensor;

/// ε inside the logarithm.
pub const LOG_EPSILON: f32 = 1e-12;

/// Mean over all pixels of λ − k·ln(λ + ε): the training loss without the constant lnΓ(k+1).
///
/// # Shapes
/// - predicted, observed: `[b, c, n, n]` counts → `[1]`
pub fn poisson_nll(predicted: Tensor<4>, observed: Tensor<4>) -> Tensor<1> {
    (predicted.clone() - observed * predicted.add_scalar(LOG_EPSILON).log()).mean()
}

/// Mean over all pixels of λ − k − k·ln((λ + ε)/(k + ε)): the Poisson NLL of [`poisson_nll`] minus
/// the per-pixel constant k − k·ln k, so it has the same gradient but sits near zero at a good
/// fit, where f32 resolves it (the NLL itself is ≈ −k ln k per pixel, millions at 1e9 photons,
/// and its f32 mean is quantised to about 0.25). Near a fit the logarithm is taken as
/// log1p((λ − k)/(k + ε)); where λ < k/2 (far from it, precision no longer matters, and log1p
/// would reach −1) as ln(λ + ε) − ln(k + ε). Both branches stay finite, so neither poisons the
/// gradient of the other.
///
/// # Shapes
/// - predicted, observed: `[b, c, n, n]` counts → `[1]`
pub fn poisson_deviance(predicted: Tensor<4>, observed: Tensor<4>) -> Tensor<1> {
    let denominator = observed.clone().add_scalar(LOG_EPSILON);
    let ratio = (predicted.clone() - observed.clone()) / denominator.clone();
    let near = ratio.clone().greater_elem(-0.5);
    let close = ratio.clamp_min(-0.5).log1p();
    let far = predicted.clone().add_scalar(LOG_EPSILON).log() - denominator.log();
    let log_ratio = far.mask_where(near, close);
    (predicted - observed.clone() - observed * log_ratio).mean()
}

/// lnΓ(k + 1) − k·ln k + k: what [`poisson_deviance`] leaves out of the full negative
/// log-likelihood λ − k·ln λ + lnΓ(k + 1), for one count (f64; ≈ ½·ln(2πk) for large k).
pub fn deviance_offset(k: f64) -> f64 {
    let k_ln_k = if k > 0.0 { k * k.ln() } else { 0.0 };
    libm::lgamma(k + 1.0) - k_ln_k + k
}

/// lnΓ(k + 1) of every observed count, computed on the host (the counts are data).
pub fn log_factorial(counts: &[f32]) -> Vec<f32> {
    counts
        .iter()
        .map(|&k| libm::lgamma(f64::from(k) + 1.0) as f32)
        .collect()
}

/// Σ over (c, h, w) of λ − k·ln(λ + ε) [+ lnΓ(k + 1)], averaged over the batch: the figure the
/// reference reports. `log_factorial` (same shape as the counts, from [`log_factorial`]) adds the
/// constant term.
///
/// # Shapes
/// - predicted, observed, log_factorial: `[b, c, n, n]` → `[1]`
pub fn poisson_nll_per_sample(
    predicted: Tensor<4>,
    observed: Tensor<4>,
    log_factorial: Option<Tensor<4>>,
) -> Tensor<1> {
    let [b, ..] = predicted.dims();
    let mut terms = predicted.clone() - observed * predicted.add_scalar(LOG_EPSILON).log();
    if let Some(constant) = log_factorial {
        terms = terms + constant;
    }
    terms.sum().div_scalar(b as f32)
}

/// Mean absolute error of predicted and observed amplitudes.
///
/// # Shapes
/// - predicted, observed: `[b, c, n, n]` → `[1]`
pub fn amplitude_mae(predicted: Tensor<4>, observed: Tensor<4>) -> Tensor<1> {
    (predicted - observed).abs().mean()
}

/// Total variation: mean absolute difference of neighbours along rows and columns, real and
/// imaginary parts.
///
/// # Shapes
/// - object: `[b, c, h, w]` → `[1]`
pub fn total_variation(object: &CTensor<4>) -> Tensor<1> {
    let [_, _, h, w] = object.dims();
    let tv = |t: &Tensor<4>| {
        let dx = t.clone().slice(s![.., .., .., 1..w]) - t.clone().slice(s![.., .., .., 0..w - 1]);
        let dy = t.clone().slice(s![.., .., 1..h, ..]) - t.clone().slice(s![.., .., 0..h - 1, ..]);
        dx.abs().mean() + dy.abs().mean()
    };
    tv(&object.re) + tv(&object.im)
}

/// Weights of the loss terms (defaults: NLL 1, others 0).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossWeights {
    /// Poisson NLL.
    pub nll: f32,
    /// Amplitude MAE.
    pub mae: f32,
    /// Total variation.
    pub tv: f32,
    /// Poisson NLL of each pattern against its own predicted patch alone, before any merge
    /// (only where the forward model merges overlapping patches: overlap groups, gridsize > 1).
    /// The merged term makes neighbours agree; this one lets each patch explain its pattern
    /// from the first steps, before they agree.
    #[serde(default)]
    pub own_patch_nll: f32,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            nll: 1.0,
            mae: 0.0,
            tv: 0.0,
            own_patch_nll: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_factorial_matches_small_factorials() {
        let v = log_factorial(&[0.0, 1.0, 4.0, 10.0]);
        let expected = [0.0f64, 0.0, 24f64.ln(), 3_628_800f64.ln()];
        for (a, b) in v.iter().zip(expected) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn poisson_nll_is_smallest_at_the_observed_counts() {
        let device = Device::flex();
        let k = Tensor::<4>::from_data(
            TensorData::new(vec![3.0f32, 7.0, 0.5, 12.0], [1, 1, 2, 2]),
            &device,
        );
        let at =
            |scale: f32| poisson_nll(k.clone().mul_scalar(scale), k.clone()).into_scalar::<f32>();
        assert!(at(1.0) < at(0.9) && at(1.0) < at(1.1));
    }

    #[test]
    fn deviance_is_the_nll_less_a_constant_and_zero_at_a_perfect_fit() {
        let device = Device::flex();
        let counts = [0.0f32, 1.0, 3.0, 250.0];
        let k = Tensor::<4>::from_data(TensorData::new(counts.to_vec(), [1, 1, 2, 2]), &device);
        let lambda = Tensor::<4>::from_data(
            TensorData::new(vec![0.5f32, 2.0, 3.5, 240.0], [1, 1, 2, 2]),
            &device,
        );
        let deviance = poisson_deviance(lambda.clone(), k.clone()).into_scalar::<f32>();
        let nll = poisson_nll(lambda, k.clone()).into_scalar::<f32>();
        let shift: f64 = counts
            .iter()
            .map(|&k| {
                let k = f64::from(k);
                if k > 0.0 { k * k.ln() - k } else { 0.0 }
            })
            .sum::<f64>()
            / 4.0;
        assert!((f64::from(nll) + shift - f64::from(deviance)).abs() < 1e-4);
        let perfect = poisson_deviance(k.clone(), k.clone()).into_scalar::<f32>();
        assert!(perfect.abs() < 1e-6, "{perfect}");
        // λ = 0 where k > 0: finite, with a finite gradient pushing λ up.
        let device = Device::flex().autodiff();
        let zero = Tensor::<4>::zeros([1, 1, 2, 2], &device).require_grad();
        let k = k.to_device(&device).autodiff();
        let loss = poisson_deviance(zero.clone(), k);
        assert!(loss.clone().into_scalar::<f32>().is_finite());
        let grad = zero
            .grad(&loss.backward())
            .unwrap()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
        assert!(grad[1] < 0.0, "{grad:?}");
        // The full NLL of one count: λ − k ln λ + lnΓ(k + 1) = deviance + offset.
        let (kk, lam) = (3.0f64, 3.5f64);
        let full = lam - kk * lam.ln() + libm::lgamma(kk + 1.0);
        let dev = lam - kk - kk * (lam / kk).ln();
        assert!((dev + deviance_offset(kk) - full).abs() < 1e-12);
    }
}
