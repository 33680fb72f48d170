//! Why the network's amplitude comes out flat on the Siemens star: does the data constrain it?
//! Run by hand (a minute of ePIE, and optionally a network reconstruction):
//! `PTYCHO_STAR_NETWORK=out/star/default/reconstructed_reconstruction.npz cargo test --test
//! diagnosis amplitude -- --ignored --nocapture`.
//!
//! ePIE's 100-sweep object is changed one way at a time, keeping its probe and positions, and
//! each variant's data fit ([`ptychostudio::metrics::residual`]) is printed: the amplitude made
//! flat (its mean over the lit pixels, phase kept), the amplitude's contrast halved, the phase
//! blurred (a 3 px box, the resolution the network shows), and the network's own object with its
//! own probe. If flattening the amplitude costs the fit far more than the noise allows, the data
//! carry the amplitude and a flat one is the model's failure, not the data's silence.

#![allow(clippy::unwrap_used)] // a diagnosis run by hand: a failed unwrap says what is missing

use std::path::Path;

use ndarray::{Array2, Ix2};
use num_complex::Complex32;
use ptychostudio::data::load::{LoadOptions, load};
use ptychostudio::epie::{EpieConfig, run_epie};
use ptychostudio::infer::stitch::StitchWeights;
use ptychostudio::io::NpzReader;
use ptychostudio::metrics::region::illuminated;
use ptychostudio::metrics::residual::{DataFit, data_fit, nearest_pixel_positions};

fn show(name: &str, fit: &DataFit) {
    println!(
        "{name:<44} deviance/px {:>8.4}  median per position {:>8.4}  Fourier error {:.4e}  \
         scale {:.3e}",
        fit.poisson_deviance_per_pixel,
        fit.median_position_deviance(),
        fit.fourier_error,
        fit.intensity_scale
    );
}

/// `object` with its amplitude replaced by `amplitude(|o|)`, the phase kept.
fn with_amplitude(object: &Array2<Complex32>, amplitude: impl Fn(f32) -> f32) -> Array2<Complex32> {
    object.mapv(|o| Complex32::from_polar(amplitude(o.norm()), o.arg()))
}

/// `object`'s amplitude averaged over a `(2r+1)²` box, phase kept.
fn blurred_amplitude(object: &Array2<Complex32>, r: usize) -> Array2<Complex32> {
    let (h, w) = object.dim();
    Array2::from_shape_fn((h, w), |(i, j)| {
        let (mut sum, mut count) = (0.0f32, 0.0f32);
        for ii in i.saturating_sub(r)..(i + r + 1).min(h) {
            for jj in j.saturating_sub(r)..(j + r + 1).min(w) {
                sum += object[[ii, jj]].norm();
                count += 1.0;
            }
        }
        Complex32::from_polar(sum / count, object[[i, j]].arg())
    })
}

/// `object`'s phase averaged over a `(2r+1)²` box (as unit phasors), amplitude kept.
fn blurred_phase(object: &Array2<Complex32>, r: usize) -> Array2<Complex32> {
    let (h, w) = object.dim();
    Array2::from_shape_fn((h, w), |(i, j)| {
        let mut sum = Complex32::default();
        for ii in i.saturating_sub(r)..(i + r + 1).min(h) {
            for jj in j.saturating_sub(r)..(j + r + 1).min(w) {
                let o = object[[ii, jj]];
                sum += o / o.norm().max(1e-12);
            }
        }
        Complex32::from_polar(object[[i, j]].norm(), sum.arg())
    })
}

/// ePIE's object and the variants of it whose data fit the diagnosis compares.
fn epie_variants(object: &Array2<Complex32>, mean: f32) -> Vec<(String, Array2<Complex32>)> {
    let mut out = vec![
        ("ePIE, 100 sweeps".to_owned(), object.clone()),
        (
            "ePIE, amplitude flat (phase kept)".to_owned(),
            with_amplitude(object, |_| mean),
        ),
        (
            "ePIE, amplitude contrast halved".to_owned(),
            with_amplitude(object, |a| mean + 0.5 * (a - mean)),
        ),
    ];
    for r in [1, 2, 4, 8] {
        out.push((
            format!("ePIE, amplitude blurred ({} px box)", 2 * r + 1),
            blurred_amplitude(object, r),
        ));
    }
    let blurred = blurred_phase(object, 1);
    out.extend([
        (
            "ePIE, amplitude clipped to mean ± 50 %".to_owned(),
            with_amplitude(object, |a| a.clamp(0.5 * mean, 1.5 * mean)),
        ),
        (
            "ePIE, phase blurred and amplitude flat".to_owned(),
            with_amplitude(&blurred, |_| mean),
        ),
        ("ePIE, phase blurred (3 px box)".to_owned(), blurred),
        (
            "ePIE, phase zeroed (amplitude kept)".to_owned(),
            object.mapv(|o| Complex32::new(o.norm(), 0.0)),
        ),
        (
            "ePIE's probe on a blank object".to_owned(),
            object.mapv(|_| Complex32::new(mean, 0.0)),
        ),
    ]);
    out
}

#[test]
#[ignore = "a diagnosis on the real star: run by hand"]
fn does_the_star_data_constrain_the_amplitude() {
    let path = Path::new("../shared/data/siemens_star_tike.npz");
    let scan = load(path, &LoadOptions::default()).unwrap().dataset;
    let epie = run_epie(
        &scan,
        EpieConfig {
            iterations: 100,
            ..EpieConfig::default()
        },
        |_| true,
    )
    .unwrap();
    let patterns = scan.diffraction().unwrap();
    // ePIE places each patch at the nearest canvas pixel: its object fits the data there.
    let placed = nearest_pixel_positions(&epie.positions_px, epie.origin_px, scan.n());
    let fit = |object: &Array2<Complex32>, origin: [f64; 2], probe: &Array2<Complex32>| {
        data_fit(object, origin, &placed, probe, &patterns).unwrap()
    };
    let fit_network = |object: &Array2<Complex32>, origin: [f64; 2], probe: &Array2<Complex32>| {
        data_fit(object, origin, scan.positions_px(), probe, &patterns).unwrap()
    };
    let weights = StitchWeights::Illumination.patch_weights(&epie.probe);
    let top_left = [
        epie.origin_px[0].round() as i64,
        epie.origin_px[1].round() as i64,
    ];
    let lit = illuminated(&epie.positions_px, &weights, top_left, epie.object.dim());
    let lit_amplitudes: Vec<f32> = epie
        .object
        .iter()
        .zip(&lit)
        .filter(|(_, l)| **l)
        .map(|(o, _)| o.norm())
        .collect();
    let mean = lit_amplitudes.iter().sum::<f32>() / lit_amplitudes.len() as f32;
    let spread = (lit_amplitudes
        .iter()
        .map(|a| (a - mean).powi(2))
        .sum::<f32>()
        / lit_amplitudes.len() as f32)
        .sqrt();
    println!(
        "ePIE 100 sweeps: amplitude mean {mean:.4}, spread {:.2} % of the mean over {} lit pixels",
        100.0 * spread / mean,
        lit_amplitudes.len()
    );
    for (name, object) in epie_variants(&epie.object, mean) {
        show(&name, &fit(&object, epie.origin_px, &epie.probe));
    }
    if let Ok(network) = std::env::var("PTYCHO_STAR_NETWORK") {
        let mut npz = NpzReader::open(Path::new(&network)).unwrap();
        let read = |npz: &mut NpzReader<_>, key: &str| {
            npz.read(key)
                .unwrap()
                .to_c32()
                .unwrap()
                .into_dimensionality::<Ix2>()
                .unwrap()
        };
        let object = read(&mut npz, "objectGuess");
        let probe = read(&mut npz, "probeGuess");
        let origin = [
            npz.read("origin_x_px").unwrap().as_scalar_f64().unwrap(),
            npz.read("origin_y_px").unwrap().as_scalar_f64().unwrap(),
        ];
        show(
            "network, its own probe",
            &fit_network(&object, origin, &probe),
        );
        show(
            "network object, ePIE's probe",
            &fit_network(&object, origin, &epie.probe),
        );
        let flat = with_amplitude(&object, |_| 1.0);
        show(
            "network, amplitude flat, its own probe",
            &fit_network(&flat, origin, &probe),
        );
    }
}
