//! Data-parallel training over MPI (the `mpi` feature; needs `mpiexec`, which `.ci/run` installs
//! with Debian's MPICH): ranks take the steps one process takes with the same global batch, end
//! with identical weights, and a rank that dies ends the job.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use burn::prelude::Device;
use ptychostudio::train::ModelBundle;
use ptychostudio::train::parallel::flatten_parameters;

const BIN: &str = env!("CARGO_BIN_EXE_ptychostudio");

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn simulate(path: &Path) {
    let out = Command::new(BIN)
        .args(["simulate", "--output", path.to_str().unwrap()])
        .args(["--n-images", "64", "--object-size", "128", "--seed", "5"])
        .args(["--nphotons", "1e6", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `train`'s arguments for a small run into `dir`: 36 groups in batches of 8 (the last one 4),
/// two epochs, the probe trained (the default).
fn train_args(data: &Path, dir: &Path, epochs: &str) -> Vec<String> {
    [
        "train",
        "--train-data-file",
        data.to_str().unwrap(),
        "--output-dir",
        dir.to_str().unwrap(),
        "--n-groups",
        "36",
        "--batch-size",
        "8",
        "--nepochs",
        epochs,
        "--n-filters-scale",
        "1",
        "--seed",
        "11",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn mpiexec(ranks: usize) -> Command {
    let mut command = Command::new("mpiexec");
    // Hydra ends a job that runs longer: a hang fails the test instead of stalling CI.
    command.env("MPIEXEC_TIMEOUT", "600");
    command.args(["-n", &ranks.to_string(), BIN]);
    command
}

/// `metrics.csv`'s (train loss, validation loss) per epoch.
fn losses(dir: &Path) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (train, val) = (column("train_loss"), column("val_loss"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[train].parse().unwrap(), fields[val].parse().unwrap())
        })
        .collect()
}

fn weights(dir: &Path) -> (Vec<f64>, Vec<[f32; 2]>) {
    let bundle = ModelBundle::load(&dir.join("model"), &Device::flex()).unwrap();
    let probe = bundle.probe.iter().map(|c| [c.re, c.im]).collect();
    (flatten_parameters(&bundle.network), probe)
}

/// ‖a − b‖₂ / ‖b‖₂.
fn relative_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let difference: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let size: f64 = b.iter().map(|y| y * y).sum();
    (difference / size.max(1e-300)).sqrt()
}

/// The largest relative difference between two runs' per-epoch losses.
fn loss_difference(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    assert_eq!(a.len(), b.len(), "epochs");
    a.iter()
        .zip(b)
        .flat_map(|((a1, a2), (b1, b2))| [((a1 - b1) / b1).abs(), ((a2 - b2) / b2).abs()])
        .fold(0.0, f64::max)
}

/// (network, probe) weight differences and the loss difference of two runs.
fn run_difference(a: &Path, b: &Path) -> [f64; 3] {
    let ((net_a, probe_a), (net_b, probe_b)) = (weights(a), weights(b));
    let flat = |p: &[[f32; 2]]| -> Vec<f64> { p.iter().flatten().map(|&v| f64::from(v)).collect() };
    [
        relative_difference(&net_a, &net_b),
        relative_difference(&flat(&probe_a), &flat(&probe_b)),
        loss_difference(&losses(a), &losses(b)),
    ]
}

/// Ranks against one process on the same global batches. Floating-point sums in another order
/// make runs differ a little (one process on two threads differs from itself on one, by a
/// relative L2 of 4e-6 to 5e-4 in the weights, 2e-7 to 1e-5 in the probe and 1e-6 to 2e-4 in the
/// losses over the runs measured, as Adam turns a gradient's last bits into a whole step where a
/// weight's gradient is near zero). The ranks must stay within 1e-3 (weights), 1e-4 (probe) and
/// 2e-4 (losses) of one process on one thread; measured: 9.7e-5, 9.0e-7, 1.6e-5 with 2 ranks and
/// 1.8e-4, 2.8e-7, 1.9e-6 with 3, the same every run.
const LIMITS: [(&str, f64); 3] = [("weights", 1e-3), ("probe", 1e-4), ("losses", 2e-4)];

#[test]
fn ranks_take_the_steps_of_one_process_with_the_same_batch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("scan.npz");
    simulate(&data);
    let single = |threads: &str| {
        let run = dir.path().join(format!("single-{threads}"));
        let out = Command::new(BIN)
            .env("RAYON_NUM_THREADS", threads)
            .args(train_args(&data, &run, "2"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        run
    };
    let (one, two) = (single("1"), single("2"));
    let floor = run_difference(&two, &one);
    println!("one process, 2 threads against 1: weights, probe, losses differ by {floor:?}");
    // Two ranks share every batch evenly; three share 8 as 3 + 3 + 2 and the last batch of 4
    // as 2 + 1 + 1.
    for ranks in [2, 3] {
        let run = dir.path().join(format!("ranks{ranks}"));
        let out = mpiexec(ranks)
            .args(train_args(&data, &run, "2"))
            .output()
            .unwrap();
        let log = stderr(&out);
        assert!(out.status.success(), "{ranks} ranks: {log}");
        assert!(
            log.contains(&format!(
                "the weights are identical on all {ranks} processes"
            )),
            "{ranks} ranks: {log}"
        );
        assert_eq!(
            log.matches("the weights are identical").count(),
            1,
            "rank 0 alone logs: {log}"
        );
        let difference = run_difference(&run, &one);
        println!("{ranks} ranks against one process on 1 thread: {difference:?}");
        for ((what, limit), (d, f)) in LIMITS.iter().zip(difference.iter().zip(floor)) {
            assert!(
                d <= limit,
                "{ranks} ranks: {what} differ by {d:e} from one process's (limit {limit:e}; \
                 one process on another thread count: {f:e})"
            );
        }
    }
}

/// The ptychostudio processes whose command line names `marker`.
fn ranks_running(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("ptychostudio"))
            && args.iter().any(|a| a.contains(marker))
        {
            pids.push(pid);
        }
    }
    pids
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn a_killed_rank_ends_the_job_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("scan.npz");
    simulate(&data);
    let run: PathBuf = dir.path().join("killed-rank-run");
    let mut job = mpiexec(2)
        .args(train_args(&data, &run, "200"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marker = run.to_str().unwrap().to_owned();
    let started = Instant::now();
    let mut pids = ranks_running(&marker);
    while pids.len() < 2 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
        pids = ranks_running(&marker);
    }
    assert_eq!(pids.len(), 2, "both ranks should be running: {pids:?}");
    // Into training (the first epoch writes nothing before its end).
    std::thread::sleep(Duration::from_secs(5));
    let killed = Command::new("kill")
        .args(["-9", &pids[1].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let limit = Duration::from_secs(60);
    let status = wait_with_deadline(&mut job, limit);
    if status.is_none() {
        let _ = job.kill();
    }
    let status = status.unwrap_or_else(|| panic!("the job still runs {limit:?} after a rank died"));
    assert!(!status.success(), "a job with a dead rank must fail");
    assert!(
        ranks_running(&marker).is_empty(),
        "the surviving rank must end with the job"
    );
}
