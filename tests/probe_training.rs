//! The trainable probe (`train_probe`): given a probe with an error the data contradict (a
//! defocus: a quadratic phase across it), training the probe jointly with the network must
//! move it towards the probe that made the data and explain the data better than the network
//! alone can with the wrong probe held fixed (CPU, under a minute).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use burn::prelude::*;
use ndarray::Array2;
use num_complex::Complex32;
use ptychostudio::data::{Dataset, LoadOptions, load};
use ptychostudio::train::{TrainConfig, TrainControl, train};

/// The reference's own simulation of the §9 case (512 positions, 1e9 photons).
fn reference_scan() -> Dataset {
    let path = Path::new("../shared/data/reference_lines/train.npz");
    load(path, &LoadOptions::default()).unwrap().dataset
}

/// `probe` times e^{iπ r² / r0²} about its centre: a defocus of π at radius `r0_px`.
fn defocused(probe: &Array2<Complex32>, r0_px: f32) -> Array2<Complex32> {
    let (h, w) = probe.dim();
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    Array2::from_shape_fn((h, w), |(y, x)| {
        let r2 = (y as f32 - cy).powi(2) + (x as f32 - cx).powi(2);
        probe[[y, x]] * Complex32::from_polar(1.0, std::f32::consts::PI * r2 / (r0_px * r0_px))
    })
}

/// |⟨a, b⟩| / (‖a‖ ‖b‖): 1 when the probes agree up to a scale and a global phase.
fn overlap(a: &Array2<Complex32>, b: &Array2<Complex32>) -> f64 {
    let dot: Complex32 = a.iter().zip(b).map(|(x, y)| x.conj() * y).sum();
    let norm = |p: &Array2<Complex32>| p.iter().map(|z| f64::from(z.norm_sqr())).sum::<f64>();
    f64::from(dot.norm()) / (norm(a) * norm(b)).sqrt()
}

#[test]
fn a_trained_probe_moves_towards_the_true_one_and_fits_the_data_better() {
    let truth = reference_scan();
    let wrong_probe = defocused(truth.probe(), 12.0);
    let data = truth.with_probe(wrong_probe.clone()).unwrap();
    let fixed = TrainConfig {
        n: 64,
        n_filters_scale: 1,
        n_groups: 32,
        batch_size: 4,
        nepochs: 4,
        early_stopping_patience: 0,
        validation_fraction: 0.0,
        seed: 3,
        train_probe: false,
        // The network's own probe training is what is tested: no ePIE check first.
        probe_from_epie: 0,
        ..TrainConfig::default()
    };
    let trained = TrainConfig {
        train_probe: true,
        probe_learning_rate: 1e-2,
        ..fixed.clone()
    };
    let cpu = Device::flex();
    let run = |config: &TrainConfig| {
        train(&data, None, config, &cpu, &TrainControl::default(), None)
            .unwrap()
            .bundle
    };
    let (with_fixed, with_trained) = (run(&fixed), run(&trained));
    let last_loss = |b: &ptychostudio::train::ModelBundle| b.history.last().unwrap().train_loss;
    let before = overlap(&wrong_probe, truth.probe());
    let after = overlap(&with_trained.probe, truth.probe());
    println!(
        "probe overlap with the truth: given {before:.4}, learned {after:.4}; last epoch's loss \
         per pixel: fixed {:.2}, trained {:.2}",
        last_loss(&with_fixed),
        last_loss(&with_trained)
    );
    assert_eq!(
        with_fixed.probe, wrong_probe,
        "a fixed probe is saved as given"
    );
    // Measured: overlap 0.760 → 0.810; loss 40 854 (fixed) against 35 432 (trained), 0.87×.
    // The bounds ask for about half of each gain.
    assert!(
        after - before > 0.025,
        "the learned probe did not move towards the truth: {before:.4} → {after:.4}"
    );
    assert!(
        last_loss(&with_trained) < 0.93 * last_loss(&with_fixed),
        "a trained probe should explain the data better than the wrong one held fixed"
    );
}

/// The rms amplitude of the central half (each way) of `object`, the well-lit middle of a scan.
fn central_rms(object: &Array2<Complex32>) -> f64 {
    let (h, w) = object.dim();
    let centre = object.slice(ndarray::s![h / 4..3 * h / 4, w / 4..3 * w / 4]);
    let sum: f64 = centre.iter().map(|z| f64::from(z.norm_sqr())).sum();
    (sum / centre.len() as f64).sqrt()
}

/// `amplitude_target` sets the object amplitude the network works at: the probe's scale is set
/// so that an object of that rms explains the data's energy, and a short run lands there. The
/// network starts at sigmoid(0) = 0.5; under §3.3's normalisation alone the reference's own
/// probe asks for 0.639 (this run measured 0.601 there), so landing at 0.35 is the gain's doing.
/// The probe is held fixed: a trained probe keeps mean |P| but may reshape, which moves the
/// operating point too (with it trained this run lands at 0.41).
#[test]
fn the_amplitude_target_sets_the_objects_operating_point() {
    use burn::module::Module;
    use ptychostudio::infer::{InferOptions, reconstruct};
    let data = reference_scan();
    let target = 0.35;
    let config = TrainConfig {
        n: 64,
        n_filters_scale: 1,
        n_groups: 32,
        batch_size: 4,
        nepochs: 8,
        early_stopping_patience: 0,
        validation_fraction: 0.0,
        seed: 5,
        train_probe: false,
        probe_from_epie: 0,
        amplitude_target: Some(target),
        ..TrainConfig::default()
    };
    let cpu = Device::flex();
    let bundle = train(&data, None, &config, &cpu, &TrainControl::default(), None)
        .unwrap()
        .bundle;
    let stitched = reconstruct(
        &bundle.network.valid(),
        &data,
        &InferOptions::default(),
        &cpu,
        |_, _, _| true,
    )
    .unwrap();
    let rms = central_rms(&stitched.object);
    let gain = bundle.manifest.probe_gain;
    println!("central rms amplitude {rms:.3} for a target of {target} (probe × {gain:.3})");
    assert!((gain - 0.639 / target).abs() < 0.01, "gain {gain}");
    // Measured 0.356.
    assert!(
        (rms - target).abs() < 0.1 * target,
        "the object did not move to its target: rms {rms:.3}, target {target}"
    );
}

/// The default check before training (`probe_from_epie`, ePIE held against refined): the
/// defocused guess is replaced by ePIE's refined probe, which is nearer the probe that made the
/// data, and the model records the check; the exact probe is kept as it is.
#[test]
fn the_probe_check_replaces_a_wrong_probe_and_keeps_an_exact_one() {
    let truth = reference_scan();
    let wrong_probe = defocused(truth.probe(), 12.0);
    let config = TrainConfig {
        n: 64,
        n_filters_scale: 1,
        n_groups: 8,
        batch_size: 4,
        nepochs: 1,
        early_stopping_patience: 0,
        validation_fraction: 0.0,
        seed: 3,
        train_probe: false,
        ..TrainConfig::default()
    };
    let cpu = Device::flex();
    let run = |data: &Dataset| {
        train(data, None, &config, &cpu, &TrainControl::default(), None)
            .unwrap()
            .bundle
    };
    let wrong = run(&truth.with_probe(wrong_probe.clone()).unwrap());
    let check = wrong.manifest.probe_check.unwrap();
    println!("defocused guess: {check:?}");
    assert!(check.refined_used, "{check:?}");
    assert!(check.error_held > 2.0 * check.error_refined);
    let before = overlap(&wrong_probe, truth.probe());
    let after = overlap(&wrong.probe, truth.probe());
    println!("overlap with the true probe: guess {before:.3}, trained with {after:.3}");
    assert!(after > before + 0.1, "{before:.3} -> {after:.3}");

    let exact = run(&truth);
    let check = exact.manifest.probe_check.unwrap();
    println!("exact probe: {check:?}");
    assert!(!check.refined_used, "{check:?}");
    assert_eq!(&exact.probe, truth.probe());
}
