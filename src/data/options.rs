//! What a loader is told (conventions, companion files, HDF5 geometry) and what it gives back.

use std::path::PathBuf;

use ndarray::Array2;
use num_complex::Complex32;

use super::Dataset;
use crate::io::schema::Layout;

/// How to treat conventions a file may get wrong. `None` = detect, and refuse with a message
/// naming the flag when the data look wrong.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// `Some(true)`: take √ of the patterns (they are counts); `Some(false)`: use them as
    /// amplitudes even if they look like counts.
    pub sqrt: Option<bool>,
    /// `Some(true)`: move DC from the corner to the centre; `Some(false)`: leave as is.
    pub fftshift: Option<bool>,
    /// For a ptychodus diffraction file: the product file with probe and positions.
    pub product: Option<PathBuf>,
    /// For an HDF5 file: the frames' dataset, positions, probe, pattern size and geometry.
    pub hdf5: Hdf5Options,
    /// The memory ceiling for the prepared patterns of an HDF5 scan, bytes: a scan over it is
    /// spilled to a file and read as needed (default: half the machine's memory, see
    /// [`super::frames::default_memory_limit_bytes`]).
    pub memory_limit_bytes: Option<u64>,
    /// Where spill files go (default: [`super::frames::default_spill_dir`]).
    pub spill_dir: Option<PathBuf>,
}

/// A loaded dataset and what was done to get it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated scan.
    pub dataset: Dataset,
    /// The layout the file had.
    pub layout: Layout,
    /// Conversions made and things worth knowing, one sentence each.
    pub notes: Vec<String>,
    /// Every probe mode the file holds (mode 0 is the dataset's probe), for viewing.
    pub probe_modes: Vec<Array2<Complex32>>,
}

/// What the user tells the HDF5 reader (flags, or the window's fields); each overrides what the
/// file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hdf5Options {
    /// The dataset holding the frames (for a file whose layout is not recognised).
    pub data_path: Option<String>,
    /// A sidecar file of positions (`x_um,y_um`, …; see `data::sidecar`).
    pub positions: Option<PathBuf>,
    /// A dataset in the file holding the positions, (frames, 2 or 3) in metres (x, y), for a
    /// file whose layout does not say where they are.
    pub positions_path: Option<String>,
    /// A probe file: NPY or NPZ (`probe` or `probeGuess`), complex `(N, N)`.
    pub probe: Option<PathBuf>,
    /// The pattern size N cut from each frame (64, 128 or 256; default: the largest that fits).
    pub n: Option<usize>,
    /// Photon energy, eV.
    pub energy_ev: Option<f64>,
    /// Sample–detector distance, m.
    pub distance_m: Option<f64>,
    /// Detector pixel size, m.
    pub detector_pixel_m: Option<f64>,
}
