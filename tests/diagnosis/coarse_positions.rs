//! Coarse-to-fine position correction on `lines-512-positions`, measured by hand:
//! `cargo test --test diagnosis coarse_positions -- --ignored --nocapture`.
//!
//! Cropping the patterns to their central K × K (K = N / f) reconstructs the object at f times
//! the pixel size, where the position errors are f times smaller in pixels; ePIE corrects them
//! there, and the next finer level starts from its positions. Measured (docs/positions.md): it
//! does not reach the truth from the case's 8 px errors at any level.
//!
//! Settings by environment: `PTYCHO_LEVELS` (the factors f, default `4,2,1`), `PTYCHO_SWEEPS`
//! (per level, 40), `PTYCHO_COARSE` (coarse searches, 0 = sub-pixel steps only),
//! `PTYCHO_MAX_STEP`, `PTYCHO_START`, `PTYCHO_ALPHA`, `PTYCHO_JITTER` (jitter-only errors of
//! this RMS instead of the case's), `PTYCHO_FROM_TRUTH` (start at the true positions).

#![allow(clippy::unwrap_used)] // a measurement run by hand: a failed unwrap says what is missing

use ndarray::{Array2, Array3, s};
use num_complex::Complex32;
use ptychostudio::data::Dataset;
use ptychostudio::epie::positions::PositionCorrection;
use ptychostudio::epie::{Epie, EpieConfig};
use ptychostudio::fft::Fft2;
use ptychostudio::positions::error_stats;

/// The scan at `f` times the pixel size: patterns cropped to their centre, the probe
/// band-limited and resampled, positions divided by `f`.
struct Coarse {
    diffraction: Array3<f32>,
    probe: Array2<Complex32>,
    positions_px: Vec<[f64; 2]>,
}

fn coarse(scan: &Dataset, positions: &[[f64; 2]], f: usize) -> Coarse {
    let n = scan.n();
    let k = n / f;
    let lo = n / 2 - k / 2;
    let diffraction: Array3<f32> = scan
        .diffraction()
        .unwrap()
        .slice(s![.., lo..lo + k, lo..lo + k])
        .to_owned();
    let mut spectrum: Vec<Complex32> = scan.probe().iter().copied().collect();
    Fft2::new(n, false).forward(&mut spectrum);
    let mut small = vec![Complex32::default(); k * k];
    for r in 0..k {
        for c in 0..k {
            let kr = if r < k / 2 { r } else { n - (k - r) };
            let kc = if c < k / 2 { c } else { n - (k - c) };
            small[r * k + c] = spectrum[kr * n + kc];
        }
    }
    Fft2::new(k, false).inverse(&mut small);
    let probe = Array2::from_shape_vec((k, k), small).unwrap();
    let positions_px = positions
        .iter()
        .map(|p| [p[0] / f as f64, p[1] / f as f64])
        .collect();
    Coarse {
        diffraction,
        probe,
        positions_px,
    }
}

/// RMS of `positions − (A·truth + t)` after the least-squares affine fit, and A.
fn affine_residual(positions: &[[f64; 2]], truth: &[[f64; 2]]) -> (f64, [[f64; 2]; 2]) {
    let m = positions.len() as f64;
    let mean = |v: &[[f64; 2]], i: usize| v.iter().map(|p| p[i]).sum::<f64>() / m;
    let (tx, ty) = (mean(truth, 0), mean(truth, 1));
    let (px, py) = (mean(positions, 0), mean(positions, 1));
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    let (mut bx, mut by) = ([0.0; 2], [0.0; 2]);
    for (p, t) in positions.iter().zip(truth) {
        let (u, v) = (t[0] - tx, t[1] - ty);
        let (a, b) = (p[0] - px, p[1] - py);
        sxx += u * u;
        sxy += u * v;
        syy += v * v;
        bx[0] += u * a;
        bx[1] += v * a;
        by[0] += u * b;
        by[1] += v * b;
    }
    let det = sxx * syy - sxy * sxy;
    let solve = |b: [f64; 2]| {
        [
            (syy * b[0] - sxy * b[1]) / det,
            (sxx * b[1] - sxy * b[0]) / det,
        ]
    };
    let (ax, ay) = (solve(bx), solve(by));
    let mut sum = 0.0;
    for (p, t) in positions.iter().zip(truth) {
        let (u, v) = (t[0] - tx, t[1] - ty);
        let ex = p[0] - px - (ax[0] * u + ax[1] * v);
        let ey = p[1] - py - (ay[0] * u + ay[1] * v);
        sum += ex * ex + ey * ey;
    }
    ((sum / m).sqrt(), [ax, ay])
}

#[test]
#[ignore = "a measurement on the reference's lines-512 file: run by hand"]
fn coarse_to_fine_position_correction() {
    let (truth_scan, truth, given) = crate::case::lines512_displaced();
    let sweeps: usize = std::env::var("PTYCHO_SWEEPS").map_or(40, |s| s.parse().unwrap());
    let start_at_truth = std::env::var("PTYCHO_FROM_TRUTH").is_ok();
    let mut positions = if start_at_truth { truth.clone() } else { given };
    let levels: Vec<usize> = std::env::var("PTYCHO_LEVELS").map_or(vec![4, 2, 1], |s| {
        s.split(',').map(|v| v.parse().unwrap()).collect()
    });
    for f in levels {
        let scan = coarse(&truth_scan, &positions, f);
        let env = |key: &str| std::env::var(key).ok().map(|v| v.parse::<f64>().unwrap());
        let mut correction = PositionCorrection::default();
        if let Some(v) = env("PTYCHO_COARSE") {
            correction.coarse_count = v as usize;
        }
        if let Some(v) = env("PTYCHO_MAX_STEP") {
            correction.max_step_px = v;
        }
        if let Some(v) = env("PTYCHO_START") {
            correction.start = v as usize;
        }
        let result = Epie::from_arrays(
            &scan.diffraction,
            &scan.positions_px,
            &scan.probe,
            EpieConfig {
                iterations: sweeps,
                correct_positions: Some(correction),
                alpha: env("PTYCHO_ALPHA").map_or(1.0, |v| v as f32),
                ..EpieConfig::default()
            },
        )
        .run(|_| true);
        positions = result
            .positions_px
            .iter()
            .map(|p| [p[0] * f as f64, p[1] * f as f64])
            .collect();
        let stats = error_stats(&positions, &truth);
        let (affine_rms, a) = affine_residual(&positions, &truth);
        println!("  after removing an affine map: {affine_rms:.2} px RMS; map {a:.4?}");
        println!(
            "f = {f}: N = {}, positions {:.2} px RMS, largest {:.1}, beyond 3 px {}; Fourier \
             error {:.3e} -> {:.3e}",
            scan.probe.nrows(),
            stats.rms_px,
            stats.max_px,
            stats.beyond_3px,
            result.errors.first().unwrap(),
            result.errors.last().unwrap()
        );
    }
}
