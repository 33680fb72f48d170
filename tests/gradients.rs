//! Finite-difference checks of the loss gradient with respect to the object, through the DFT,
//! the translation and the merge; and the DFT path against rustfft.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use burn::prelude::*;
use num_complex::Complex32;
use ptychostudio::fft::Fft2;
use ptychostudio::physics::loss::poisson_nll;
use ptychostudio::physics::merge::MergeWeights;
use ptychostudio::physics::{CTensor, Dft2, ForwardModel, MergeMode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rng: &mut ChaCha8Rng, len: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// The scalar loss for object parts (re, im) given as host vectors.
struct Problem {
    dims: [usize; 4],
    model: ForwardModel,
    coords: Vec<[f64; 2]>,
    counts: Vec<f32>,
}

impl Problem {
    fn new(merge: MergeMode, gridsize: usize, seed: u64) -> Self {
        let device = Device::flex();
        let (b, n) = (2, 16);
        let c = gridsize * gridsize;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let probe_re = random(&mut rng, n * n, 0.2, 1.0);
        let probe_im = random(&mut rng, n * n, -0.3, 0.3);
        let t2 = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, n]), &device);
        let probe = CTensor::new(t2(probe_re), t2(probe_im));
        let model = ForwardModel::new(&probe, 1.0, merge, gridsize);
        let coords = (0..b * c)
            .map(|_| [rng.random_range(-2.5..2.5), rng.random_range(-2.5..2.5)])
            .collect();
        let mut problem = Self {
            dims: [b, c, n, n],
            model,
            coords,
            counts: Vec::new(),
        };
        // Counts near what a slightly different object predicts: λ ≈ k, as in training, so the
        // loss is smooth on the scale of the finite-difference step.
        let len = b * c * n * n;
        let re = random(&mut rng, len, 0.3, 1.0);
        let im = random(&mut rng, len, -0.5, 0.5);
        let device = Device::flex();
        let object = CTensor::new(problem.tensor(&re, &device), problem.tensor(&im, &device));
        let lambda = problem
            .model
            .intensity(&object, &problem.coords)
            .try_into_vec_as::<f32>()
            .unwrap();
        problem.counts = lambda.iter().map(|v| v.round()).collect();
        problem
    }

    fn tensor(&self, v: &[f32], device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(v.to_vec(), self.dims), device)
    }

    fn loss(&self, re: &[f32], im: &[f32], device: &Device) -> Tensor<1> {
        let object = CTensor::new(self.tensor(re, device), self.tensor(im, device));
        let lambda = self.model.intensity(&object, &self.coords);
        poisson_nll(lambda, self.tensor(&self.counts, device))
    }

    fn value(&self, re: &[f32], im: &[f32]) -> f64 {
        f64::from(self.loss(re, im, &Device::flex()).into_scalar::<f32>())
    }

    /// The same loss with the per-pixel terms summed on the host in f64: a single coordinate
    /// moves the loss by less than f32 resolves in a reduced sum.
    fn value_f64(&self, re: &[f32], im: &[f32]) -> f64 {
        let device = Device::flex();
        let object = CTensor::new(self.tensor(re, &device), self.tensor(im, &device));
        let lambda = self
            .model
            .intensity(&object, &self.coords)
            .try_into_vec_as::<f32>()
            .unwrap();
        let total: f64 = lambda
            .iter()
            .zip(&self.counts)
            .map(|(&l, &k)| f64::from(l) - f64::from(k) * (f64::from(l) + 1e-12).ln())
            .sum();
        total / lambda.len() as f64
    }

    fn gradient(&self, re: &[f32], im: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let device = Device::flex().autodiff();
        let re_t = self.tensor(re, &device).require_grad();
        let im_t = self.tensor(im, &device).require_grad();
        let object = CTensor::new(re_t.clone(), im_t.clone());
        let lambda = self.model.intensity(&object, &self.coords);
        let loss = poisson_nll(lambda, self.tensor(&self.counts, &device));
        let grads = loss.backward();
        let g = |t: &Tensor<4>| t.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap();
        (g(&re_t), g(&im_t))
    }
}

/// Directional derivative along a random direction, analytic vs central difference; and the
/// same for a handful of single coordinates.
fn check(merge: MergeMode, gridsize: usize) {
    let p = Problem::new(merge, gridsize, 11 + gridsize as u64);
    let len = p.dims.iter().product();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let re = random(&mut rng, len, 0.3, 1.0);
    let im = random(&mut rng, len, -0.5, 0.5);
    let (g_re, g_im) = p.gradient(&re, &im);
    let h = 1e-2f32;
    let moved = |dir_re: &[f32], dir_im: &[f32], sign: f32| -> (Vec<f32>, Vec<f32>) {
        let a: Vec<f32> = re
            .iter()
            .zip(dir_re)
            .map(|(v, d)| v + sign * h * d)
            .collect();
        let b: Vec<f32> = im
            .iter()
            .zip(dir_im)
            .map(|(v, d)| v + sign * h * d)
            .collect();
        (a, b)
    };
    let step = |dir_re: &[f32], dir_im: &[f32], sign: f32| -> f64 {
        let (a, b) = moved(dir_re, dir_im, sign);
        p.value(&a, &b)
    };
    let step_f64 = |dir_re: &[f32], dir_im: &[f32], sign: f32| -> f64 {
        let (a, b) = moved(dir_re, dir_im, sign);
        p.value_f64(&a, &b)
    };
    let d_re = random(&mut rng, len, -1.0, 1.0);
    let d_im = random(&mut rng, len, -1.0, 1.0);
    let analytic: f64 = g_re
        .iter()
        .zip(&d_re)
        .chain(g_im.iter().zip(&d_im))
        .map(|(g, d)| f64::from(g * d))
        .sum();
    let numeric = (step(&d_re, &d_im, 1.0) - step(&d_re, &d_im, -1.0)) / (2.0 * f64::from(h));
    let rel = (analytic - numeric).abs() / numeric.abs();
    println!("{merge:?} g={gridsize}: directional {analytic:.6e} vs {numeric:.6e}, rel {rel:.2e}");
    assert!(
        rel <= 1e-3,
        "{merge:?}, gridsize {gridsize}: relative error {rel:.2e}"
    );

    // Single coordinates where the gradient is largest (small ones drown in f32 rounding).
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| g_re[b].abs().total_cmp(&g_re[a].abs()));
    for &i in order.iter().take(3) {
        let mut unit = vec![0.0f32; len];
        unit[i] = 1.0;
        let zero = vec![0.0f32; len];
        for (dre, dim, g) in [(&unit, &zero, g_re[i]), (&zero, &unit, g_im[i])] {
            let numeric =
                (step_f64(dre, dim, 1.0) - step_f64(dre, dim, -1.0)) / (2.0 * f64::from(h));
            let rel = (f64::from(g) - numeric).abs() / numeric.abs().max(1e-12);
            assert!(rel <= 1e-3, "coordinate {i}: {g} vs {numeric} ({rel:.2e})");
        }
    }
}

#[test]
fn gradient_without_merge() {
    check(MergeMode::Off, 1);
}

#[test]
fn gradient_through_the_box_merge() {
    check(MergeMode::On(MergeWeights::CentralBox), 2);
}

#[test]
fn gradient_through_the_probe_weighted_merge() {
    check(MergeMode::On(MergeWeights::ProbeIntensity), 2);
}

#[test]
fn dft_matches_rustfft() {
    let device = Device::flex();
    for n in [64usize, 128, 256] {
        let mut rng = ChaCha8Rng::seed_from_u64(n as u64);
        let re = random(&mut rng, n * n, -1.0, 1.0);
        let im = random(&mut rng, n * n, -1.0, 1.0);
        let t = |v: &Vec<f32>| {
            Tensor::<4>::from_data(TensorData::new(v.clone(), [1, 1, n, n]), &device)
        };
        let ours = Dft2::new(n, &device).forward(&CTensor::new(t(&re), t(&im)));
        let (o_re, o_im) = (
            ours.re.try_into_vec_as::<f32>().unwrap(),
            ours.im.try_into_vec_as::<f32>().unwrap(),
        );
        let mut reference: Vec<Complex32> = re
            .iter()
            .zip(&im)
            .map(|(&a, &b)| Complex32::new(a, b))
            .collect();
        Fft2::new(n, false).forward(&mut reference);
        let peak = reference.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
        let mut worst = 0.0f32;
        for k in 0..n {
            for j in 0..n {
                // ours is fftshifted: ours[k, j] = F[(k + n/2) % n, (j + n/2) % n]
                let f = reference[((k + n / 2) % n) * n + (j + n / 2) % n];
                let o = Complex32::new(o_re[k * n + j], o_im[k * n + j]);
                worst = worst.max((f - o).norm());
            }
        }
        println!(
            "N = {n}: max |DFT − rustfft| / max |F| = {:.2e}",
            worst / peak
        );
        assert!(worst / peak < 1e-5, "N = {n}: {:.2e}", worst / peak);
    }
}
