//! ePIE's position correction on `lines-512-positions` (the reference's `lines-512` test file,
//! its positions given displaced by `PositionErrors::default()`), several settings side by
//! side: run by hand, `cargo test --test diagnosis position_tuning -- --ignored --nocapture`. Each line:
//! the positions against the truth (global shift removed) and the object's Pearson against the
//! true object over the pixels lit at the true positions.

#![allow(clippy::unwrap_used)] // a measurement run by hand: a failed unwrap says what is missing

use std::path::Path;

use ptychostudio::data::load::{LoadOptions, load};
use ptychostudio::epie::positions::PositionCorrection;
use ptychostudio::epie::{EpieConfig, run_epie};
use ptychostudio::infer::stitch::StitchWeights;
use ptychostudio::metrics::evaluate::evaluate;
use ptychostudio::positions::{PositionErrors, displace, error_stats};

/// The settings compared, by name.
fn settings() -> Vec<(&'static str, Option<PositionCorrection>)> {
    vec![
        ("no correction", None),
        ("default", Some(PositionCorrection::default())),
        (
            "sub-pixel steps only",
            Some(PositionCorrection {
                coarse_count: 0,
                ..PositionCorrection::default()
            }),
        ),
        (
            "coarse search only",
            Some(PositionCorrection {
                max_step_px: 0.0,
                ..PositionCorrection::default()
            }),
        ),
        (
            "sub-pixel steps from sweep 15",
            Some(PositionCorrection {
                coarse_count: 0,
                start: 15,
                ..PositionCorrection::default()
            }),
        ),
        (
            "search all, every sweep, ±12 px",
            Some(PositionCorrection {
                coarse_every: 1,
                coarse_count: 20,
                search_px: 12,
                step_px: 2,
                min_gain: 0.02,
                suspect_factor: 0.0,
                ..PositionCorrection::default()
            }),
        ),
        (
            "search all, every 3rd sweep, ±8 px",
            Some(PositionCorrection {
                coarse_every: 3,
                coarse_count: 10,
                search_px: 8,
                step_px: 2,
                min_gain: 0.02,
                suspect_factor: 0.0,
                ..PositionCorrection::default()
            }),
        ),
        (
            "search all, every sweep, ±4 px",
            Some(PositionCorrection {
                coarse_every: 1,
                coarse_count: 30,
                search_px: 4,
                step_px: 1,
                min_gain: 0.0,
                suspect_factor: 0.0,
                ..PositionCorrection::default()
            }),
        ),
    ]
}

#[test]
#[ignore = "a measurement on the reference's lines-512 file: run by hand"]
fn position_correction_settings_on_lines_512_positions() {
    let path = Path::new("../shared/data/reference_lines/test.npz");
    let truth_scan = load(path, &LoadOptions::default()).unwrap().dataset;
    let truth = truth_scan.positions_px().to_vec();
    let given = displace(&truth, &PositionErrors::default());
    let scan = truth_scan.with_positions(given.clone()).unwrap();
    let object = truth_scan.object().unwrap();
    let weights = StitchWeights::Illumination.patch_weights(truth_scan.probe());
    println!("given: {:?}", error_stats(&given, &truth));
    let sweeps: usize = std::env::var("PTYCHO_SWEEPS").map_or(40, |s| s.parse().unwrap());
    let settings = settings();
    for (name, correction) in settings {
        let result = run_epie(
            &scan,
            EpieConfig {
                iterations: sweeps,
                correct_positions: correction,
                ..EpieConfig::default()
            },
            |_| true,
        )
        .unwrap();
        let stats = error_stats(&result.positions_px, &truth);
        // Score at the true positions' frame: move the object by the mean position error.
        let shift = stats.mean_shift_px;
        let origin = [
            result.origin_px[0] - shift[0],
            result.origin_px[1] - shift[1],
        ];
        let e = evaluate(
            &result.object,
            origin,
            object,
            &truth,
            false,
            Some(&weights),
        )
        .unwrap();
        println!(
            "{name:<28} positions {:.2} px RMS, largest {:.1}, beyond 3 px {}; amplitude / phase \
             {:.3} / {:.3}; Fourier error {:.3e}",
            stats.rms_px,
            stats.max_px,
            stats.beyond_3px,
            e.amplitude.pearson.unwrap_or(f64::NAN),
            e.phase.pearson.unwrap_or(f64::NAN),
            result.errors.last().unwrap()
        );
    }
}
