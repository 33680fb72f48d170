//! The position-error case the diagnoses share: the reference's `lines-512` test scan with its
//! positions displaced.

#![allow(clippy::unwrap_used)] // a measurement run by hand: a failed unwrap says what is missing

use std::path::Path;

use ptychostudio::data::Dataset;
use ptychostudio::data::load::{LoadOptions, load};
use ptychostudio::positions::{PositionErrors, displace, error_stats};

/// The reference's `lines-512` test scan, its true positions, and the positions given: the
/// quality case's errors (`PositionErrors::default()`), or jitter alone of `PTYCHO_JITTER` px
/// RMS when that is set. Prints how far the given positions are from the truth.
pub fn lines512_displaced() -> (Dataset, Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let path = Path::new("../shared/data/reference_lines/test.npz");
    let scan = load(path, &LoadOptions::default()).unwrap().dataset;
    let truth = scan.positions_px().to_vec();
    let jitter = std::env::var("PTYCHO_JITTER")
        .ok()
        .map(|v| v.parse::<f64>().unwrap());
    let errors = jitter.map_or_else(PositionErrors::default, |rms_px| PositionErrors {
        rms_px,
        outlier_fraction: 0.0,
        drift_px: [0.0, 0.0],
        ..PositionErrors::default()
    });
    let given = displace(&truth, &errors);
    println!("given: {:?}", error_stats(&given, &truth));
    (scan, truth, given)
}
