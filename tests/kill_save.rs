//! Kill -9 during save: a training process is killed at random moments while it rewrites its
//! model directory after every epoch, many times; after each kill the directory must load as a
//! whole model (the epoch before or the new one), never as half of one.
//!
//! CI kills it 12 times. More: `PTYCHO_KILLS=500 cargo test --test kill_save -- --nocapture`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::prelude::*;
use ptychostudio::data::save::save_pinn;
use ptychostudio::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use ptychostudio::train::ModelBundle;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;

fn write_scan(path: &Path) {
    let config = SimulationConfig {
        n: 64,
        object_size: 128,
        nphotons: 1e6,
        seed: 2,
        ..SimulationConfig::default()
    };
    let scan = simulate_lines_scan(&config, ScanPattern::Random { count: 24 }, 2).unwrap();
    save_pinn(&scan.dataset, path, None).unwrap();
}

/// `ptychostudio train` on a tiny network for ever, saving after every epoch (a few times a
/// second); with `resume`, continuing the saved model.
fn train_command(scan: &Path, run: &Path, resume: bool) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ptychostudio"));
    command
        .args(["train", "--quiet", "--train-data-file"])
        .arg(scan);
    if resume {
        command.arg("--resume").arg(run);
    }
    command
        .arg("--output-dir")
        .arg(run)
        .args([
            "--nepochs",
            "1000000",
            "--n-filters-scale",
            "1",
            "--n-groups",
            "4",
            "--validation-fraction",
            "0.25",
            "--batch-size",
            "4",
            "--overlap-groups",
            "false",
            "--early-stopping-patience",
            "0",
            "--device",
            "cpu",
        ])
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

#[test]
fn a_model_directory_survives_kill_9_at_any_moment_of_its_save() {
    let kills: usize = std::env::var("PTYCHO_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.npz");
    write_scan(&scan);
    let run = dir.path().join("run");
    let model = run.join("model");
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (mut survived, mut epochs_seen) = (0usize, Vec::new());
    let (mut during_save, mut model_moved_aside) = (0usize, 0usize);
    for kill in 0..kills {
        let mut child = train_command(&scan, &run, kill > 0).spawn().unwrap();
        // Let the first run save once; then kill each run somewhere in its epoch-and-save
        // cycle (the directory is rewritten after every epoch, a few times a second).
        let started = Instant::now();
        while !model.join("config.json").is_file() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no model was saved within 2 minutes"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("training ended by itself: {status}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(200_000..2_500_000)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        // A save in progress leaves its staging or retired sibling behind.
        let pid = child.id();
        let mid_save = std::fs::read_dir(&run).unwrap().flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == format!(".model.tmp-{pid}") || name == format!(".model.old-{pid}")
        });
        during_save += usize::from(mid_save);
        model_moved_aside += usize::from(!model.exists());
        let bundle = ModelBundle::load(&run, &Device::flex())
            .unwrap_or_else(|e| panic!("after kill {kill} the model directory does not load: {e}"));
        assert!(
            !bundle.history.is_empty(),
            "kill {kill}: a saved model has epochs"
        );
        // config.json's schedule holds the best training loss so far, history.json every
        // epoch's: from one save, the best is one of the epochs.
        let best = bundle.manifest.schedule.stop_best;
        assert!(
            bundle.history.iter().any(|r| Some(r.train_loss) == best),
            "kill {kill}: config.json (best {best:?}) and history.json ({} epochs) are from one save",
            bundle.history.len()
        );
        epochs_seen.push(bundle.history.len());
        survived += 1;
    }
    println!(
        "survived {survived} of {kills} kills ({during_save} during a save, {model_moved_aside} \
         between moving the old model aside and the new one in); epochs in the loaded model \
         after each: {epochs_seen:?}"
    );
    assert!(
        epochs_seen.windows(2).all(|w| w[1] >= w[0]),
        "a resumed run never loses saved epochs: {epochs_seen:?}"
    );
    assert!(
        epochs_seen.last() > epochs_seen.first(),
        "the runs saved new epochs between kills: {epochs_seen:?}"
    );

    the_moment_between_the_renames(&scan, &run, epochs_seen.last().copied().unwrap_or(0));
}

/// The narrowest moment, made on purpose: the old model moved aside, the new one half written.
/// Loading finds the old one; the next save moves it back and clears the rest.
fn the_moment_between_the_renames(scan: &Path, run: &Path, epochs: usize) {
    let model = run.join("model");
    std::fs::rename(&model, run.join(".model.old-1")).unwrap();
    std::fs::create_dir_all(run.join(".model.tmp-1")).unwrap();
    std::fs::write(run.join(".model.tmp-1/config.json"), "{\"format\": \"ptych").unwrap();
    let bundle = ModelBundle::load(run, &Device::flex()).unwrap();
    assert_eq!(
        bundle.history.len(),
        epochs,
        "the model moved aside is the one found"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_ptychostudio"))
        .args(["train", "--quiet", "--train-data-file"])
        .arg(scan)
        .arg("--resume")
        .arg(run)
        .arg("--output-dir")
        .arg(run)
        .args(["--nepochs", &(epochs + 1).to_string(), "--device", "cpu"])
        .args(["--early-stopping-patience", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let bundle = ModelBundle::load(run, &Device::flex()).unwrap();
    assert_eq!(bundle.history.len(), epochs + 1);
    let leftovers: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".model."))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}
