//! The built binary on small generated inputs: outputs, determinism, exit codes.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output};

fn ptychostudio(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ptychostudio"))
        .args(args)
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn simulate(path: &Path, seed: &str) -> Output {
    ptychostudio(&[
        "simulate",
        "--output",
        path.to_str().unwrap(),
        "--n-images",
        "60",
        "--object-size",
        "128",
        "--seed",
        seed,
        "--nphotons",
        "1e6",
        "--quiet",
    ])
}

#[test]
fn simulate_is_byte_identical_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.npz"),
        dir.path().join("b.npz"),
        dir.path().join("c.npz"),
    );
    for (path, seed) in [(&a, "3"), (&b, "3"), (&c, "4")] {
        let out = simulate(path, seed);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (a, b, c) = (
        std::fs::read(a).unwrap(),
        std::fs::read(b).unwrap(),
        std::fs::read(c).unwrap(),
    );
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, another file");
}

#[test]
fn inspect_reports_layout_shapes_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.npz");
    assert!(simulate(&path, "1").status.success());
    let out = ptychostudio(&["inspect", path.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["layout"], "PtychoPINN raw NPZ (diff3d)");
    assert_eq!(report["dataset"]["n"], 64);
    assert_eq!(report["dataset"]["patterns"], 60);
    let diff = report["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "diff3d")
        .unwrap();
    assert_eq!(diff["shape"], serde_json::json!([60, 64, 64]));
    assert_eq!(diff["dtype"], "<f4");
    // diff3d = √counts / s: Σ diff3d² · s² is the photon count asked for.
    let energy = report["dataset"]["mean_counts_per_pattern"]
        .as_f64()
        .unwrap();
    let loaded = ptychostudio::data::load(&path, &Default::default()).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(loaded.dataset.metadata.as_deref().unwrap()).unwrap();
    let s = meta["intensity_scale"].as_f64().unwrap();
    let photons = energy * s * s;
    assert!(
        (photons / 1e6 - 1.0).abs() < 0.01,
        "≈ 1e6 photons per pattern: {photons}"
    );

    let text = ptychostudio(&["inspect", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("N = 64, M = 60") && stdout.contains("objectGuess"),
        "{stdout}"
    );
}

#[test]
fn inspect_tells_which_flag_intensity_data_need() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.npz");
    let n = 64;
    let m = 4;
    let counts = ndarray::Array3::from_shape_fn((m, n, n), |(_, r, c)| {
        let d2 = (r as f32 - 32.0).powi(2) + (c as f32 - 32.0).powi(2);
        (1000.0 * (-d2 / 30.0).exp()).round() as u16
    });
    let mut w = ptychostudio::io::NpzWriter::create(&path).unwrap();
    w.add("diff3d", &counts).unwrap();
    w.add("xcoords", &ndarray::arr1(&[0.0f64, 1.0, 2.0, 3.0]))
        .unwrap();
    w.add("ycoords", &ndarray::arr1(&[0.0f64, 1.0, 2.0, 3.0]))
        .unwrap();
    w.add(
        "probeGuess",
        &ndarray::Array2::from_elem((n, n), num_complex::Complex32::new(1.0, 0.0)),
    )
    .unwrap();
    w.finish().unwrap();
    let out = ptychostudio(&["inspect", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("diff3d looks like intensity: pass --sqrt"),
        "{stdout}"
    );
    let fixed = ptychostudio(&["inspect", path.to_str().unwrap(), "--sqrt"]);
    let stdout = String::from_utf8_lossy(&fixed.stdout);
    assert!(
        stdout.contains("N = 64, M = 4") && stdout.contains("square root"),
        "{stdout}"
    );
}

#[test]
fn epie_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s.npz");
    assert!(simulate(&data, "2").status.success());
    let out_dir = dir.path().join("out");
    let out = ptychostudio(&[
        "epie",
        data.to_str().unwrap(),
        "--iterations",
        "3",
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in [
        "epie_reconstruction.npz",
        "epie_product.npz",
        "epie_amplitude.png",
        "epie_phase.png",
        "epie_errors.csv",
    ] {
        assert!(out_dir.join(file).is_file(), "{file} written");
    }
    let csv = std::fs::read_to_string(out_dir.join("epie_errors.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "header + 3 sweeps: {csv}");
    let product =
        ptychostudio::io::product::Product::read(&out_dir.join("epie_product.npz")).unwrap();
    assert_eq!(product.probe_positions_m.len(), 60);
    let png = image::open(out_dir.join("epie_phase.png")).unwrap();
    assert!(png.width() > 256 && png.height() >= 256);
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.npz");
    std::fs::write(&junk, "not a zip").unwrap();
    for args in [
        vec!["inspect", junk.to_str().unwrap()],
        vec![
            "epie",
            junk.to_str().unwrap(),
            "--iterations",
            "1",
            "--output-dir",
            dir.path().to_str().unwrap(),
        ],
        vec![
            "simulate",
            "--output",
            dir.path().join("x.npz").to_str().unwrap(),
            "--n",
            "100",
        ],
        vec![
            "infer",
            "--model-path",
            dir.path().to_str().unwrap(),
            "--test-data",
            junk.to_str().unwrap(),
            "--output-dir",
            dir.path().to_str().unwrap(),
        ],
        vec![
            "train",
            "--train-data-file",
            junk.to_str().unwrap(),
            "--output-dir",
            dir.path().to_str().unwrap(),
        ],
        vec!["evaluate", junk.to_str().unwrap(), junk.to_str().unwrap()],
    ] {
        let out = ptychostudio(&args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn every_subcommand_help_has_an_example() {
    for sub in [
        "inspect", "simulate", "epie", "train", "infer", "evaluate", "bench",
    ] {
        let out = ptychostudio(&[sub, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example: ptychostudio"), "{sub}: {text}");
        assert!(text.contains("--quiet"), "{sub}");
    }
}

#[test]
fn train_infer_evaluate_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.npz"), dir.path().join("test.npz"));
    assert!(simulate(&train, "3").status.success());
    assert!(simulate(&test, "4").status.success());
    let run = dir.path().join("run");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let out = ptychostudio(&[
        "train",
        "--train-data-file",
        &s(&train),
        "--test-data-file",
        &s(&test),
        "--output-dir",
        &s(&run),
        "--nepochs",
        "1",
        "--n-groups",
        "24",
        "--batch-size",
        "8",
        "--n-filters-scale",
        "1",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for file in [
        "model/config.json",
        "model/model.bpk",
        "model/probe.npz",
        "model/history.json",
        "metrics.csv",
        "reconstructed_amplitude.png",
        "reconstructed_phase.png",
        "reconstructed_reconstruction.npz",
        "reconstructed_product.npz",
        "reconstructed_metrics.json",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("model/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["config"]["n_filters_scale"], 1);
    assert_eq!(config["config"]["n_groups"], 24);
    assert!(config["normalization_factor"].as_f64().unwrap() > 0.0);

    // --no-metrics-log writes no metrics.csv.
    let quiet_run = dir.path().join("quiet");
    let out = ptychostudio(&[
        "train",
        "--train-data-file",
        &s(&train),
        "--output-dir",
        &s(&quiet_run),
        "--nepochs",
        "1",
        "--n-groups",
        "16",
        "--batch-size",
        "8",
        "--n-filters-scale",
        "1",
        "--no-metrics-log",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(quiet_run.join("model/config.json").is_file());
    assert!(!quiet_run.join("metrics.csv").exists());

    // Inference from the run directory, then evaluation of what it wrote.
    let infer_dir = dir.path().join("infer");
    let out = ptychostudio(&[
        "infer",
        "--model-path",
        &s(&run),
        "--test-data",
        &s(&test),
        "--output-dir",
        &s(&infer_dir),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let recon = infer_dir.join("reconstructed_reconstruction.npz");
    assert!(infer_dir.join("reconstructed_phase.png").is_file());
    let out = ptychostudio(&["evaluate", &s(&recon), &s(&test), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(e["amplitude"]["mae"].as_f64().unwrap().is_finite());
    assert!(e["phase"]["ssim"].is_number() || e["phase"]["ssim"].is_null());
    // The same figures as infer wrote.
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(infer_dir.join("reconstructed_metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(written["amplitude"]["mae"], e["amplitude"]["mae"]);
}

#[test]
fn wgpu_without_a_gpu_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.npz");
    assert!(simulate(&train, "3").status.success());
    // mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid" on every probe when the variable
    // is unset (as under CI); give the child one, so stderr holds only what we print.
    let runtime_dir = dir.path().join("xdg-runtime");
    std::fs::create_dir(&runtime_dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ptychostudio"))
        .args([
            "train",
            "--train-data-file",
            train.to_str().unwrap(),
            "--output-dir",
            dir.path().join("run").to_str().unwrap(),
            "--nepochs",
            "0",
            "--device",
            "wgpu",
            "--quiet",
        ])
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .output()
        .unwrap();
    if out.status.success() {
        println!("this machine has a GPU adapter: nothing to check");
        return;
    }
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("--device cpu"), "{err}");
}

#[test]
fn evaluate_against_a_reference_reconstruction_matches_the_truth_path() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.npz");
    assert!(simulate(&scan, "4").status.success());
    let out_dir = dir.path().join("epie");
    let out = ptychostudio(&[
        "epie",
        scan.to_str().unwrap(),
        "--iterations",
        "5",
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let recon = out_dir.join("epie_reconstruction.npz");
    // The true object written as a "reconstruction" placed at a non-zero origin: the copy is
    // shifted by (7, 5) pixels, and says so.
    let truth = ptychostudio::data::load(&scan, &Default::default())
        .unwrap()
        .dataset
        .object()
        .unwrap()
        .clone();
    let shifted = truth.slice(ndarray::s![5.., 7..]).to_owned();
    let reference = dir.path().join("reference.npz");
    let mut w = ptychostudio::io::NpzWriter::create(&reference).unwrap();
    w.add("objectGuess", &shifted).unwrap();
    w.add_scalar("origin_x_px", 7.0f64).unwrap();
    w.add_scalar("origin_y_px", 5.0f64).unwrap();
    w.finish().unwrap();
    let figures = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["evaluate", recon.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--json", "--quiet"]);
        let out = ptychostudio(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let direct = figures(&[scan.to_str().unwrap()]);
    let via_reference = figures(&[
        reference.to_str().unwrap(),
        "--scan",
        scan.to_str().unwrap(),
    ]);
    for channel in ["amplitude", "phase"] {
        let a = direct[channel]["pearson"].as_f64().unwrap();
        let b = via_reference[channel]["pearson"].as_f64().unwrap();
        assert!((a - b).abs() < 1e-3, "{channel}: {a} vs {b}");
    }
    // Without --scan, a reconstruction (no positions) is refused with a hint.
    let out = ptychostudio(&[
        "evaluate",
        recon.to_str().unwrap(),
        reference.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--scan"), "{}", stderr(&out));
}

/// The regime cases of `bench quality` (docs/regimes.md), at a token budget: the scan is the
/// one asked for, the network and ePIE are both scored against the truth, ePIE at every count
/// asked with its best kept, and `--epie-only --epie-fixed-probe` scores ePIE again alone.
#[test]
fn bench_quality_scores_the_network_and_epie_per_regime() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("overlap");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "quality",
            "--case",
            "lines-overlap",
            "--overlap",
            "0.1",
            "--epochs",
            "1",
            "--groups",
            "16",
            "--epie-sweeps",
            "2,4",
            "--output-dir",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = ptychostudio(&args);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    run(&[]);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("quality.json")).unwrap()).unwrap();
    // A raster of linear overlap 10 % under the §9 probe (D = 21.9 px) over a 160-px square:
    // a 19.7-px step, 9 × 9 positions.
    let scan = &report["scan"];
    assert_eq!(scan["positions"], 81);
    assert!((scan["linear_overlap"].as_f64().unwrap() - 0.1).abs() < 1e-6);
    let network = &report["evaluations"][0]["illuminated"]["phase"]["pearson"];
    assert!(network.as_f64().unwrap().is_finite());
    let epie = &report["epie"];
    let scored = epie["scored"].as_array().unwrap();
    let counts: Vec<u64> = scored
        .iter()
        .map(|s| s["sweeps"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 4]);
    let phase = |e: &serde_json::Value| e["phase"]["pearson"].as_f64().unwrap();
    let best = scored
        .iter()
        .map(|s| phase(&s["illuminated"]))
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(phase(&epie["illuminated"]), best, "the best count is kept");
    assert!(out.join("epie_phase.png").is_file());

    run(&["--epie-only", "--epie-fixed-probe"]);
    let fixed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("epie_fixed_probe.json")).unwrap()).unwrap();
    assert_eq!(fixed["probe_refined"], false);
    assert_eq!(fixed["scan"], report["scan"]);
    // With the probe fixed the probe is the simulation's: another run than the refined one.
    assert_ne!(fixed["epie"]["errors"], epie["errors"]);
}
