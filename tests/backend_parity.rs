//! CPU ↔ GPU parity (the reference's TensorFlow ↔ PyTorch parity, for us): a model trained and
//! saved on the GPU loads on the CPU and predicts the same patches; one seed gives the same loss
//! curve on both. Needs a GPU adapter, so it is ignored in CI:
//! `cargo test --test backend_parity -- --ignored --nocapture`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use burn::prelude::*;
use ptychostudio::data::Dataset;
use ptychostudio::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use ptychostudio::device::{DeviceChoice, build_device};
use ptychostudio::infer::predict_patches;
use ptychostudio::train::{ModelBundle, TrainConfig, TrainControl, train};

/// Largest relative difference of an epoch's training loss between the backends.
const LOSS_TOLERANCE: f64 = 2e-2;
/// Largest |Δ| of a predicted complex patch value (amplitudes are ≤ 1).
const PATCH_TOLERANCE: f32 = 1e-3;

fn scan() -> Dataset {
    let config = SimulationConfig {
        n: 64,
        object_size: 160,
        seed: 3,
        ..SimulationConfig::default()
    };
    simulate_lines_scan(&config, ScanPattern::Random { count: 96 }, 9)
        .unwrap()
        .dataset
}

#[test]
#[ignore = "needs a GPU adapter (wgpu); CI has none"]
fn gpu_and_cpu_agree() {
    let gpu = build_device(DeviceChoice::Wgpu, false).expect("a GPU adapter");
    let cpu = Device::flex();
    let data = scan();
    let config = TrainConfig {
        n_groups: 96,
        nepochs: 3,
        early_stopping_patience: 0,
        seed: 17,
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let on = |device: &Device, out: Option<std::path::PathBuf>| {
        let control = TrainControl {
            output_dir: out,
            ..TrainControl::default()
        };
        train(&data, None, &config, device, &control, None).unwrap()
    };
    let gpu_run = on(&gpu, Some(dir.path().to_path_buf()));
    let cpu_run = on(&cpu, None);
    for (g, c) in gpu_run.bundle.history.iter().zip(&cpu_run.bundle.history) {
        let rel = (g.train_loss - c.train_loss).abs() / c.train_loss.abs();
        println!(
            "epoch {}: GPU {:.6} CPU {:.6} (relative {rel:.2e}); {:.0} vs {:.0} patterns/s",
            g.epoch, g.train_loss, c.train_loss, g.patterns_per_s, c.patterns_per_s
        );
        assert!(rel <= LOSS_TOLERANCE, "epoch {}: {rel}", g.epoch);
    }
    // Saved on the GPU, loaded on the CPU: the same patches.
    let loaded = ModelBundle::load(dir.path(), &cpu).unwrap();
    let groups = ptychostudio::data::Groups::build(&data, &config.grouping()).unwrap();
    let factor = groups.normalization_factor(&data).unwrap() as f32;
    let x = groups
        .diffraction(&data, 0..32)
        .unwrap()
        .mapv(|v| v * factor);
    let on_gpu = predict_patches(&gpu_run.bundle.network, &x, &gpu).unwrap();
    let on_cpu = predict_patches(&loaded.network, &x, &cpu).unwrap();
    let diff = on_gpu
        .iter()
        .zip(on_cpu.iter())
        .map(|(a, b)| (a - b).norm())
        .fold(0.0f32, f32::max);
    println!("GPU-trained model, GPU vs CPU prediction: max |Δ| = {diff:e}");
    assert!(diff <= PATCH_TOLERANCE, "{diff}");
}
