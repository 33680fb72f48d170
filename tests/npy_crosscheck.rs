//! Our NPY/NPZ code against an independent implementation, `ndarray-npy` (a dev-dependency kept
//! for exactly this): what it writes, we read, and what we write, it reads, value for value.
//! Our reader stays our own for what ndarray-npy does not do: complex and string scalars in one
//! reader, big-endian and Fortran-order data, integer dtypes converted on demand, size limits
//! before allocation, and errors that name the key.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use ndarray::{Array1, Array2, Array3};
use num_complex::Complex32;
use ptychostudio::io::{NpzReader, NpzWriter};

fn arrays() -> (Array3<f32>, Array1<f64>, Array2<Complex32>, Array2<i64>) {
    let patterns = Array3::from_shape_fn((3, 4, 5), |(i, r, c)| (i * 20 + r * 5 + c) as f32 * 0.25);
    let coords = Array1::from_shape_fn(7, |i| 1.5 * i as f64 - 2.0);
    let probe = Array2::from_shape_fn((4, 4), |(r, c)| Complex32::new(r as f32, -(c as f32)));
    let index = Array2::from_shape_fn((2, 3), |(r, c)| (r * 3 + c) as i64 - 2);
    (patterns, coords, probe, index)
}

#[test]
fn we_read_what_ndarray_npy_writes_stored_and_deflated() {
    let dir = tempfile::tempdir().unwrap();
    let (patterns, coords, probe, index) = arrays();
    for compressed in [false, true] {
        let path = dir.path().join(format!("theirs-{compressed}.npz"));
        let file = std::fs::File::create(&path).unwrap();
        let mut w = if compressed {
            ndarray_npy::NpzWriter::new_compressed(file)
        } else {
            ndarray_npy::NpzWriter::new(file)
        };
        w.add_array("diff3d", &patterns).unwrap();
        w.add_array("xcoords", &coords).unwrap();
        w.add_array("probeGuess", &probe).unwrap();
        w.add_array("scan_index", &index).unwrap();
        w.finish().unwrap();

        let mut ours = NpzReader::open(&path).unwrap();
        let read = ours.read("diff3d").unwrap().to_f32().unwrap();
        assert_eq!(read, patterns.clone().into_dyn());
        let read = ours.read("xcoords").unwrap().to_f64().unwrap();
        assert_eq!(read, coords.clone().into_dyn());
        let read = ours.read("probeGuess").unwrap().to_c32().unwrap();
        assert_eq!(read, probe.clone().into_dyn());
        let read = ours.read("scan_index").unwrap().to_i64().unwrap();
        assert_eq!(read, index.clone().into_dyn());
    }
}

#[test]
fn ndarray_npy_reads_what_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let (patterns, coords, probe, index) = arrays();
    let path = dir.path().join("ours.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    w.add("diff3d", &patterns).unwrap();
    w.add("xcoords", &coords).unwrap();
    w.add("probeGuess", &probe).unwrap();
    w.add("scan_index", &index).unwrap();
    w.finish().unwrap();

    let mut theirs = ndarray_npy::NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    // Its names are NumPy's keys (the entries are `<key>.npy`).
    let mut names = theirs.names().unwrap();
    names.sort();
    assert_eq!(names, ["diff3d", "probeGuess", "scan_index", "xcoords"]);
    let read: Array3<f32> = theirs.by_name("diff3d.npy").unwrap();
    assert_eq!(read, patterns);
    let read: Array1<f64> = theirs.by_name("xcoords.npy").unwrap();
    assert_eq!(read, coords);
    let read: Array2<Complex32> = theirs.by_name("probeGuess.npy").unwrap();
    assert_eq!(read, probe);
    let read: Array2<i64> = theirs.by_name("scan_index.npy").unwrap();
    assert_eq!(read, index);
}
