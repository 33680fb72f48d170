//! Training must learn the phase. A pure-phase object (constant amplitude, the phase carries
//! every feature) leaves the network nothing to explain its patterns with but the phase: a
//! regression that keeps the phase flat (a broken phase head, a sign or frame error, an
//! optimiser that kills the phase decoder's units) scores near zero here and fails CI.
//! Small enough for CI on two cores.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use burn::prelude::*;
use num_complex::Complex32;
use ptychostudio::data::simulate::{
    ScanPattern, SimulationConfig, default_probe, lines_object, scan_positions, simulate_scan,
};
use ptychostudio::infer::stitch::StitchWeights;
use ptychostudio::infer::{InferOptions, reconstruct};
use ptychostudio::metrics::evaluate;
use ptychostudio::train::{TrainConfig, TrainControl, train};

const OBJECT_SIZE: usize = 140;
const NPHOTONS: f64 = 1e7;

#[test]
fn training_recovers_the_phase_of_a_phase_object() {
    let config = SimulationConfig {
        object_size: OBJECT_SIZE,
        nphotons: NPHOTONS,
        seed: 4,
        ..SimulationConfig::default()
    };
    // The lines image as the phase (0 to 1 rad) under a constant amplitude of 0.8.
    let object = lines_object(&config).mapv(|v| Complex32::from_polar(0.8, v.norm()));
    let probe = default_probe(64);
    let positions = scan_positions(ScanPattern::Raster { step_px: 6.0 }, 64, OBJECT_SIZE, 4);
    let data = simulate_scan(&object, &probe, positions, NPHOTONS, 4)
        .unwrap()
        .dataset;
    let train_config = TrainConfig {
        n: 64,
        n_filters_scale: 1,
        n_groups: data.len(),
        batch_size: 8,
        nepochs: EPOCHS,
        early_stopping_patience: 0,
        validation_fraction: 0.0,
        nphotons: NPHOTONS,
        warmup_steps: 20,
        seed: 2,
        ..TrainConfig::default()
    };
    let device = Device::flex();
    let outcome = train(
        &data,
        None,
        &train_config,
        &device,
        &TrainControl::default(),
        None,
    )
    .unwrap();
    let stitched = reconstruct(
        &outcome.bundle.network,
        &data,
        &InferOptions::default(),
        &device,
        |_, _, _| true,
    )
    .unwrap();
    let weights = StitchWeights::Illumination.patch_weights(data.probe());
    let e = evaluate(
        &stitched.object,
        stitched.origin_px,
        &object,
        data.positions_px(),
        false,
        Some(&weights),
    )
    .unwrap();
    let phase = e.phase.pearson.unwrap();
    println!(
        "{} patterns, {EPOCHS} epochs: loss {:.3} → {:.3}; phase Pearson {phase:.4}, SSIM {:.4}; \
         {} twins",
        data.len(),
        outcome.bundle.history[0].train_loss,
        outcome.bundle.history.last().unwrap().train_loss,
        e.phase.ssim.unwrap(),
        stitched.twins
    );
    assert!(phase >= MIN_PHASE_PEARSON, "phase Pearson {phase}");
}

/// Epochs of training.
const EPOCHS: usize = 12;

/// Measured on the development machine (see the test's output); the bound leaves room for
/// platform rounding, not for a flat phase.
const MIN_PHASE_PEARSON: f64 = 0.5;
