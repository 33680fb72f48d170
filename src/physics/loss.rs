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
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            nll: 1.0,
            mae: 0.0,
            tv: 0.0,
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
}
