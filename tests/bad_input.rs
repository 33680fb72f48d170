//! Every class of bad input gives an error naming what is wrong, never a panic. Each test
//! builds its file from a valid one.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3};
use num_complex::Complex32;
use ptychostudio::data::{DatasetError, LoadOptions, load};
use ptychostudio::io::{NpzError, NpzWriter};

const N: usize = 64;
const M: usize = 12;

/// One array to write, by type.
enum Value {
    F32(ndarray::ArrayD<f32>),
    F64(ndarray::ArrayD<f64>),
    U16(ndarray::ArrayD<u16>),
    C64(ndarray::ArrayD<Complex32>),
    C128(ndarray::ArrayD<num_complex::Complex64>),
}

fn amplitudes() -> Array3<f32> {
    // A smooth centred bump plus irrational-looking values: amplitudes, DC at the centre.
    Array3::from_shape_fn((M, N, N), |(i, r, c)| {
        let d2 = (r as f32 - 32.0).powi(2) + (c as f32 - 32.0).powi(2);
        30.0 * (-d2 / 40.0).exp()
            + 0.1
            + 0.01 * ((i * 7 + r * 3 + c) % 11) as f32 * std::f32::consts::SQRT_2
    })
}

fn valid() -> Vec<(&'static str, Value)> {
    let coords = Array1::from_shape_fn(M, |i| 40.0 + 3.0 * i as f64);
    vec![
        ("diff3d", Value::F32(amplitudes().into_dyn())),
        ("xcoords", Value::F64(coords.clone().into_dyn())),
        ("ycoords", Value::F64(coords.into_dyn())),
        (
            "probeGuess",
            Value::C64(Array2::from_elem((N, N), Complex32::new(0.3, 0.1)).into_dyn()),
        ),
    ]
}

fn write(dir: &Path, name: &str, arrays: &[(&str, Value)]) -> PathBuf {
    let path = dir.join(name);
    let mut w = NpzWriter::create(&path).unwrap();
    for (key, value) in arrays {
        match value {
            Value::F32(a) => w.add(key, a),
            Value::F64(a) => w.add(key, a),
            Value::U16(a) => w.add(key, a),
            Value::C64(a) => w.add(key, a),
            Value::C128(a) => w.add(key, a),
        }
        .unwrap();
    }
    w.finish().unwrap();
    path
}

fn replace(
    mut arrays: Vec<(&'static str, Value)>,
    key: &'static str,
    value: Value,
) -> Vec<(&'static str, Value)> {
    arrays.retain(|(k, _)| *k != key);
    arrays.push((key, value));
    arrays
}

fn load_err(path: &Path) -> DatasetError {
    load(path, &LoadOptions::default()).expect_err("bad file must not load")
}

#[test]
fn the_valid_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ok.npz", &valid());
    let loaded = load(&path, &LoadOptions::default()).unwrap();
    assert_eq!((loaded.dataset.len(), loaded.dataset.n()), (M, N));
    assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);

    // float64 patterns and a complex128 object load the same.
    let wide = replace(
        valid(),
        "diff3d",
        Value::F64(amplitudes().mapv(f64::from).into_dyn()),
    );
    let object = ndarray::Array2::from_elem((80, 90), num_complex::Complex64::new(0.5, -0.25));
    let wide = replace(wide, "objectGuess", Value::C128(object.into_dyn()));
    write(dir.path(), "wide.npz", &wide);
    let loaded = load(&dir.path().join("wide.npz"), &LoadOptions::default()).unwrap();
    assert_eq!(loaded.dataset.diffraction().unwrap(), &amplitudes());
    assert_eq!(
        loaded.dataset.object().unwrap()[[3, 4]],
        Complex32::new(0.5, -0.25)
    );
}

#[test]
fn missing_key_is_named_with_the_keys_present() {
    let dir = tempfile::tempdir().unwrap();
    let mut arrays = valid();
    arrays.retain(|(k, _)| *k != "xcoords");
    let err = load_err(&write(dir.path(), "f.npz", &arrays));
    let text = err.to_string();
    assert!(
        matches!(err, DatasetError::Npz(NpzError::MissingKey { .. })),
        "{err:?}"
    );
    assert!(
        text.contains("'xcoords'") && text.contains("diff3d"),
        "{text}"
    );
}

#[test]
fn wrong_rank_names_key_and_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let arrays = replace(
        valid(),
        "diff3d",
        Value::F32(Array2::<f32>::ones((M, N * N)).into_dyn()),
    );
    let text = load_err(&write(dir.path(), "f.npz", &arrays)).to_string();
    assert!(
        text.contains("'diff3d'")
            && text.contains(&format!("[{M}, {}]", N * N))
            && text.contains("(M, N, N)"),
        "{text}"
    );
}

#[test]
fn mismatched_counts_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let arrays = replace(
        valid(),
        "ycoords",
        Value::F64(Array1::<f64>::zeros(M - 2).into_dyn()),
    );
    let text = load_err(&write(dir.path(), "f.npz", &arrays)).to_string();
    assert!(
        text.contains("ycoords")
            && text.contains(&format!("{}", M - 2))
            && text.contains(&M.to_string()),
        "{text}"
    );

    let arrays = replace(
        valid(),
        "diff3d",
        Value::F32(Array3::<f32>::ones((M + 3, N, N)).into_dyn()),
    );
    let text = load_err(&write(dir.path(), "g.npz", &arrays)).to_string();
    assert!(
        text.contains("'diff3d'")
            && text.contains(&format!("[{}, {N}, {N}]", M + 3))
            && text.contains(&format!("M = {M}")),
        "{text}"
    );
}

#[test]
fn unsupported_pattern_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let arrays = replace(
        valid(),
        "diff3d",
        Value::F32(Array3::<f32>::ones((M, 60, 60)).into_dyn()),
    );
    let arrays = replace(
        arrays,
        "probeGuess",
        Value::C64(Array2::<Complex32>::zeros((60, 60)).into_dyn()),
    );
    let text = load_err(&write(dir.path(), "f.npz", &arrays)).to_string();
    assert!(
        text.contains("[12, 60, 60]") && text.contains("[64, 128, 256]"),
        "{text}"
    );
}

#[test]
fn probe_of_the_wrong_size_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let arrays = replace(
        valid(),
        "probeGuess",
        Value::C64(Array2::<Complex32>::zeros((32, 32)).into_dyn()),
    );
    let text = load_err(&write(dir.path(), "f.npz", &arrays)).to_string();
    assert!(
        text.contains("'probeGuess'") && text.contains("[32, 32]") && text.contains("(64, 64)"),
        "{text}"
    );
}

#[test]
fn non_finite_values_are_found_in_each_array() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = amplitudes();
    d[[3, 10, 10]] = f32::NAN;
    let text = load_err(&write(
        dir.path(),
        "a.npz",
        &replace(valid(), "diff3d", Value::F32(d.into_dyn())),
    ))
    .to_string();
    assert!(
        text.contains("'diff3d'") && text.contains("non-finite"),
        "{text}"
    );

    let mut x = Array1::from_shape_fn(M, |i| i as f64);
    x[5] = f64::INFINITY;
    let text = load_err(&write(
        dir.path(),
        "b.npz",
        &replace(valid(), "xcoords", Value::F64(x.into_dyn())),
    ))
    .to_string();
    assert!(
        text.contains("xcoords") && text.contains("index 5"),
        "{text}"
    );

    let mut p = Array2::from_elem((N, N), Complex32::new(0.3, 0.1));
    p[[0, 1]] = Complex32::new(0.0, f32::NAN);
    let text = load_err(&write(
        dir.path(),
        "c.npz",
        &replace(valid(), "probeGuess", Value::C64(p.into_dyn())),
    ))
    .to_string();
    assert!(
        text.contains("probe") && text.contains("non-finite"),
        "{text}"
    );
}

#[test]
fn truncated_and_corrupt_zips_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(write(dir.path(), "ok.npz", &valid())).unwrap();

    for keep in [good.len() / 2, good.len() - 10, 30] {
        let path = dir.path().join(format!("cut{keep}.npz"));
        std::fs::write(&path, &good[..keep]).unwrap();
        let err = load_err(&path);
        assert!(
            matches!(
                err,
                DatasetError::Npz(NpzError::NotNpz { .. } | NpzError::Corrupt { .. })
            ),
            "cut at {keep}: {err:?}"
        );
    }

    // Flip bytes inside diff3d's data: the zip checksum catches it.
    let mut bad = good.clone();
    let at = 4000;
    for b in &mut bad[at..at + 16] {
        *b ^= 0x5a;
    }
    let path = dir.path().join("flipped.npz");
    std::fs::write(&path, &bad).unwrap();
    let err = load_err(&path);
    assert!(
        matches!(err, DatasetError::Npz(NpzError::Corrupt { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("diff3d"), "{err}");
}

#[test]
fn files_that_are_not_npz_are_named_so() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        (
            "text.npz",
            b"this is a CSV, not an archive\n1,2,3\n".as_slice(),
        ),
        ("empty.npz", b"".as_slice()),
        (
            "bare.npy",
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"
                .as_slice(),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = load_err(&path);
        assert!(
            matches!(err, DatasetError::Npz(NpzError::NotNpz { .. })),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("not an NPZ"), "{err}");
    }
    let missing = load_err(&dir.path().join("absent.npz"));
    assert!(
        matches!(missing, DatasetError::Npz(NpzError::Io { .. })),
        "{missing:?}"
    );
}

/// Writes a zip with `xcoords.npy` replaced by raw bytes of our making.
fn write_with_raw_entry(dir: &Path, name: &str, key: &str, raw: &[u8]) -> PathBuf {
    let good = write(dir, "base.npz", &valid());
    let mut reader = zip::ZipArchive::new(std::fs::File::open(&good).unwrap()).unwrap();
    let path = dir.join(name);
    let mut out = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..reader.len() {
        let entry = reader.by_index(i).unwrap();
        if entry.name() == format!("{key}.npy") {
            continue;
        }
        out.raw_copy_file(entry).unwrap();
    }
    out.start_file(format!("{key}.npy"), options).unwrap();
    out.write_all(raw).unwrap();
    out.finish().unwrap();
    path
}

fn npy_header(descr: &str, shape: &str) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[test]
fn a_header_claiming_a_huge_array_is_refused_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    for shape in ["(4000000000, 4000000000)", "(100000000000,)"] {
        let mut raw = npy_header("<f8", shape);
        raw.extend_from_slice(&[0u8; 64]);
        let err = load_err(&write_with_raw_entry(
            dir.path(),
            "huge.npz",
            "xcoords",
            &raw,
        ));
        assert!(
            matches!(err, DatasetError::Npz(NpzError::SizeMismatch { .. })),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("'xcoords'") && text.contains("64 bytes"),
            "{text}"
        );
    }
}

#[test]
fn odd_dtypes_and_garbled_headers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = npy_header("|O", "(12,)");
    raw.extend_from_slice(&[0u8; 96]);
    let err = load_err(&write_with_raw_entry(
        dir.path(),
        "object.npz",
        "xcoords",
        &raw,
    ));
    assert!(
        matches!(err, DatasetError::Npz(NpzError::UnsupportedDtype { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("|O"), "{err}");

    let raw = b"\x93NUMPY\x01\x00\x10\x00{'nonsense': 1}\n".to_vec();
    let err = load_err(&write_with_raw_entry(
        dir.path(),
        "garbled.npz",
        "xcoords",
        &raw,
    ));
    assert!(
        matches!(err, DatasetError::Npz(NpzError::BadHeader { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("'xcoords'"), "{err}");
}

#[test]
fn intensity_is_detected_and_converted_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let counts = amplitudes().mapv(|a| (a * a).round() as u16);
    let path = write(
        dir.path(),
        "counts.npz",
        &replace(valid(), "diff3d", Value::U16(counts.into_dyn())),
    );
    let err = load_err(&path);
    let text = err.to_string();
    assert!(
        matches!(err, DatasetError::LooksLikeIntensity { .. }),
        "{err:?}"
    );
    assert!(text.contains("--sqrt") && text.contains("<u2"), "{text}");

    let loaded = load(
        &path,
        &LoadOptions {
            sqrt: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let expected = amplitudes().mapv(|a| f32::from((a * a).round() as u16).sqrt());
    let max_err = loaded
        .dataset
        .diffraction()
        .unwrap()
        .iter()
        .zip(expected.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        max_err < 1e-6,
        "the loaded amplitudes are √counts: {max_err}"
    );
    assert!(loaded.notes.iter().any(|n| n.contains("square root")));

    // Float counts are caught too (whole numbers).
    let float_counts = amplitudes().mapv(|a| (a * a).round());
    let path = write(
        dir.path(),
        "fcounts.npz",
        &replace(valid(), "diff3d", Value::F32(float_counts.into_dyn())),
    );
    assert!(matches!(
        load_err(&path),
        DatasetError::LooksLikeIntensity { .. }
    ));
}

#[test]
fn dc_at_the_corner_is_detected_and_shifted_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let centred = amplitudes();
    let corner = Array3::from_shape_fn((M, N, N), |(i, r, c)| {
        centred[[i, (r + N / 2) % N, (c + N / 2) % N]]
    });
    let path = write(
        dir.path(),
        "corner.npz",
        &replace(valid(), "diff3d", Value::F32(corner.into_dyn())),
    );
    let text = load_err(&path).to_string();
    assert!(
        text.contains("--fftshift") && text.contains("corner"),
        "{text}"
    );
    let loaded = load(
        &path,
        &LoadOptions {
            fftshift: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.dataset.diffraction().unwrap(), &centred);
}

#[test]
fn stacks_stored_n_n_m_are_transposed_and_probe_modes_reduced() {
    let dir = tempfile::tempdir().unwrap();
    let d = amplitudes();
    let nnm = d
        .clone()
        .permuted_axes([1, 2, 0])
        .as_standard_layout()
        .into_owned();
    let modes = Array3::from_shape_fn((3, N, N), |(m, _, _)| Complex32::new(1.0 + m as f32, 0.0));
    let arrays = replace(valid(), "diff3d", Value::F32(nnm.into_dyn()));
    let arrays = replace(arrays, "probeGuess", Value::C64(modes.into_dyn()));
    let loaded = load(
        &write(dir.path(), "nnm.npz", &arrays),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(loaded.dataset.diffraction().unwrap(), &d);
    assert_eq!(
        loaded.dataset.probe()[[5, 5]],
        Complex32::new(1.0, 0.0),
        "mode 0"
    );
    let notes = loaded.notes.join("\n");
    assert!(
        notes.contains("(N, N, M)") && notes.contains("3 probe modes"),
        "{notes}"
    );
}
