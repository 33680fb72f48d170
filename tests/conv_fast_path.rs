//! The CPU's 3×3 convolution kernels (`model::conv`) against Burn's own convolution, through
//! Burn's autodiff: the same outputs and gradients for the network's layer shapes, and the same
//! training losses for the same seed. One test function, because the switch between the two paths
//! is process-wide.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use burn::prelude::*;
use burn::tensor::Distribution;
use ptychostudio::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use ptychostudio::fast_cpu::set_enabled as set_fast_path;
use ptychostudio::model::blocks::conv3x3;
use ptychostudio::model::conv::{conv3x3_forward, takes_fast_path};
use ptychostudio::train::{TrainConfig, TrainControl, train};

/// Output, input gradient, weight gradient and bias gradient of one layer for a fixed loss.
fn pass(channels_in: usize, channels_out: usize, size: usize, fast: bool) -> [Vec<f32>; 4] {
    set_fast_path(fast);
    let device = Device::flex().autodiff();
    Device::flex().seed(11);
    let conv = conv3x3(channels_in, channels_out, &device);
    // Give the bias values, so its gradient and its addition are both checked.
    let bias = Tensor::<1>::random([channels_out], Distribution::Uniform(-0.5, 0.5), &device);
    let conv = burn::nn::conv::Conv2d {
        bias: Some(burn::module::Param::from_tensor(bias)),
        ..conv
    };
    let x = Tensor::<4>::random(
        [3, channels_in, size, size],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    )
    .require_grad();
    assert_eq!(takes_fast_path(&conv, &x), fast);
    let y = conv3x3_forward(&conv, x.clone());
    let weights = Tensor::<4>::random(y.dims(), Distribution::Uniform(-1.0, 1.0), &device);
    let grads = (y.clone() * weights).sum().backward();
    let flat = |t: Tensor<4>| t.try_into_vec_as::<f32>().unwrap();
    [
        flat(y),
        flat(x.grad(&grads).unwrap()),
        flat(conv.weight.val().grad(&grads).unwrap()),
        conv.bias
            .unwrap()
            .val()
            .grad(&grads)
            .unwrap()
            .try_into_vec_as::<f32>()
            .unwrap(),
    ]
}

fn largest_relative_difference(a: &[f32], b: &[f32]) -> f32 {
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max)
        / scale
}

fn losses(fast: bool) -> Vec<f64> {
    set_fast_path(fast);
    let sim = SimulationConfig {
        n: 64,
        object_size: 160,
        seed: 5,
        ..SimulationConfig::default()
    };
    let data = simulate_lines_scan(&sim, ScanPattern::Random { count: 32 }, 3)
        .unwrap()
        .dataset;
    let config = TrainConfig {
        n_groups: 32,
        batch_size: 8,
        nepochs: 2,
        n_filters_scale: 1,
        validation_fraction: 0.0,
        early_stopping_patience: 0,
        seed: 9,
        ..TrainConfig::default()
    };
    let outcome = train(
        &data,
        None,
        &config,
        &Device::flex(),
        &TrainControl::default(),
        None,
    )
    .unwrap();
    outcome
        .bundle
        .history
        .iter()
        .map(|r| r.train_loss)
        .collect()
}

#[test]
fn the_fast_cpu_convolution_agrees_with_burns() {
    // The network's shapes (channels and sizes) at N = 64, nfs 1, and the odd ones of the heads
    // (the second and third take the Winograd path in the forward and the input gradient, the
    // others im2col).
    for (c_in, c_out, size) in [
        (1, 32, 64),
        (32, 64, 32),
        (64, 32, 16),
        (128, 64, 8),
        (60, 1, 32),
        (4, 3, 16),
    ] {
        let fast = pass(c_in, c_out, size, true);
        let burn = pass(c_in, c_out, size, false);
        for (name, (f, b)) in ["output", "input grad", "weight grad", "bias grad"]
            .iter()
            .zip(fast.iter().zip(&burn))
        {
            let d = largest_relative_difference(f, b);
            assert!(
                d < 1e-4,
                "{c_in}->{c_out} at {size}: {name} differs by {d:.2e}"
            );
        }
    }
    // Two epochs of training from one seed, with every convolution by im2col and with the
    // Winograd path where it applies: the losses agree with Burn's to summation order.
    let burn = losses(false);
    for winograd in [false, true] {
        ptychostudio::fast_cpu::set_winograd(winograd);
        let fast = losses(true);
        assert_eq!(fast.len(), burn.len());
        for (epoch, (f, b)) in fast.iter().zip(&burn).enumerate() {
            let rel = (f - b).abs() / b.abs();
            println!(
                "winograd {winograd}, epoch {}: fast {f:.6} burn {b:.6} (relative {rel:.1e})",
                epoch + 1
            );
            assert!(
                rel < 1e-3,
                "winograd {winograd}, epoch {}: {f} vs {b}",
                epoch + 1
            );
        }
    }
    ptychostudio::fast_cpu::set_winograd(true);
    set_fast_path(true);
}
