//! Fuzzing the readers: valid NPZ scans and a valid model directory, mutated with a fixed seed
//! (byte flips, truncation, zip headers, NPY headers, shapes, dtypes, values, JSON fields), fed
//! to the scan loader, to `inspect` and to model loading. Every case must end in a value or in
//! an error line — no panic, no hang.
//!
//! CI runs a few thousand cases. At scale, with another seed:
//! `PTYCHO_FUZZ_CASES=1000000 PTYCHO_FUZZ_SEED=7 cargo test --release --test fuzz -- --nocapture`
//! (`PTYCHO_FUZZ_MODEL_CASES` sets the model directory cases, a third of the cases by default).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use burn::prelude::*;
use ndarray::{Array1, Array2, Array3, ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use ptychostudio::data::inspect::InspectReport;
use ptychostudio::data::{LoadOptions, load};
use ptychostudio::io::NpzWriter;
use ptychostudio::train::{ModelBundle, TrainConfig, TrainControl, train};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;

const N: usize = 64;
const M: usize = 8;
/// A case taking longer than this is a hang.
const HANG: Duration = Duration::from_secs(20);

fn cases_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed_from_env() -> u64 {
    cases_from_env("PTYCHO_FUZZ_SEED", 20_261_201) as u64
}

/// One array of a scan file, by type.
#[derive(Clone)]
enum Value {
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    I64(ArrayD<i64>),
    U8(ArrayD<u8>),
    U16(ArrayD<u16>),
    C64(ArrayD<Complex32>),
    C128(ArrayD<Complex64>),
}

fn valid_arrays() -> Vec<(String, Value)> {
    let amplitudes = Array3::from_shape_fn((M, N, N), |(i, r, c)| {
        let d2 = (r as f32 - 32.0).powi(2) + (c as f32 - 32.0).powi(2);
        30.0 * (-d2 / 40.0).exp() + 0.1 + 0.01 * ((i * 7 + r * 3 + c) % 11) as f32
    });
    let coords = Array1::from_shape_fn(M, |i| 40.0 + 3.0 * i as f64);
    let probe = Array2::from_shape_fn((N, N), |(r, c)| {
        let d2 = (r as f32 - 32.0).powi(2) + (c as f32 - 32.0).powi(2);
        Complex32::new((-d2 / 200.0).exp(), 0.0)
    });
    let object = Array2::from_elem((160, 160), Complex32::new(1.0, 0.1));
    vec![
        ("diff3d".into(), Value::F32(amplitudes.into_dyn())),
        ("xcoords".into(), Value::F64(coords.clone().into_dyn())),
        ("ycoords".into(), Value::F64(coords.into_dyn())),
        ("probeGuess".into(), Value::C64(probe.into_dyn())),
        ("objectGuess".into(), Value::C64(object.into_dyn())),
    ]
}

fn npz_bytes(dir: &Path, arrays: &[(String, Value)]) -> Vec<u8> {
    let path = dir.join("build.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    for (key, value) in arrays {
        match value {
            Value::F32(a) => w.add(key, a),
            Value::F64(a) => w.add(key, a),
            Value::I64(a) => w.add(key, a),
            Value::U8(a) => w.add(key, a),
            Value::U16(a) => w.add(key, a),
            Value::C64(a) => w.add(key, a),
            Value::C128(a) => w.add(key, a),
        }
        .unwrap();
    }
    w.finish().unwrap();
    std::fs::read(&path).unwrap()
}

/// The `.npy` entries of an NPZ, in order.
fn entries(npz: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(npz)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (f.name().to_owned(), bytes)
        })
        .collect()
}

/// A zip of `entries`, stored or deflated.
fn zip_of(entries: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        out.start_file(name.as_str(), options).unwrap();
        out.write_all(bytes).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A number a header or field might hold: small, edge, huge or random.
fn wild_usize(rng: &mut ChaCha8Rng) -> u64 {
    let small = rng.random::<u64>() % 1000;
    let any = rng.random::<u64>();
    *pick(
        rng,
        &[
            0,
            1,
            2,
            3,
            7,
            8,
            63,
            64,
            65,
            128,
            255,
            256,
            65_535,
            1 << 31,
            (1 << 32) - 1,
            1 << 40,
            u64::MAX,
            small,
            any,
        ],
    )
}

fn flip_bytes(rng: &mut ChaCha8Rng, bytes: &mut [u8]) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..rng.random_range(1..=8) {
        let at = rng.random_range(0..bytes.len());
        bytes[at] = match rng.random_range(0..3) {
            0 => bytes[at] ^ (1 << rng.random_range(0..8)),
            1 => rng.random(),
            _ => *pick(rng, &[0u8, 0xff, b'(', b')', b',', b'\'', b'\n', b'{']),
        };
    }
}

fn truncate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let keep = rng.random_range(0..bytes.len().max(1));
    bytes.truncate(keep);
}

/// Overwrites one field after a zip signature (local header, central directory, end record).
fn mutate_zip_header(rng: &mut ChaCha8Rng, bytes: &mut [u8]) {
    let signatures: [&[u8]; 3] = [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"];
    let sig = *pick(rng, &signatures);
    let hits: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == sig)
        .map(|(i, _)| i)
        .collect();
    let Some(&at) = hits.get(rng.random_range(0..hits.len().max(1))) else {
        flip_bytes(rng, bytes);
        return;
    };
    // Fields are 2 or 4 bytes little-endian within the first 46 bytes of a header.
    let offset = at + 4 + 2 * rng.random_range(0..21);
    let width = if rng.random_bool(0.5) { 2 } else { 4 };
    let value = wild_usize(rng).to_le_bytes();
    for (k, v) in value.iter().take(width).enumerate() {
        if let Some(b) = bytes.get_mut(offset + k) {
            *b = *v;
        }
    }
}

/// An NPY header dictionary, mutated.
fn mutate_npy_header(rng: &mut ChaCha8Rng, npy: &[u8]) -> Vec<u8> {
    if npy.len() < 10 || !npy.starts_with(b"\x93NUMPY") {
        return npy.to_vec();
    }
    let header_len = usize::from(u16::from_le_bytes([npy[8], npy[9]]));
    let body = npy.get(10 + header_len..).unwrap_or_default().to_vec();
    let dtypes = [
        "<f4",
        "<f8",
        ">f4",
        ">f8",
        "<c8",
        "<c16",
        ">c8",
        "|u1",
        "|i1",
        "<u2",
        "<i2",
        "<i4",
        "<i8",
        "<u8",
        "|b1",
        "<f2",
        "<U5",
        "|S3",
        "|O",
        "<M8[s]",
        "V8",
        "",
        "<f16",
        "<c32",
        "[('a', '<f4')]",
        "garbage",
    ];
    let descr = pick(rng, &dtypes).to_string();
    let ndim = rng.random_range(0..5);
    let shape: Vec<String> = (0..ndim)
        .map(|_| match rng.random_range(0..6) {
            0 => "-1".to_owned(),
            1 => "1e3".to_owned(),
            2 => "x".to_owned(),
            _ => wild_usize(rng).to_string(),
        })
        .collect();
    let shape = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.join(", ")),
    };
    let fortran = pick(rng, &["False", "True", "0", "None", "'yes'"]);
    let dict = match rng.random_range(0..8) {
        0 => format!("{{'descr': '{descr}', 'shape': {shape}, }}"),
        1 => format!("{{'fortran_order': {fortran}, 'shape': {shape}}}"),
        2 => format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}"),
        3 => "{".repeat(rng.random_range(1..200)),
        4 => {
            let from = *pick(rng, &["'", ":", ",", "(", ")", "descr", "shape"]);
            let to = *pick(rng, &["", "\"", ";", "((", "))", "desc", "Shape"]);
            String::from_utf8_lossy(&npy[10..(10 + header_len).min(npy.len())]).replace(from, to)
        }
        _ => format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"),
    };
    let mut header = dict.into_bytes();
    header.push(b'\n');
    let mut out = b"\x93NUMPY".to_vec();
    let version = *pick(rng, &[1u8, 1, 1, 2, 3, 0, 9]);
    out.push(version);
    out.push(0);
    let claimed = if rng.random_bool(0.9) {
        header.len() as u64
    } else {
        wild_usize(rng)
    };
    if version == 2 || version == 3 {
        out.extend_from_slice(&(claimed as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(claimed as u16).to_le_bytes());
    }
    out.extend_from_slice(&header);
    if rng.random_bool(0.8) {
        out.extend_from_slice(&body);
    } else {
        out.extend_from_slice(&body[..rng.random_range(0..body.len().max(1)).min(body.len())]);
    }
    out
}

/// A scan whose arrays have other shapes, dtypes, values or keys.
fn mutate_arrays(rng: &mut ChaCha8Rng, mut arrays: Vec<(String, Value)>) -> Vec<(String, Value)> {
    for _ in 0..rng.random_range(1..=3) {
        let i = rng.random_range(0..arrays.len().max(1));
        match rng.random_range(0..9) {
            0 if !arrays.is_empty() => {
                arrays.remove(i.min(arrays.len() - 1));
            }
            1 => {
                let name = pick(
                    rng,
                    &[
                        "diff3d",
                        "diffraction",
                        "xcoords",
                        "ycoords",
                        "probeGuess",
                        "probe",
                        "objectGuess",
                        "scan_index",
                        "xcoords_start",
                        "Y",
                        "pixel_width_m",
                        "probe_position_x_m",
                        "probe_position_y_m",
                        "",
                        "a/b",
                        "é",
                    ],
                )
                .to_string();
                arrays.retain(|(k, _)| *k != name);
                arrays.push((name, random_value(rng)));
            }
            2 => {
                if let Some(a) = arrays.get_mut(i) {
                    a.1 = random_value(rng);
                }
            }
            3 => poison_patterns(rng, &mut arrays),
            4 => {
                // Coordinates of another length, or NaN.
                let len = rng.random_range(0..2 * M);
                let value = if rng.random_bool(0.3) { f64::NAN } else { 50.0 };
                let key = pick(rng, &["xcoords", "ycoords"]).to_string();
                arrays.retain(|(k, _)| *k != key);
                arrays.push((key, Value::F64(ArrayD::from_elem(IxDyn(&[len]), value))));
            }
            5 => {
                // The probe at another size, or all zeros.
                let side = *pick(rng, &[0usize, 1, 32, 63, 64, 65, 128]);
                let value = if rng.random_bool(0.5) {
                    Complex32::new(0.0, 0.0)
                } else {
                    Complex32::new(f32::NAN, 1.0)
                };
                arrays.retain(|(k, _)| k != "probeGuess");
                arrays.push((
                    "probeGuess".into(),
                    Value::C64(ArrayD::from_elem(IxDyn(&[side, side]), value)),
                ));
            }
            6 => {
                // The same key twice is impossible in our writer: rename a key instead.
                let name = pick(rng, &["DIFF3D", "diff3d ", "probeguess", "x"]).to_string();
                if i < arrays.len() && !arrays.iter().any(|(k, _)| *k == name) {
                    arrays[i].0 = name;
                }
            }
            7 => {
                // Patterns as counts (integers) or complex.
                if let Some(pos) = arrays.iter().position(|(k, _)| k == "diff3d")
                    && let Value::F32(a) = &arrays[pos].1
                {
                    arrays[pos].1 = match rng.random_range(0..3) {
                        0 => Value::U16(a.mapv(|v| (v * v) as u16)),
                        1 => Value::C64(a.mapv(|v| Complex32::new(v, 0.0))),
                        _ => Value::I64(a.mapv(|v| (v as i64).wrapping_neg())),
                    };
                }
            }
            _ => {
                // Patterns of another shape.
                let shape: Vec<usize> = (0..rng.random_range(0..5))
                    .map(|_| *pick(rng, &[0usize, 1, 2, 8, 63, 64, 65, 128]))
                    .collect();
                let len: usize = shape.iter().product();
                if len <= 1 << 22 {
                    arrays.retain(|(k, _)| k != "diff3d");
                    arrays.push((
                        "diff3d".into(),
                        Value::F32(ArrayD::from_elem(IxDyn(&shape), 1.0)),
                    ));
                }
            }
        }
    }
    arrays
}

/// Non-finite or negative values in some of the patterns' pixels.
fn poison_patterns(rng: &mut ChaCha8Rng, arrays: &mut [(String, Value)]) {
    // Non-finite or negative values in the patterns.
    if let Some((_, Value::F32(a))) = arrays.iter_mut().find(|(k, _)| k == "diff3d") {
        let len = a.len();
        if len > 0 {
            for _ in 0..rng.random_range(1..50) {
                let at = rng.random_range(0..len);
                let v = *pick(rng, &[f32::NAN, f32::INFINITY, -1.0, -1e30, 1e38]);
                if let Some(x) = a.as_slice_mut().and_then(|s| s.get_mut(at)) {
                    *x = v;
                }
            }
        }
    }
}

fn random_value(rng: &mut ChaCha8Rng) -> Value {
    let shape: Vec<usize> = (0..rng.random_range(0..4))
        .map(|_| rng.random_range(0..12))
        .collect();
    let dim = IxDyn(&shape);
    match rng.random_range(0..7) {
        0 => Value::F32(ArrayD::from_elem(dim, rng.random())),
        1 => Value::F64(ArrayD::from_elem(dim, rng.random::<f64>() * 100.0)),
        2 => Value::I64(ArrayD::from_elem(dim, rng.random::<i64>())),
        3 => Value::U8(ArrayD::from_elem(dim, rng.random())),
        4 => Value::U16(ArrayD::from_elem(dim, rng.random())),
        5 => Value::C64(ArrayD::from_elem(dim, Complex32::new(rng.random(), 0.5))),
        _ => Value::C128(ArrayD::from_elem(dim, Complex64::new(1.0, rng.random()))),
    }
}

/// Runs `job` on its own thread; `Err` names a panic or a hang.
fn guarded<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let out = job();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(HANG) {
        Ok(()) => handle.join().map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "a panic".into())
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(handle
            .join()
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into())),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("no answer within {HANG:?} (a hang)")),
    }
}

/// Tallies outcomes; a refusal must be one non-empty line.
#[derive(Default)]
struct Tally {
    cases: usize,
    accepted: usize,
    refusals: BTreeMap<String, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, label: &str, outcome: Result<Result<(), String>, String>, keep: &Path) {
        self.cases += 1;
        match outcome {
            Ok(Ok(())) => self.accepted += 1,
            Ok(Err(message)) => {
                if message.trim().is_empty() || message.contains('\n') {
                    self.failures.push(format!(
                        "{label}: a refusal that is not one line: {message:?}"
                    ));
                }
                // Group refusals by their first words after the file name, for the summary.
                let text = if message.starts_with('/') {
                    message
                        .split_once(": ")
                        .map_or(message.as_str(), |(_, rest)| rest)
                } else {
                    message.as_str()
                };
                let kind: String = text
                    .split([':', '\'', '('])
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(40)
                    .collect();
                *self.refusals.entry(kind).or_default() += 1;
            }
            Err(why) => self
                .failures
                .push(format!("{label}: {why} (input kept at {})", keep.display())),
        }
    }

    fn finish(&self, what: &str, started: Instant) {
        println!(
            "{what}: {} cases in {:.1} s: {} accepted, {} refused, {} panics or hangs",
            self.cases,
            started.elapsed().as_secs_f64(),
            self.accepted,
            self.cases - self.accepted - self.failures.len(),
            self.failures.len()
        );
        let mut kinds: Vec<_> = self.refusals.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        for (kind, count) in kinds.iter().take(12) {
            println!("  {count:>6}  {kind}");
        }
        assert!(
            self.failures.is_empty(),
            "{} of {} cases failed:\n{}",
            self.failures.len(),
            self.cases,
            self.failures
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn mutated_scans_are_refused_with_an_error_line_never_a_panic() {
    let cases = cases_from_env("PTYCHO_FUZZ_CASES", 3000);
    let seed = seed_from_env();
    let dir = tempfile::tempdir().unwrap();
    let valid = valid_arrays();
    let base = npz_bytes(dir.path(), &valid);
    let base_entries = entries(&base);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tally = Tally::default();
    let started = Instant::now();
    for case in 0..cases {
        let class = case % 6;
        let bytes = match class {
            0 => {
                let mut b = base.clone();
                flip_bytes(&mut rng, &mut b);
                b
            }
            1 => {
                let mut b = base.clone();
                truncate(&mut rng, &mut b);
                b
            }
            2 => {
                let mut b = base.clone();
                mutate_zip_header(&mut rng, &mut b);
                b
            }
            3 => {
                let mut e = base_entries.clone();
                let i = rng.random_range(0..e.len());
                e[i].1 = mutate_npy_header(&mut rng, &e[i].1);
                zip_of(&e, rng.random_bool(0.3))
            }
            4 => {
                let mut e = base_entries.clone();
                let i = rng.random_range(0..e.len());
                let mut npy = e[i].1.clone();
                // Flip bytes of one entry's header or data, then zip it properly (a valid CRC).
                let end = npy.len().min(if rng.random_bool(0.7) {
                    128
                } else {
                    usize::MAX
                });
                flip_bytes(&mut rng, &mut npy[..end]);
                if rng.random_bool(0.2) {
                    truncate(&mut rng, &mut npy);
                }
                e[i].1 = npy;
                zip_of(&e, rng.random_bool(0.3))
            }
            _ => npz_bytes(dir.path(), &mutate_arrays(&mut rng, valid.clone())),
        };
        let path = dir.path().join(format!("case-{}.npz", case % 2));
        std::fs::write(&path, &bytes).unwrap();
        let job_path = path.clone();
        let outcome = guarded(move || {
            let loaded = load(&job_path, &LoadOptions::default())
                .map(|_| ())
                .map_err(|e| e.to_string());
            // `inspect` reads every array and must refuse only what is not an NPZ at all.
            let inspected = InspectReport::build(&job_path, &LoadOptions::default())
                .map(|_| ())
                .map_err(|e| e.to_string());
            match (loaded, inspected) {
                (Err(e), _) | (Ok(()), Err(e)) => Err(e),
                (Ok(()), Ok(())) => Ok(()),
            }
        });
        let keep = if outcome.is_err() {
            let kept = std::env::temp_dir().join(format!("ptycho-fuzz-{seed}-{case}.npz"));
            let _ = std::fs::write(&kept, &bytes);
            kept
        } else {
            PathBuf::new()
        };
        tally.record(&format!("case {case} (class {class})"), outcome, &keep);
    }
    tally.finish(&format!("scans (seed {seed})"), started);
    assert!(
        tally.accepted > 0,
        "some mutations (values, extra keys) still load"
    );
}

/// A real model directory: one epoch of a small network on the valid scan.
fn model_dir(dir: &Path) -> PathBuf {
    let scan = dir.join("scan.npz");
    std::fs::write(&scan, npz_bytes(dir, &valid_arrays())).unwrap();
    let data = load(&scan, &LoadOptions::default()).unwrap().dataset;
    let config = TrainConfig {
        n: N,
        n_filters_scale: 1,
        n_groups: M,
        batch_size: 4,
        nepochs: 1,
        validation_fraction: 0.25,
        overlap_groups: false,
        seed: 1,
        ..TrainConfig::default()
    };
    let run = dir.join("run");
    let control = TrainControl {
        output_dir: Some(run.clone()),
        ..TrainControl::default()
    };
    train(&data, None, &config, &Device::flex(), &control, None).unwrap();
    run.join("model")
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// `config.json` with one field set to a value it should not have.
fn mutate_json(rng: &mut ChaCha8Rng, text: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_owned();
    };
    let wild = || -> Vec<serde_json::Value> {
        vec![
            serde_json::json!(null),
            serde_json::json!(-1),
            serde_json::json!(0),
            serde_json::json!(3),
            serde_json::json!(100),
            serde_json::json!(1e300),
            serde_json::json!(u64::MAX),
            serde_json::json!("x"),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!(true),
        ]
    };
    let choices = wild();
    let replacement = pick(rng, &choices).clone();
    let fields = [
        "format",
        "format_version",
        "normalization_factor",
        "intensity_scale",
        "parameters",
        "config.n",
        "config.gridsize",
        "config.n_filters_scale",
        "config.object_big",
        "config.probe_big",
        "config.batch_size",
        "config.nphotons",
        "config.loss",
        "config.adam.epsilon",
        "config.merge_weights",
        "config.overlap_merge_weights",
        "schedule",
        "schedule.learning_rate",
    ];
    let field = *pick(rng, &fields);
    let mut slot = &mut value;
    for part in field.split('.') {
        match slot.get_mut(part) {
            Some(next) => slot = next,
            None => return value.to_string(),
        }
    }
    *slot = replacement;
    value.to_string()
}

#[test]
fn mutated_model_directories_are_refused_with_an_error_line_never_a_panic() {
    let cases = cases_from_env(
        "PTYCHO_FUZZ_MODEL_CASES",
        cases_from_env("PTYCHO_FUZZ_CASES", 3000) / 3,
    );
    let seed = seed_from_env();
    let dir = tempfile::tempdir().unwrap();
    let model = model_dir(dir.path());
    ModelBundle::load(&model, &Device::flex()).expect("the unmutated model loads");
    let files: Vec<String> = std::fs::read_dir(&model)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() >= 4, "model files: {files:?}");
    let originals: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|f| (f.clone(), std::fs::read(model.join(f)).unwrap()))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xA5A5);
    let mut tally = Tally::default();
    let started = Instant::now();
    let case_dir = dir.path().join("case");
    for case in 0..cases {
        copy_dir(&model, &case_dir);
        let file = pick(&mut rng, &files).clone();
        let target = case_dir.join(&file);
        let mut bytes = originals[&file].clone();
        match rng.random_range(0..5) {
            0 => flip_bytes(&mut rng, &mut bytes),
            1 => truncate(&mut rng, &mut bytes),
            2 if file.ends_with(".json") => {
                bytes = mutate_json(&mut rng, &String::from_utf8_lossy(&bytes)).into_bytes();
            }
            2 | 3 if file.ends_with(".npz") => mutate_zip_header(&mut rng, &mut bytes),
            3 => {
                // The file from another place in the directory: wrong content, right name.
                let other = pick(&mut rng, &files).clone();
                bytes = originals[&other].clone();
            }
            _ => {
                let _ = std::fs::remove_file(&target);
                bytes.clear();
            }
        }
        if !bytes.is_empty() || target.exists() {
            std::fs::write(&target, &bytes).unwrap();
        }
        let job_dir = case_dir.clone();
        let outcome = guarded(move || {
            ModelBundle::load(&job_dir, &Device::flex())
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        let keep = if outcome.is_err() {
            let kept = std::env::temp_dir().join(format!("ptycho-fuzz-model-{seed}-{case}"));
            copy_dir(&case_dir, &kept);
            kept
        } else {
            PathBuf::new()
        };
        tally.record(&format!("model case {case} ({file})"), outcome, &keep);
    }
    tally.finish(&format!("model directories (seed {seed})"), started);
}

/// HDF5: every fixture truncated at random points, and the compressed chunks the decoders read
/// flipped, cut and given wild headers. The files are read by the HDF5 library, which checks a
/// truncated file against the length its superblock states; byte flips inside a file's
/// metadata are not fuzzed here (that tests HDF5 itself, which can abort on them), but every
/// byte our decoders see is.
#[test]
fn mutated_hdf5_files_and_chunks_are_refused_with_an_error_line_never_a_panic() {
    use ptychostudio::io::hdf5::filters::{
        BITSHUFFLE_LZ4, BITSHUFFLE_NONE, bitshuffle_decode, lz4_decode,
    };
    let cases = cases_from_env("PTYCHO_FUZZ_HDF5_CASES", 400);
    let seed = seed_from_env();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4844_4635);
    let fixtures = Path::new("tests/fixtures/hdf5");
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut tally = Tally::default();
    let files = ["scan.cxi", "odd_stack.h5", "eiger_data_000001.h5"];
    for case in 0..cases / 4 {
        let name = *pick(&mut rng, &files);
        let mut bytes = std::fs::read(fixtures.join(name)).unwrap();
        truncate(&mut rng, &mut bytes);
        let path = dir.path().join(format!("cut-{name}"));
        std::fs::write(&path, &bytes).unwrap();
        let job_path = path.clone();
        let outcome = guarded(move || {
            let mut options = LoadOptions::default();
            options.hdf5.positions =
                Some(Path::new("tests/fixtures/hdf5/odd_positions.txt").into());
            load(&job_path, &options)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        tally.record(&format!("truncated {name}, case {case}"), outcome, &path);
    }
    let chunks = [
        std::fs::read(fixtures.join("chunk_bshuf_lz4.bin")).unwrap(),
        std::fs::read(fixtures.join("chunk_lz4.bin")).unwrap(),
    ];
    for case in 0..cases - cases / 4 {
        let which = rng.random_range(0..2usize);
        let mut bytes = chunks[which].clone();
        match rng.random_range(0..3) {
            0 => flip_bytes(&mut rng, &mut bytes),
            1 => truncate(&mut rng, &mut bytes),
            _ => {
                // A wild size or block in the header.
                let field = rng.random_range(0..3usize);
                let value = wild_usize(&mut rng).to_be_bytes();
                let (at, len) = [(0, 8), (8, 4), (12, 4)][field];
                if bytes.len() >= at + len {
                    bytes[at..at + len].copy_from_slice(&value[8 - len..]);
                }
            }
        }
        let elem_size = *pick(&mut rng, &[1usize, 2, 4, 8]);
        let mode = *pick(&mut rng, &[BITSHUFFLE_LZ4, BITSHUFFLE_NONE]);
        let outcome = guarded(move || {
            let decoded = if which == 0 {
                bitshuffle_decode(&bytes, elem_size, mode, 0)
            } else {
                lz4_decode(&bytes)
            };
            decoded.map(|_| ()).map_err(|e| e.to_string())
        });
        tally.record(&format!("chunk case {case}"), outcome, Path::new(""));
    }
    tally.finish(&format!("HDF5 files and chunks (seed {seed})"), started);
}
