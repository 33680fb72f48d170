//! The dataset normalisation factor (physics.md §2, step 4).

use ndarray::{ArrayRef3, Axis};

/// The one global factor that scales amplitudes so a pattern has Σ X² = (N/2)² on average:
/// `√((N/2)² / mean_patterns Σ_hw diffraction²)`.
///
/// # Shapes
/// - patterns: `[m, n, n]` (the patterns of the groups, each counted once per channel use)
///
/// Returns `None` when every pattern is zero.
pub fn normalization_factor(patterns: &ArrayRef3<f32>) -> Option<f64> {
    let n = patterns.dim().1;
    factor_from_energies(
        n,
        patterns
            .axis_iter(Axis(0))
            .map(|p| p.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()),
    )
}

/// [`normalization_factor`] from the patterns' energies Σ_hw diffraction² (one per pattern
/// use) and the pattern size `n`; `None` when there are none or all are zero.
pub fn factor_from_energies(n: usize, energies: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut total, mut m) = (0.0f64, 0usize);
    for e in energies {
        total += e;
        m += 1;
    }
    if m == 0 {
        return None;
    }
    let mean_energy = total / m as f64;
    let half = n as f64 / 2.0;
    (mean_energy > 0.0).then(|| (half * half / mean_energy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn scaled_patterns_have_the_target_energy() {
        let p = Array3::from_shape_fn((5, 64, 64), |(i, r, c)| (i + r * c % 7) as f32 * 0.01);
        let f = normalization_factor(&p).unwrap() as f32;
        let scaled = p.mapv(|v| v * f);
        let mean: f32 = scaled.mapv(|v| v * v).sum() / 5.0;
        assert!((mean - 32.0 * 32.0).abs() / 1024.0 < 1e-4, "{mean}");
        assert!(normalization_factor(&Array3::zeros((2, 64, 64))).is_none());
    }
}
