//! The checks that need no ground truth: the flat-phase and amplitude-at-bound warnings fire on a
//! reconstruction with nothing in it and stay quiet on a good one.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use ndarray::Array2;
use num_complex::Complex32;
use ptychostudio::data::simulate::{
    ScanPattern, SimulationConfig, default_probe, lines_object, scan_positions,
};
use ptychostudio::epie::{EpieConfig, run_epie};
use ptychostudio::infer::stitch::StitchWeights;
use ptychostudio::metrics::trust::{FLAT_PHASE_STD_RAD, trust_checks};

fn setup() -> (Array2<Complex32>, Vec<[f64; 2]>, Array2<f32>) {
    let config = SimulationConfig {
        object_size: 160,
        seed: 2,
        ..Default::default()
    };
    let object = lines_object(&config);
    let positions = scan_positions(ScanPattern::Random { count: 60 }, 64, 160, 3);
    let weights = StitchWeights::Illumination.patch_weights(&default_probe(64));
    (object, positions, weights)
}

#[test]
fn quiet_on_the_true_object_and_on_epie() {
    let (object, positions, weights) = setup();
    let checks = trust_checks(&object, [0.0, 0.0], &positions, &weights, false).unwrap();
    println!("truth: {checks:?}");
    assert!(checks.warnings.is_empty(), "{:?}", checks.warnings);
    assert!(checks.phase_std_rad > 3.0 * FLAT_PHASE_STD_RAD);
    // A real reconstruction of a simulated scan, not just the truth.
    let scan = ptychostudio::data::simulate::simulate_scan(
        &object,
        &default_probe(64),
        positions.clone(),
        1e6,
        4,
    )
    .unwrap()
    .dataset;
    let epie = run_epie(&scan, EpieConfig::default(), |_| true).unwrap();
    let checks = trust_checks(&epie.object, epie.origin_px, &positions, &weights, false).unwrap();
    println!("ePIE: {checks:?}");
    assert!(checks.warnings.is_empty(), "{:?}", checks.warnings);
}

#[test]
fn fires_on_a_flat_phase_and_on_a_saturated_amplitude() {
    let (object, positions, weights) = setup();
    // What a network that learned nothing stitches: a constant phase offset, a ramp, a trace of
    // texture.
    let flat = Array2::from_shape_fn(object.dim(), |(r, c)| {
        let phase =
            0.4 + 0.003 * r as f32 - 0.002 * c as f32 + 0.005 * ((r * 7 + c * 3) % 5) as f32;
        Complex32::from_polar(0.5, phase)
    });
    let checks = trust_checks(&flat, [0.0, 0.0], &positions, &weights, true).unwrap();
    println!("flat: {checks:?}");
    assert_eq!(checks.warnings.len(), 1, "{:?}", checks.warnings);
    assert!(checks.warnings[0].contains("phase is flat"));
    assert!(checks.phase_std_rad < FLAT_PHASE_STD_RAD);
    // The true phase under an amplitude pinned at the sigmoid's top.
    let saturated = object.mapv(|v| Complex32::from_polar(0.999, v.arg()));
    let checks = trust_checks(&saturated, [0.0, 0.0], &positions, &weights, true).unwrap();
    println!("saturated: {checks:?}");
    assert_eq!(checks.warnings.len(), 1, "{:?}", checks.warnings);
    assert!(checks.warnings[0].contains("bound"));
    assert!(checks.amplitude_at_bound.unwrap() > 0.9);
}

/// The data fit ranks reconstructions without a ground truth: ePIE's object with its probe
/// explains the simulated patterns far better than a blank object with the same probe, and the
/// written reconstruction carries the illumination map (lit under the scan, dark far from it)
/// beside the data-fit figures.
#[test]
fn data_fit_ranks_reconstructions_and_the_npz_carries_the_illumination() {
    use ptychostudio::data::reconstruction::Reconstruction;
    use ptychostudio::io::NpzReader;
    use ptychostudio::report::{Method, object_checks};

    let (object, positions, _) = setup();
    let scan =
        ptychostudio::data::simulate::simulate_scan(&object, &default_probe(64), positions, 1e6, 4)
            .unwrap()
            .dataset;
    let epie = run_epie(
        &scan,
        EpieConfig {
            iterations: 20,
            ..EpieConfig::default()
        },
        |_| true,
    )
    .unwrap();
    let fit = |object: &Array2<Complex32>| {
        object_checks(
            object,
            epie.origin_px,
            Some(&epie.probe),
            &scan,
            Method::Epie,
        )
        .unwrap()
        .data_fit
        .unwrap()
    };
    let good = fit(&epie.object);
    let blank = fit(&epie.object.mapv(|_| Complex32::new(1.0, 0.0)));
    println!(
        "ePIE: deviance {:.4}, Fourier error {:.3e}; blank: {:.4}, {:.3e}",
        good.poisson_deviance_per_pixel,
        good.fourier_error,
        blank.poisson_deviance_per_pixel,
        blank.fourier_error
    );
    assert_eq!(good.position_deviance.len(), scan.len());
    assert!(good.fourier_error < 0.2 * blank.fourier_error);
    assert!(good.poisson_deviance_per_pixel < 0.2 * blank.poisson_deviance_per_pixel);
    let map = good.map.as_ref().unwrap();
    assert_eq!(map.dim(), epie.object.dim());
    assert!(map.iter().any(|v| v.is_finite()) && map.iter().any(|v| v.is_nan()));

    let dir = tempfile::tempdir().unwrap();
    let recon = Reconstruction {
        object: epie.object.clone(),
        probe: epie.probe.clone(),
        origin_px: epie.origin_px,
        costs: epie.errors.clone(),
        method: "ePIE".into(),
        refined_positions_px: None,
    };
    let files = recon.write_all(&scan, dir.path(), "epie").unwrap();
    let mut npz = NpzReader::open(&files.npz).unwrap();
    let lit = npz
        .read("illumination")
        .unwrap()
        .to_f32()
        .unwrap()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    assert_eq!(lit.dim(), epie.object.dim());
    // At a scan position the probe's peak lights the pixel; the canvas corner is beyond the pad.
    let p = scan.positions_px()[0];
    let at = [
        (p[1] - epie.origin_px[1]).round() as usize,
        (p[0] - epie.origin_px[0]).round() as usize,
    ];
    assert!(lit[at] >= 0.5, "{}", lit[at]);
    assert!(lit[[0, 0]] < 0.1, "{}", lit[[0, 0]]);
}
