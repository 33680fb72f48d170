//! The forward model against the PtychoPINN reference vectors in
//! `../shared/fixtures/pinn-parity/` (see its README for the recipe and the tolerances).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use burn::prelude::*;
use ptychostudio::io::NpzReader;
use ptychostudio::physics::loss::{log_factorial, poisson_nll_per_sample};
use ptychostudio::physics::merge::MergeWeights;
use ptychostudio::physics::{CTensor, ForwardModel, MergeMode};

const FIXTURES: &str = "../shared/fixtures/pinn-parity";

/// One fixture case, read from its NPZ.
struct Case {
    name: String,
    dims: [usize; 4],
    x_re: Vec<f32>,
    x_im: Vec<f32>,
    probe_re: Vec<f32>,
    probe_im: Vec<f32>,
    coords_relative: Vec<[f64; 2]>,
    scale: f64,
    counts: Vec<f32>,
    expected_forward: Vec<f32>,
    expected_loss: f64,
    merge: MergeMode,
    gridsize: usize,
}

fn read_case(path: &Path) -> Case {
    let mut r = NpzReader::open(path).unwrap();
    let mut f32s = |key: &str| -> (Vec<usize>, Vec<f32>) {
        let a = r.read(key).unwrap();
        (
            a.shape().to_vec(),
            a.to_f32().unwrap().iter().copied().collect(),
        )
    };
    let (shape, x_re) = f32s("x_real");
    let (_, x_im) = f32s("x_imag");
    let (_, probe_re) = f32s("probe_real");
    let (_, probe_im) = f32s("probe_imag");
    let (_, positions) = f32s("positions");
    let (_, scale) = f32s("scale");
    let (_, counts) = f32s("I_raw");
    let (_, expected_forward) = f32s("expected_forward");
    let (_, loss) = f32s("expected_poisson_loss");
    let meta: serde_json::Value =
        serde_json::from_str(r.read("metadata_json").unwrap().as_scalar_str().unwrap()).unwrap();
    let model = &meta["model_config"];
    let gridsize = meta["data_config"]["grid_size"][0].as_u64().unwrap() as usize;
    let merge = if model["object_big"].as_bool().unwrap() {
        match model["training_patch_weighting"].as_str().unwrap() {
            "probe" => MergeMode::On(MergeWeights::ProbeIntensity),
            _ => MergeMode::On(MergeWeights::CentralBox),
        }
    } else {
        MergeMode::Off
    };
    Case {
        name: meta["case"].as_str().unwrap().to_owned(),
        dims: [shape[0], shape[1], shape[2], shape[3]],
        x_re,
        x_im,
        probe_re,
        probe_im,
        coords_relative: positions
            .chunks(2)
            .map(|p| [f64::from(p[0]), f64::from(p[1])])
            .collect(),
        scale: f64::from(scale[0]),
        counts,
        expected_forward,
        expected_loss: f64::from(loss[0]),
        merge,
        gridsize,
    }
}

/// (max |λ − λ_ref| / max |λ_ref|, |loss − loss_ref| / |loss_ref|)
fn errors(case: &Case, device: &Device) -> (f64, f64) {
    let [b, c, n, _] = case.dims;
    let t4 = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [b, c, n, n]), device);
    let t2 = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [n, n]), device);
    let probe = CTensor::new(t2(&case.probe_re), t2(&case.probe_im));
    let model = ForwardModel::new(&probe, case.scale, case.merge, case.gridsize);
    let object = CTensor::new(t4(&case.x_re), t4(&case.x_im));
    let lambda = model.intensity(&object, &case.coords_relative);
    let loss = poisson_nll_per_sample(
        lambda.clone(),
        t4(&case.counts),
        Some(t4(&log_factorial(&case.counts))),
    );
    let ours = lambda.try_into_vec_as::<f32>().unwrap();
    let peak = case
        .expected_forward
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(&case.expected_forward)
        .map(|(a, e)| (a - e).abs())
        .fold(0.0f32, f32::max);
    let loss = f64::from(loss.into_scalar::<f32>());
    (
        f64::from(worst / peak),
        (loss - case.expected_loss).abs() / case.expected_loss.abs(),
    )
}

fn check_all(device: &Device) {
    let mut paths: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "npz"));
    paths.sort();
    assert_eq!(paths.len(), 5, "five reference cases");
    for path in paths {
        let case = read_case(&path);
        let (forward, loss) = errors(&case, device);
        println!(
            "{:<16} forward {forward:.2e}  loss {loss:.2e}  ({:?}, gridsize {})",
            case.name, case.merge, case.gridsize
        );
        if case.name == "c1_bigT_uniform" {
            // Informative only (see the fixture README): reported, not bent to fit.
            continue;
        }
        assert!(
            forward < 1e-5,
            "{}: forward relative error {forward:.2e}",
            case.name
        );
        assert!(loss < 1e-5, "{}: loss relative error {loss:.2e}", case.name);
    }
}

#[test]
fn forward_model_matches_the_reference_on_cpu() {
    check_all(&Device::flex());
}

#[test]
#[ignore = "needs a GPU (wgpu adapter); run with --ignored where one exists"]
fn forward_model_matches_the_reference_on_wgpu() {
    let device = Device::wgpu_options().init().expect("a wgpu adapter");
    check_all(&device);
}
