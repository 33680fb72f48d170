//! The window, driven headless through AccessKit (egui_kittest): every pane builds on a generated
//! scan; "Start training" by its label starts a tiny CPU run whose events reach the training
//! pane; Stop stops it with a saved, loadable model; a bad NPZ dropped on the window shows an
//! error and the window stays usable; Export writes a PNG report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use ptychostudio::data::save::save_pinn;
use ptychostudio::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use ptychostudio::device::DeviceChoice;
use ptychostudio::gui::{Command, LaunchOptions, Pane, PtychoApp, REPORT_FILE};
use ptychostudio::train::{ModelBundle, StopReason};

/// A small simulated scan (N = 64, 48 positions on a 128² lines object, 1e6 photons).
fn write_scan(dir: &Path) -> PathBuf {
    let config = SimulationConfig {
        n: 64,
        object_size: 128,
        nphotons: 1e6,
        seed: 3,
        ..SimulationConfig::default()
    };
    let scan = simulate_lines_scan(&config, ScanPattern::Random { count: 48 }, 3)
        .expect("simulate the scan");
    let path = dir.join("scan.npz");
    save_pinn(&scan.dataset, &path, None).expect("write the scan");
    path
}

fn harness(dir: &Path, file: Option<PathBuf>) -> Harness<'static, PtychoApp> {
    let launch = LaunchOptions {
        file,
        runs_dir: Some(dir.join("runs")),
        ..LaunchOptions::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 860.0))
        .build_eframe(move |cc| PtychoApp::new(cc, launch));
    // Tiny CPU runs.
    let state = &mut h.state_mut().state;
    state.device = DeviceChoice::Cpu;
    state.train.nepochs = 2;
    state.train.n_groups = 12; // groups of 4 overlapping patterns: 48 patterns
    state.train.batch_size = 16;
    state.train.n_filters_scale = 1;
    state.train.early_stopping_patience = 0;
    state.preview_every = 1;
    h
}

/// Steps the window until `done` holds (a liveness bound, not a speed assertion).
fn step_until(h: &mut Harness<'_, PtychoApp>, what: &str, done: impl Fn(&PtychoApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.step();
    h.step();
}

/// Clicks the widget labelled `label` and lets the window apply what the click asked for (the
/// click is seen in one frame's `ui`, its command applied in the next frame's `logic`).
fn click(h: &mut Harness<'_, PtychoApp>, label: &str) {
    h.get_by_label(label).click();
    h.step();
    h.step();
}

/// The file whose name ends with `name` is open, and nothing is loading or refused.
fn opened(app: &PtychoApp, name: &str) -> bool {
    app.session.failed_open.is_none()
        && app.session.loading.is_none()
        && app
            .session
            .dataset
            .as_ref()
            .is_some_and(|d| d.path.ends_with(name))
}

fn loaded(app: &PtychoApp) -> bool {
    app.session.dataset.is_some() && app.session.loading.is_none()
}

#[test]
fn every_pane_builds_on_a_generated_scan() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let mut h = harness(dir.path(), Some(scan));
    step_until(&mut h, "the scan to load", loaded);
    assert_eq!(
        h.state().session.dataset.as_ref().unwrap().dataset.len(),
        48
    );
    // Dataset pane: summary, pattern browser, positions.
    h.get_by_label("48 patterns of 64 × 64 px");
    h.get_by_label_contains("pattern 0 at x");
    // The regime: a simulation's dose is unknown, its overlap dense.
    h.get_by_label("Suggested method: ePIE");
    h.get_by_label_contains("linear overlap");
    // Probe pane.
    click(&mut h, "Probe");
    assert_eq!(h.state().state.pane, Pane::Probe);
    h.get_by_label("Complex");
    h.get_by_label_contains("Σ|P|²");
    // Training pane: the settings and the buttons.
    click(&mut h, "Training");
    h.get_by_label("Start training");
    h.get_by_label("gridsize");
    // Reconstruction pane: no model yet, ePIE available; the true object is the comparison.
    click(&mut h, "Reconstruction");
    h.get_by_label("Run ePIE");
    h.get_by_label_contains("No model yet");
    h.get_by_label("true object (objectGuess)");
}

#[test]
fn start_training_by_label_streams_events_and_reconstructs() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let mut h = harness(dir.path(), Some(scan));
    step_until(&mut h, "the scan to load", loaded);
    click(&mut h, "Training");
    click(&mut h, "Start training");
    // A second start while it runs tells the user (it used to do nothing in silence).
    h.state_mut().push(Command::StartTraining);
    h.step();
    h.step();
    assert!(
        h.state()
            .session
            .log
            .iter()
            .any(|l| l.text.contains("training is already running")),
        "the second start is answered"
    );
    step_until(&mut h, "the first epoch", |app| {
        !app.session.training.history.is_empty()
    });
    // The events reached the pane: progress, loss, preview.
    assert!(h.state().session.training.info.is_some());
    assert!(h.query_all_by_label_contains("patterns/s").count() >= 1);
    h.get_by_label_contains("epoch 1: loss");
    step_until(&mut h, "the run to finish", |app| {
        !app.session.training.running()
    });
    let app = h.state();
    assert_eq!(app.session.training.history.len(), 2);
    assert_eq!(
        app.session.training.last_reason,
        Some(StopReason::Completed)
    );
    assert!(
        app.session.training.preview.value.is_some(),
        "a preview arrived"
    );
    assert!(
        app.session.model.is_some(),
        "the trained model is ready for reconstruction"
    );
    let run_dir = app.session.training.run_dir.clone().unwrap();
    assert!(run_dir.join("model/config.json").is_file());
    assert!(run_dir.join("metrics.csv").is_file());
    // A second Start while idle works; Reconstruct fills the reconstruction pane.
    click(&mut h, "Reconstruction");
    click(&mut h, "Reconstruct");
    step_until(&mut h, "the reconstruction", |app| {
        app.session.reconstructing.is_none() && app.session.reconstruction.value.is_some()
    });
    let app = h.state();
    let object = &app.session.reconstruction.value.as_ref().unwrap().object;
    assert!(object.iter().all(|z| z.re.is_finite() && z.im.is_finite()));
    assert!(app.session.metrics.is_some(), "metrics against objectGuess");
    let checks = app
        .session
        .checks
        .as_ref()
        .expect("the checks without a ground truth");
    assert!(
        checks.data_fit.as_ref().is_some_and(|f| f.map.is_some()),
        "the data-fit map"
    );
    // Refine with ePIE: sweeps started from the network's object, shown beside it.
    h.state_mut().state.epie_iterations = 2;
    click(&mut h, "Refine with ePIE");
    step_until(&mut h, "ePIE seeded by the network", |app| {
        app.session.epie.is_none()
            && app
                .session
                .comparison
                .value
                .as_ref()
                .is_some_and(|c| c.label == "PtychoPINN + ePIE, 2 sweeps")
    });
    fine_tune_from_the_loaded_model(&mut h, &run_dir);
}

/// Fine-tune: a new run from the model's weights fits the scan better at its end than the
/// first run (in `run_dir`) did (measured: Fourier error 0.0023 against 0.0052, 2 epochs each).
fn fine_tune_from_the_loaded_model(h: &mut Harness<'_, PtychoApp>, run_dir: &Path) {
    let fit_of = |dir: &Path| {
        ModelBundle::load(&dir.join("model"), &burn::prelude::Device::flex())
            .expect("the model loads")
            .manifest
            .training_fit
            .expect("the training fit is recorded")
            .fourier_error
    };
    let first_fit = fit_of(run_dir);
    click(h, "Training");
    click(h, "Start from the loaded model");
    click(h, "Start training");
    step_until(h, "the fine-tuning run", |app| {
        !app.session.training.running()
            && app.session.training.run_dir.as_deref() != Some(run_dir)
            && app.session.training.last_reason.is_some()
    });
    let app = h.state();
    assert!(
        app.session
            .log
            .iter()
            .any(|l| l.text.contains("starting from the weights of a model")),
        "the run says where it started"
    );
    let tuned_fit = fit_of(
        app.session
            .training
            .run_dir
            .as_ref()
            .expect("the run has a directory"),
    );
    eprintln!("Fourier error after fine-tuning {tuned_fit}, after the first run {first_fit}");
    assert!(
        tuned_fit < first_fit,
        "fine-tuned: Fourier error {tuned_fit} against {first_fit}"
    );
}

#[test]
fn stop_keeps_a_loadable_model() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let mut h = harness(dir.path(), Some(scan));
    h.state_mut().state.train.nepochs = 500;
    step_until(&mut h, "the scan to load", loaded);
    click(&mut h, "Training");
    click(&mut h, "Start training");
    step_until(&mut h, "the first batch", |app| {
        app.session.training.steps_done > 0
    });
    click(&mut h, "Stop");
    step_until(&mut h, "the run to stop", |app| {
        !app.session.training.running()
    });
    let app = h.state();
    assert_eq!(app.session.training.last_reason, Some(StopReason::Stopped));
    let model = app.session.training.run_dir.clone().unwrap().join("model");
    let bundle = ModelBundle::load(&model, &burn::prelude::Device::flex()).unwrap();
    assert_eq!(bundle.manifest.config.n, 64);
    // The window is still usable: the Start button is back.
    assert!(
        !h.get_by_label("Start training")
            .accesskit_node()
            .is_disabled()
    );
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_bad_npz_dropped_on_the_window_shows_an_error_and_the_window_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let mut h = harness(dir.path(), Some(scan.clone()));
    step_until(&mut h, "the scan to load", loaded);
    let bad = dir.path().join("broken.npz");
    std::fs::write(&bad, b"PK\x03\x04 this is not really a zip archive").unwrap();
    h.input_mut().dropped_files.push(Arc::new(Dropped(bad)));
    step_until(&mut h, "the bad file to fail", |app| {
        app.session.failed_open.is_some()
    });
    let error = h.state().session.failed_open.clone().unwrap().message;
    assert!(error.contains("broken.npz"), "{error}");
    h.get_by_label("Could not open the file");
    // The good scan is still loaded and the window still works.
    assert!(h.state().session.dataset.is_some());
    click(&mut h, "Probe");
    assert_eq!(h.state().state.pane, Pane::Probe);
    // Dropping a good file clears the error.
    h.input_mut().dropped_files.push(Arc::new(Dropped(scan)));
    step_until(&mut h, "the good file to load", |app| {
        app.session.failed_open.is_none() && loaded(app)
    });
}

#[test]
fn a_counts_file_is_refused_then_opened_with_the_offered_square_root() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let original = ptychostudio::data::load(&scan, &Default::default()).unwrap();
    let d = &original.dataset;
    // The same scan stored as photon counts (u16), as some detectors export it.
    let counts = d
        .diffraction()
        .unwrap()
        .mapv(|a| (a * a * 50.0).round().min(65535.0) as u16);
    let xs: ndarray::Array1<f64> = d.positions_px().iter().map(|p| p[0]).collect();
    let ys: ndarray::Array1<f64> = d.positions_px().iter().map(|p| p[1]).collect();
    let path = dir.path().join("counts.npz");
    let mut w = ptychostudio::io::NpzWriter::create(&path).unwrap();
    w.add("diff3d", &counts).unwrap();
    w.add("xcoords", &xs).unwrap();
    w.add("ycoords", &ys).unwrap();
    w.add("probeGuess", d.probe()).unwrap();
    w.finish().unwrap();

    let mut h = harness(dir.path(), Some(path));
    step_until(&mut h, "the refusal", |app| {
        app.session.failed_open.is_some()
    });
    assert!(h.state().session.dataset.is_none());
    assert!(
        h.query_all_by_label_contains("looks like intensity")
            .count()
            >= 1
    );
    click(&mut h, "Open with √ (the file holds counts)");
    step_until(&mut h, "the scan to load with √", loaded);
    let view = h.state().session.dataset.as_ref().unwrap();
    assert_eq!(view.dataset.len(), 48);
    assert!(
        view.notes.iter().any(|n| n.contains("square root")),
        "{:?}",
        view.notes
    );
    assert!(h.state().session.failed_open.is_none());
}

#[test]
fn export_writes_a_png_report() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let mut h = harness(dir.path(), Some(scan));
    step_until(&mut h, "the scan to load", loaded);
    h.state_mut().state.epie_iterations = 3;
    click(&mut h, "Reconstruction");
    click(&mut h, "Run ePIE");
    step_until(&mut h, "ePIE", |app| {
        app.session.epie.is_none()
            && app
                .session
                .comparison
                .value
                .as_ref()
                .is_some_and(|c| c.label == "ePIE, 3 sweeps")
    });
    let out = dir.path().join("export");
    h.state_mut().push(Command::ExportReport(out.clone()));
    step_until(&mut h, "the export", |app| {
        app.session.exporting.is_none() && app.session.log.iter().any(|l| l.text.contains("export"))
    });
    let page = image::open(out.join(REPORT_FILE)).unwrap();
    assert!(
        page.width() >= 1000 && page.height() >= 400,
        "{}×{}",
        page.width(),
        page.height()
    );
    assert!(
        h.state()
            .session
            .log
            .iter()
            .any(|l| l.text.contains(REPORT_FILE)),
        "the log says where it went"
    );
}

/// HDF5 files open in the window as NPZ files do; a master without positions is refused with a
/// button to choose a positions file, and nothing else changes.
#[test]
fn hdf5_scans_open_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new("tests/fixtures/hdf5");
    let mut h = harness(dir.path(), Some(fixtures.join("scan.cxi")));
    step_until(&mut h, "the CXI file to load", loaded);
    h.get_by_label("64 patterns of 64 × 64 px");
    h.state_mut()
        .push(Command::OpenDataset(fixtures.join("eiger_master.h5")));
    step_until(&mut h, "the master to be refused", |app| {
        app.session.failed_open.is_some() && app.session.loading.is_none()
    });
    h.get_by_label("Choose a positions file…");
    let mut options = h.state().session.failed_open.clone().unwrap().options;
    options.hdf5.positions = Some(fixtures.join("eiger_positions.csv"));
    h.state_mut().push(Command::OpenDatasetWith(
        fixtures.join("eiger_master.h5"),
        options,
    ));
    step_until(&mut h, "the master with positions", |app| {
        opened(app, "eiger_master.h5")
    });
}

/// With "correct positions" ticked, ePIE refines the scan positions and the dataset pane draws
/// them over the given ones, with how far they moved.
#[test]
fn epie_position_correction_is_drawn_in_the_dataset_pane() {
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let mut h = harness(dir.path(), Some(scan));
    step_until(&mut h, "the scan to load", loaded);
    h.state_mut().state.epie_iterations = 6;
    click(&mut h, "Reconstruction");
    click(&mut h, "correct positions");
    assert!(h.state().state.epie_correct_positions);
    click(&mut h, "Run ePIE");
    step_until(&mut h, "ePIE", |app| {
        app.session.epie.is_none() && app.session.comparison.value.is_some()
    });
    let refined = h.state().session.refined_positions.clone().unwrap();
    let given = h
        .state()
        .session
        .dataset
        .as_ref()
        .unwrap()
        .dataset
        .positions_px()
        .to_vec();
    assert_eq!(refined.positions_px.len(), given.len());
    assert_ne!(refined.positions_px, given, "the positions moved");
    click(&mut h, "Dataset");
    h.get_by_label_contains("refined by ePIE, 6 sweeps: moved");
}

/// The window's Export and `ptychostudio report` draw the same page, byte for byte, from the
/// same scan and model (the date fixed: the window's by its launch option, the command's by
/// `SOURCE_DATE_EPOCH`).
#[test]
fn export_and_the_report_command_draw_the_same_page() {
    use burn::prelude::Device;
    use ptychostudio::data::{LoadOptions, load};
    use ptychostudio::train::{TrainConfig, TrainControl, train};
    let dir = tempfile::tempdir().unwrap();
    let scan = write_scan(dir.path());
    let data = load(&scan, &LoadOptions::default()).unwrap().dataset;
    let run = dir.path().join("run");
    let config = TrainConfig {
        n: 64,
        n_filters_scale: 1,
        n_groups: 12,
        batch_size: 4,
        nepochs: 2,
        early_stopping_patience: 0,
        seed: 4,
        ..TrainConfig::default()
    };
    let control = TrainControl {
        output_dir: Some(run.clone()),
        ..TrainControl::default()
    };
    train(&data, None, &config, &Device::flex(), &control, None).unwrap();
    let model = run.join("model");
    let when_secs = 1_800_000_000u64;

    let launch = LaunchOptions {
        file: Some(scan.clone()),
        runs_dir: Some(dir.path().join("runs")),
        report_time: Some(std::time::UNIX_EPOCH + Duration::from_secs(when_secs)),
        ..LaunchOptions::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 860.0))
        .build_eframe(move |cc| PtychoApp::new(cc, launch));
    h.state_mut().state.device = DeviceChoice::Cpu;
    step_until(&mut h, "the scan to load", loaded);
    h.state_mut().push(Command::LoadModel(model.clone()));
    step_until(&mut h, "the model", |app| app.session.model.is_some());
    h.state_mut().push(Command::Reconstruct);
    step_until(&mut h, "the reconstruction", |app| {
        app.session.reconstructing.is_none() && app.session.metrics.is_some()
    });
    let exported = dir.path().join("export");
    h.state_mut().push(Command::ExportReport(exported.clone()));
    step_until(&mut h, "the export", |app| {
        app.session.exporting.is_none() && app.session.log.iter().any(|l| l.text.contains("export"))
    });

    let page = dir.path().join("report.png");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ptychostudio"))
        .args(["report", "--quiet", "--data"])
        .arg(&scan)
        .arg("--model")
        .arg(&model)
        .arg("--output")
        .arg(&page)
        .env("SOURCE_DATE_EPOCH", when_secs.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let from_window = std::fs::read(exported.join(REPORT_FILE)).unwrap();
    let from_command = std::fs::read(&page).unwrap();
    assert!(from_window.len() > 30_000, "a drawn page");
    if let Ok(keep) = std::env::var("PTYCHO_KEEP_REPORTS") {
        let _ = std::fs::write(format!("{keep}/window.png"), &from_window);
        let _ = std::fs::write(format!("{keep}/command.png"), &from_command);
    }
    assert!(
        from_window == from_command,
        "the window's page ({} bytes) and the command's ({} bytes) differ",
        from_window.len(),
        from_command.len()
    );
}

/// An HDF5 file the reader cannot place by itself (two 3-D datasets, positions in metres in a
/// dataset of its own, no geometry): the window lists its datasets, the user picks the frames
/// and the positions and types the geometry, and the scan opens.
#[test]
fn an_unrecognised_hdf5_file_opens_with_frames_and_positions_picked_and_the_geometry_typed() {
    use eframe::egui::accesskit::Role;
    let dir = tempfile::tempdir().unwrap();
    let fixtures = std::path::Path::new("tests/fixtures/hdf5");
    // The CXI fixture's frames and positions, written as a bare file with a second stack.
    let cxi = hdf5_metno::File::open(fixtures.join("scan.cxi")).unwrap();
    let frames: ndarray::Array3<f32> = cxi.dataset("entry_1/data_1/data").unwrap().read().unwrap();
    let translation: ndarray::Array2<f64> = cxi
        .dataset("entry_1/data_1/translation")
        .unwrap()
        .read()
        .unwrap();
    let path = dir.path().join("two_stacks.h5");
    let file = hdf5_metno::File::create(&path).unwrap();
    let group = file.create_group("scan").unwrap();
    group
        .new_dataset_builder()
        .with_data(&frames)
        .create("frames")
        .unwrap();
    group
        .new_dataset_builder()
        .with_data(&ndarray::Array3::<f32>::zeros((2, 64, 64)))
        .create("dark")
        .unwrap();
    group
        .new_dataset_builder()
        .with_data(&translation)
        .create("positions")
        .unwrap();
    drop((group, file, cxi));

    let mut h = harness(dir.path(), Some(path.clone()));
    step_until(&mut h, "the file to be refused", |app| {
        app.session.failed_open.is_some() && app.session.loading.is_none()
    });
    assert!(
        h.query_all_by_label_contains("several 3-D datasets")
            .next()
            .is_some()
    );
    h.get_by_role_and_label(Role::RadioButton, "/scan/dark");
    h.get_by_role_and_label(Role::RadioButton, "/scan/frames")
        .click();
    h.step();
    h.get_by_role_and_label(Role::RadioButton, "/scan/positions")
        .click();
    h.step();
    for (label, value) in [
        ("Photon energy (eV)", "8000"),
        ("Detector distance (m)", "2"),
        ("Detector pixel (m)", "75e-6"),
    ] {
        h.get_by_role_and_label(Role::TextInput, label).click();
        h.step();
        h.get_by_role_and_label(Role::TextInput, label)
            .type_text(value);
        h.step();
    }
    click(&mut h, "Open with these settings");
    step_until(&mut h, "the scan with the picked frames", |app| {
        opened(app, "two_stacks.h5")
    });
    let dataset = &h.state().session.dataset.as_ref().unwrap().dataset;
    assert_eq!((dataset.len(), dataset.n()), (64, 64));
    let pixel = dataset.physical.pixel_size_m.unwrap();
    assert!((pixel - 6.4575e-8).abs() < 1e-11, "{pixel}");
    // The positions picked are the CXI file's own.
    let cxi = ptychostudio::data::load(&fixtures.join("scan.cxi"), &Default::default()).unwrap();
    for (a, b) in dataset
        .positions_px()
        .iter()
        .zip(cxi.dataset.positions_px())
    {
        assert!(
            (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9,
            "{a:?} {b:?}"
        );
    }
}
