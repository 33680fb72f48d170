//! ePIE seeded by another reconstruction (`infer --refine-epie`, `bench quality --refine-epie`):
//! it starts from the object and probe it is given, rescaled to the measured photon count.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use ndarray::Array2;
use num_complex::Complex32;
use ptychostudio::data::simulate::{
    ScanPattern, SimulationConfig, default_probe, lines_object, scan_positions, simulate_scan,
};
use ptychostudio::epie::seed::{SeedError, run_seeded};
use ptychostudio::epie::{Epie, EpieConfig, run_epie};

fn scan() -> ptychostudio::data::Dataset {
    let config = SimulationConfig {
        object_size: 160,
        nphotons: 1e6,
        seed: 3,
        ..Default::default()
    };
    let positions = scan_positions(ScanPattern::Random { count: 80 }, 64, 160, 5);
    simulate_scan(
        &lines_object(&config),
        &default_probe(64),
        positions,
        1e6,
        6,
    )
    .unwrap()
    .dataset
}

/// Seeded with the true object and a probe of the wrong scale (as the network's normalised probe
/// is), the first sweep already explains the data far better than ePIE from a flat start, and the
/// probe is scaled back to the data's photon count.
#[test]
fn seeded_epie_starts_from_the_given_object() {
    let scan = scan();
    let object = scan.object().unwrap().to_owned();
    let probe = scan.probe().mapv(|p| p * 0.01);
    let config = EpieConfig {
        iterations: 1,
        ..EpieConfig::default()
    };
    let (seeded, summary) =
        run_seeded(&scan, config, (&object, [0.0, 0.0]), &probe, |_| true).unwrap();
    let scratch = run_epie(&scan, config, |_| true).unwrap();
    println!(
        "first sweep's Fourier error: seeded {:.3e}, from scratch {:.3e}; probe scale {:.2}",
        seeded.errors[0], scratch.errors[0], summary.probe_scale
    );
    assert!(
        seeded.errors[0] < 0.2 * scratch.errors[0],
        "seeded {:.3e} vs scratch {:.3e}",
        seeded.errors[0],
        scratch.errors[0]
    );
    assert!(
        (summary.probe_scale - 100.0).abs() < 10.0,
        "the probe was 100× too weak; scale found {:.2}",
        summary.probe_scale
    );
    assert!(summary.pixels_seeded > 100 * 100);
}

/// A probe of the wrong shape, or a seed with no photons, is refused with the shapes named.
#[test]
fn a_seed_that_does_not_fit_is_refused() {
    let scan = scan();
    let mut epie = Epie::new(&scan, EpieConfig::default()).unwrap();
    let object = scan.object().unwrap().to_owned();
    let small = Array2::from_elem((32, 32), Complex32::new(1.0, 0.0));
    let err = epie.seed(&object, [0.0, 0.0], &small).unwrap_err();
    assert_eq!(
        err,
        SeedError::ProbeShape {
            found: [32, 32],
            expected: [64, 64]
        }
    );
    assert!(err.to_string().contains("[32, 32]"));
    let zero = Array2::zeros((64, 64));
    assert_eq!(
        epie.seed(&object, [0.0, 0.0], &zero).unwrap_err(),
        SeedError::Empty
    );
}
