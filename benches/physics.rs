//! Physics forward + backward (Poisson loss gradient w.r.t. the object) for a batch of 16 at
//! N = 64, gridsize 1 and 2 (the |P|²-weighted merge), on the CPU (flex; with our translation
//! kernel and, `cpu_burn_*`, with the banded matrix products) and, with `PTYCHO_BENCH_WGPU=1`,
//! on the GPU.
//!
//! `cargo bench --bench physics`

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use ptychostudio::fast_cpu::set_enabled;
use ptychostudio::physics::loss::poisson_nll;
use ptychostudio::physics::merge::MergeWeights;
use ptychostudio::physics::{CTensor, ForwardModel, MergeMode};

const BATCH: usize = 16;
const N: usize = 64;

fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 1000.0)
        .collect()
}

fn step(device: &Device, gridsize: usize, merge: MergeMode) -> impl FnMut() -> f32 {
    let c = gridsize * gridsize;
    let probe = CTensor::new(
        Tensor::<2>::from_data(TensorData::new(values(N * N, 1), [N, N]), device),
        Tensor::<2>::from_data(TensorData::new(values(N * N, 2), [N, N]), device),
    );
    let model = ForwardModel::new(&probe, 100.0, merge, gridsize);
    let shape = [BATCH, c, N, N];
    let coords: Vec<[f64; 2]> = (0..BATCH * c)
        .map(|i| [(i % 3) as f64 - 1.3, (i % 5) as f64 - 2.1])
        .collect();
    let re = values(BATCH * c * N * N, 3);
    let im = values(BATCH * c * N * N, 4);
    let counts: Vec<f32> = values(BATCH * c * N * N, 5)
        .iter()
        .map(|v| (v * 50.0).round())
        .collect();
    let autodiff = device.clone().autodiff();
    move || {
        let t = |v: &Vec<f32>| Tensor::<4>::from_data(TensorData::new(v.clone(), shape), &autodiff);
        let (re_t, im_t) = (t(&re).require_grad(), t(&im).require_grad());
        let lambda = model.intensity(&CTensor::new(re_t.clone(), im_t), &coords);
        let loss = poisson_nll(lambda, t(&counts));
        let grads = loss.backward();
        re_t.grad(&grads)
            .map_or(0.0, |g| g.sum().into_scalar::<f32>())
    }
}

fn bench(c: &mut Criterion) {
    let mut devices = vec![("cpu", Device::flex())];
    if std::env::var("PTYCHO_BENCH_WGPU").is_ok_and(|v| v == "1") {
        match Device::wgpu_options().init() {
            Ok(gpu) => devices.push(("wgpu", gpu)),
            Err(e) => eprintln!("no wgpu device: {e}"),
        }
    }
    let mut group = c.benchmark_group("physics_forward_backward_b16_n64");
    group.sample_size(10);
    for (name, device) in &devices {
        // On the CPU, with our translation kernel and with the banded matrices it replaced.
        let kernels: &[(&str, bool)] = if *name == "cpu" {
            &[("", true), ("_burn", false)]
        } else {
            &[("", true)]
        };
        for (suffix, ours) in kernels {
            set_enabled(*ours);
            let mut g1 = step(device, 1, MergeMode::Off);
            group.bench_function(format!("{name}{suffix}_gridsize1"), |b| b.iter(&mut g1));
            let mut g2 = step(device, 2, MergeMode::On(MergeWeights::ProbeIntensity));
            group.bench_function(format!("{name}{suffix}_gridsize2_merge"), |b| {
                b.iter(&mut g2)
            });
        }
        set_enabled(true);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
