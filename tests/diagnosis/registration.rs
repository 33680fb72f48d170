//! Diagnosis of the network's position registration on `lines-512-positions`, with a trained
//! model (too slow for CI: run by hand). Train one, for example
//! `ptychostudio bench quality --case lines-512-positions --output-dir out/pos/given`, then
//! `PTYCHO_POSITIONS_MODEL=out/pos/given/model cargo test --test diagnosis registration --
//! --ignored --nocapture`. Prints how far the registration takes the positions from the truth,
//! started from the given (displaced) positions and from the true ones.

#![allow(clippy::unwrap_used)] // a diagnosis run by hand: a failed unwrap says what is missing

use std::path::{Path, PathBuf};

use burn::module::Module;
use ptychostudio::data::load::{LoadOptions, load};
use ptychostudio::data::normalize::normalization_factor;
use ptychostudio::device::{DeviceChoice, build_device};
use ptychostudio::infer::positions::{RegistrationOptions, refine_positions};
use ptychostudio::infer::stitch::StitchWeights;
use ptychostudio::positions::{PositionErrors, displace, error_stats};
use ptychostudio::train::ModelBundle;
use ptychostudio::train::positions::predict_all;

#[test]
#[ignore = "needs a trained model: PTYCHO_POSITIONS_MODEL=DIR"]
fn registration_with_a_trained_model() {
    let model = PathBuf::from(std::env::var("PTYCHO_POSITIONS_MODEL").unwrap());
    let device = build_device(DeviceChoice::Cpu, false).unwrap();
    let bundle = ModelBundle::load(&model, &device).unwrap();
    let path = Path::new("../shared/data/reference_lines/test.npz");
    let truth_scan = load(path, &LoadOptions::default()).unwrap().dataset;
    let truth = truth_scan.positions_px().to_vec();
    let given = displace(&truth, &PositionErrors::default());
    let scan = truth_scan.with_positions(given.clone()).unwrap();
    let factor = normalization_factor(&scan.diffraction().unwrap()).unwrap();
    let patches = predict_all(&bundle.network.valid(), &scan, factor, &device).unwrap();
    let weights = StitchWeights::Illumination.patch_weights(&bundle.probe);
    println!("given: {:?}", error_stats(&given, &truth));
    for search_px in [8usize, 16, 32] {
        let options = RegistrationOptions {
            search_px,
            ..RegistrationOptions::default()
        };
        let (refined, summary) = refine_positions(&patches, (&given, &given), &weights, &options);
        println!(
            "from the given, search ±{search_px} px: {:?} {summary:?}",
            error_stats(&refined, &truth)
        );
    }
    let options = RegistrationOptions::default();
    let (refined, _) = refine_positions(&patches, (&truth, &truth), &weights, &options);
    println!("from the truth: {:?}", error_stats(&refined, &truth));
}
