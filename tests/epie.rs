//! ePIE recovers a known object from simulated data, and converges on the real Siemens star.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use ptychostudio::data::simulate::{
    ScanPattern, SimulationConfig, default_probe, lines_object, scan_positions, simulate_scan,
};
use ptychostudio::data::{LoadOptions, load};
use ptychostudio::epie::{EpieConfig, run_epie};
use ptychostudio::metrics::{align, crop_to_scan, evaluate, pearson};

fn flat(a: &ndarray::Array2<f32>) -> Vec<f32> {
    a.iter().copied().collect()
}

/// Measured (2026-11-25, this configuration, 40 sweeps): phase Pearson 0.9953, amplitude
/// Pearson 0.9967, final Fourier error 7.7e-4. The bounds (0.99) leave room for platform
/// rounding, not for a broken solver.
#[test]
fn epie_recovers_the_simulated_phase() {
    let config = SimulationConfig {
        object_size: 200,
        nphotons: 1e6,
        seed: 5,
        ..Default::default()
    };
    let object = lines_object(&config);
    let probe = default_probe(64);
    let positions = scan_positions(ScanPattern::Raster { step_px: 6.0 }, 64, 200, 5);
    let sim = simulate_scan(&object, &probe, positions, config.nphotons, 6).unwrap();
    let ds = sim.dataset;
    let result = run_epie(
        &ds,
        EpieConfig {
            iterations: 40,
            ..Default::default()
        },
        |_| true,
    )
    .unwrap();
    let errors = &result.errors;
    assert!(errors[39] < 0.5 * errors[0], "error falls: {errors:?}");
    let (r, t) = crop_to_scan(
        &result.object,
        result.origin_px,
        ds.object().unwrap(),
        ds.positions_px(),
    )
    .unwrap();
    let pair = align(&r, &t);
    let phase = pearson(&flat(&pair.recon_phase), &flat(&pair.truth_phase)).unwrap();
    let amplitude = pearson(&flat(&pair.recon_amplitude), &flat(&pair.truth_amplitude)).unwrap();
    println!(
        "simulated ePIE: phase Pearson {phase:.4}, amplitude Pearson {amplitude:.4}, final error {:.4e}",
        errors[39]
    );
    assert!(phase > 0.99, "phase Pearson {phase}");
    let e = evaluate(
        &result.object,
        result.origin_px,
        ds.object().unwrap(),
        ds.positions_px(),
        true,
        None,
    )
    .unwrap();
    println!(
        "simulated ePIE, full §7 evaluation: {}",
        serde_json::to_string(&e).unwrap()
    );
    assert!(
        e.shift_px[0].abs() < 0.5 && e.shift_px[1].abs() < 0.5,
        "positions are exact: {:?}",
        e.shift_px
    );
    assert!(amplitude > 0.99, "amplitude Pearson {amplitude}");
}

#[test]
fn epie_converges_on_the_real_siemens_star() {
    let path = Path::new("../shared/data/siemens_star_tike.npz");
    let ds = load(path, &LoadOptions::default()).unwrap().dataset;
    assert_eq!((ds.len(), ds.n()), (516, 128));
    let result = run_epie(
        &ds,
        EpieConfig {
            iterations: 8,
            ..Default::default()
        },
        |_| true,
    )
    .unwrap();
    let e = &result.errors;
    println!("Siemens star ePIE errors: {e:?}");
    assert!(
        e.windows(2).skip(1).all(|w| w[1] <= w[0] * 1.02),
        "error keeps falling: {e:?}"
    );
    // Measured: 0.174 after the first sweep, 0.0194 after the eighth.
    assert!(e[7] < 0.2 * e[0], "error: {e:?}");
}
