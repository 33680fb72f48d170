//! Guessing a file's conventions from its values: intensity vs amplitude, DC at the corner vs
//! the centre. Each check returns the evidence in words, for the error message.

use ndarray::{Array2, Array3, Axis, s};
use num_complex::Complex32;

/// How many values the checks look at, at most (spread evenly over the stack).
const SAMPLE_VALUES: usize = 1 << 20;

/// Evidence that a float stack holds counts rather than amplitudes, or `None`.
///
/// Two signs, either enough:
/// 1. the values above 1.5 are (almost all) whole numbers — √counts rarely are;
/// 2. Σ pattern matches the probe's Σ|P|² (as intensity would) while Σ pattern² is over 100×
///    larger (amplitudes under an orthonormal FFT give Σ pattern² ≈ Σ|P·O|² ≤ Σ|P|²).
pub fn intensity_evidence(
    stack: &Array3<f32>,
    probe: Option<&Array2<Complex32>>,
) -> Option<String> {
    let step = (stack.len() / SAMPLE_VALUES).max(1);
    let above: Vec<f32> = stack
        .iter()
        .step_by(step)
        .copied()
        .filter(|&v| v > 1.5)
        .collect();
    if above.len() >= 100 {
        let whole = above
            .iter()
            .filter(|v| (*v - v.round()).abs() < 1e-4)
            .count();
        let fraction = whole as f64 / above.len() as f64;
        if fraction > 0.99 {
            return Some(format!(
                "{:.1} % of its values above 1.5 are whole numbers, as counts are",
                100.0 * fraction
            ));
        }
    }
    let probe_energy: f64 = probe?.iter().map(|c| f64::from(c.norm_sqr())).sum();
    let m = stack.len_of(Axis(0)) as f64;
    let sum: f64 = stack.iter().map(|&v| f64::from(v)).sum::<f64>() / m;
    let sum_sq: f64 = stack
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        / m;
    if probe_energy <= 0.0 {
        return None;
    }
    let (r1, r2) = (sum / probe_energy, sum_sq / probe_energy);
    (r2 > 100.0 && (1e-3..=10.0).contains(&r1)).then(|| {
        format!(
            "the mean Σ pattern ({sum:.3e}) matches the probe's Σ|P|² ({probe_energy:.3e}) as intensity would, while Σ pattern² is {r2:.0}× it"
        )
    })
}

/// Evidence that the zero frequency is at the array corners, or `None`.
///
/// Compares the summed mean pattern in a central box (half-width N/8) with the four corner boxes
/// (N/8 on a side): DC at the corner puts most of the energy there.
pub fn dc_corner_evidence(stack: &Array3<f32>) -> Option<String> {
    let (m, n, _) = stack.dim();
    let take = m.min(256);
    let step = (m / take).max(1);
    let mut mean = Array2::<f64>::zeros((n, n));
    for i in (0..m).step_by(step).take(take) {
        mean.zip_mut_with(&stack.index_axis(Axis(0), i), |a, &b| *a += f64::from(b));
    }
    let q = (n / 8).max(1);
    let h = n / 2;
    let centre: f64 = mean.slice(s![h - q..h + q, h - q..h + q]).sum();
    let corners: f64 = mean.slice(s![..q, ..q]).sum()
        + mean.slice(s![..q, n - q..]).sum()
        + mean.slice(s![n - q.., ..q]).sum()
        + mean.slice(s![n - q.., n - q..]).sum();
    (corners > 10.0 * centre.max(f64::MIN_POSITIVE)).then(|| {
        format!("the corners of the mean pattern hold {corners:.3e}, its centre {centre:.3e}")
    })
}

/// Moves the zero frequency from the corner to the centre of every pattern, in place
/// (`fftshift` over the last two axes).
pub fn fftshift_stack(stack: &mut Array3<f32>) {
    for mut pattern in stack.outer_iter_mut() {
        let shifted = fftshift(&pattern.to_owned());
        pattern.assign(&shifted);
    }
}

/// `fftshift` of a 2-D array: the element at (0, 0) moves to (⌊h/2⌋, ⌊w/2⌋).
pub fn fftshift<T: Clone>(a: &Array2<T>) -> Array2<T> {
    let (h, w) = a.dim();
    Array2::from_shape_fn((h, w), |(r, c)| {
        a[[(r + h - h / 2) % h, (c + w - w / 2) % w]].clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centred_stack() -> Array3<f32> {
        Array3::from_shape_fn((4, 64, 64), |(_, r, c)| {
            let d2 = (r as f32 - 32.0).powi(2) + (c as f32 - 32.0).powi(2);
            100.0 * (-d2 / 20.0).exp() + 0.37
        })
    }

    #[test]
    fn finds_corner_dc_and_fixes_it() {
        let centred = centred_stack();
        assert!(dc_corner_evidence(&centred).is_none());
        let mut corner = centred.clone();
        for mut p in corner.outer_iter_mut() {
            let unshifted = fftshift(&p.to_owned()); // for even n, fftshift is its own inverse
            p.assign(&unshifted);
        }
        assert!(dc_corner_evidence(&corner).is_some());
        fftshift_stack(&mut corner);
        assert_eq!(corner, centred);
    }

    #[test]
    fn tells_counts_from_amplitudes() {
        let amplitude = centred_stack();
        assert!(intensity_evidence(&amplitude, None).is_none());
        let counts = amplitude.mapv(|a| (a * a).round());
        let evidence = intensity_evidence(&counts, None).unwrap();
        assert!(evidence.contains("whole numbers"), "{evidence}");
    }
}
