//! Writing a dataset as a PtychoPINN raw NPZ (physics.md §1).

use std::path::Path;

use ndarray::{Array1, Array3};
use num_complex::Complex32;

use super::Dataset;
use crate::io::{NpzError, NpzWriter};

/// Writes `dataset` with the keys PtychoPINN reads: `diff3d` (M, N, N) float32 amplitudes,
/// `xcoords`/`ycoords` (and their `_start` twins) float64, `probeGuess` complex64,
/// `objectGuess` when present, `scan_index` int64, optionally `Y` (true patches) and a
/// `metadata` string. Written to a temporary file and renamed.
pub fn save_pinn(
    dataset: &Dataset,
    path: &Path,
    truth_patches: Option<&Array3<Complex32>>,
) -> Result<(), NpzError> {
    // A spilled scan is read whole here: saving is for scans made in memory (simulations).
    let diffraction = dataset.diffraction().map_err(|e| NpzError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let mut w = NpzWriter::create(path)?;
    w.add("diff3d", &diffraction)?;
    let xs: Array1<f64> = dataset.positions_px().iter().map(|p| p[0]).collect();
    let ys: Array1<f64> = dataset.positions_px().iter().map(|p| p[1]).collect();
    w.add("xcoords", &xs)?;
    w.add("ycoords", &ys)?;
    w.add("xcoords_start", &xs)?;
    w.add("ycoords_start", &ys)?;
    w.add("probeGuess", dataset.probe())?;
    if let Some(object) = dataset.object() {
        w.add("objectGuess", object)?;
    }
    w.add("scan_index", &Array1::from(dataset.scan_index().to_vec()))?;
    if let Some(y) = truth_patches {
        w.add("Y", y)?;
    }
    if let Some(metadata) = &dataset.metadata {
        w.add_str("metadata", metadata)?;
    }
    w.finish()
}
