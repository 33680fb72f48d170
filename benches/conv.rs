//! The network's 3×3 convolutions on the CPU, forward + backward through autodiff, per layer
//! shape (batch 16, N = 64, nfs 2), with our matrix-product kernels ("gemm") and with Burn's own
//! convolution ("burn"): the breakdown behind `bench`'s training figure.
//!
//! `cargo bench --bench conv`

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group, criterion_main};
use ptychostudio::fast_cpu::set_enabled as set_fast_path;
use ptychostudio::model::blocks::conv3x3;
use ptychostudio::model::conv::conv3x3_forward;

const BATCH: usize = 16;

/// (c_in, c_out, size): one of each distinct layer of the N = 64, nfs = 2 network.
const LAYERS: [(usize, usize, usize); 8] = [
    (1, 64, 64),
    (64, 64, 64),
    (64, 128, 32),
    (128, 128, 32),
    (128, 256, 16),
    (256, 256, 16),
    (256, 128, 8),
    (64, 64, 32),
];

fn bench(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    let mut group = c.benchmark_group("conv3x3_forward_backward_b16");
    group.sample_size(10);
    for (c_in, c_out, size) in LAYERS {
        let conv = conv3x3(c_in, c_out, &device);
        let x = Tensor::<4>::random(
            [BATCH, c_in, size, size],
            Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        for (name, fast) in [("gemm", true), ("burn", false)] {
            group.bench_function(format!("{c_in}x{c_out}@{size}/{name}"), |b| {
                set_fast_path(fast);
                b.iter(|| {
                    let input = x.clone().require_grad();
                    let y = conv3x3_forward(&conv, input.clone());
                    let grads = y.sum().backward();
                    input.grad(&grads).map(|g| g.dims())
                });
            });
        }
    }
    set_fast_path(true);
    group.finish();
}

/// The three kernels alone, on slices (no Burn): what the matrix products leave to gain, and the
/// im2col path beside the Winograd one.
fn kernels(c: &mut Criterion) {
    use ptychostudio::model::conv::kernels::{
        ConvShape, forward, forward_im2col, input_grad, weight_grads,
    };
    let mut group = c.benchmark_group("conv3x3_kernels_b16");
    group.sample_size(10);
    for (c_in, c_out, size) in LAYERS {
        let shape = ConvShape {
            batch: BATCH,
            channels_in: c_in,
            channels_out: c_out,
            height: size,
            width: size,
        };
        let x: Vec<f32> = (0..BATCH * c_in * size * size)
            .map(|i| (i % 13) as f32 * 0.1)
            .collect();
        let w: Vec<f32> = (0..c_out * c_in * 9)
            .map(|i| (i % 7) as f32 * 0.1)
            .collect();
        let b = vec![0.5f32; c_out];
        let dy: Vec<f32> = (0..BATCH * c_out * size * size)
            .map(|i| (i % 11) as f32 * 0.1)
            .collect();
        let tag = format!("{c_in}x{c_out}@{size}");
        group.bench_function(format!("{tag}/forward"), |bench| {
            bench.iter(|| forward(&x, &w, Some(&b), &shape).len());
        });
        group.bench_function(format!("{tag}/input_grad"), |bench| {
            bench.iter(|| input_grad(&dy, &w, &shape).len());
        });
        group.bench_function(format!("{tag}/weight_grads"), |bench| {
            bench.iter(|| weight_grads(&x, &dy, &shape).0.len());
        });
        // The im2col path the Winograd one replaced where it applies, for the ratio.
        group.bench_function(format!("{tag}/forward_im2col"), |bench| {
            bench.iter(|| forward_im2col(&x, &w, Some(&b), &shape).len());
        });
    }
    group.finish();
}

criterion_group!(benches, bench, kernels);
criterion_main!(benches);
