//! Datasets: loading and validating scans, grouping neighbours, normalisation, synthetic data.
//!
//! Conventions, stated once: positions are `[x, y]` in object pixels with x = column and
//! y = row; the N × N patch of a position (x, y) covers object rows y − N/2 … y + N/2 − 1 and
//! columns x − N/2 … x + N/2 − 1 (bilinear for fractional positions). Diffraction arrays hold
//! amplitudes (√counts) with the zero frequency at the centre (`fftshift`ed).
//!
//! Uses `io`; knows nothing of Burn or egui.

pub mod dataset;
pub mod detect;
pub mod frames;
pub mod grouping;
pub mod hdf5_frames;
pub mod hdf5_scan;
pub mod inspect;
pub mod load;
pub mod normalize;
pub mod object_families;
pub mod options;
pub mod product_file;
pub mod reconstruction;
pub mod regime;
pub mod save;
pub mod sidecar;
pub mod simulate;
pub mod summary;

pub use dataset::{Dataset, DatasetParts, PhysicalInfo};
pub use grouping::{GroupingConfig, Groups};
pub use load::{LoadOptions, Loaded, load};

use crate::io::NpzError;

/// What is wrong with a scan: each variant names the key and what was found.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The NPZ container or one of its arrays could not be read.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// No known layout: none of the keys we look for.
    #[error(
        "unrecognised NPZ layout: expected 'diff3d' or 'diffraction' (PtychoPINN) or 'patterns' (ptychodus); the file has: {}",
        keys.join(", ")
    )]
    UnknownLayout {
        /// The keys the file has.
        keys: Vec<String>,
    },
    /// An array has the wrong rank or size.
    #[error("key '{key}': shape {found:?}, expected {expected}")]
    BadShape {
        /// The key.
        key: String,
        /// The shape found.
        found: Vec<usize>,
        /// The shape expected, in words.
        expected: String,
    },
    /// An array has the wrong element type.
    #[error("key '{key}': dtype {found}, expected {expected}")]
    BadDtype {
        /// The key.
        key: String,
        /// The dtype found.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// Two arrays that must agree in length do not.
    #[error("key '{key}': {found} entries, expected {expected} (one per diffraction pattern)")]
    CountMismatch {
        /// The key.
        key: String,
        /// The length found.
        found: usize,
        /// The length expected.
        expected: usize,
    },
    /// NaN or infinity.
    #[error("key '{key}': non-finite value (NaN or infinity) at flat index {index}")]
    NonFinite {
        /// The key.
        key: String,
        /// Flat index of the first bad value.
        index: usize,
    },
    /// A negative amplitude.
    #[error("key '{key}': negative value at flat index {index}; amplitudes are ≥ 0")]
    Negative {
        /// The key.
        key: String,
        /// Flat index of the first bad value.
        index: usize,
    },
    /// No patterns at all.
    #[error("the file holds no diffraction patterns")]
    Empty,
    /// The data look like intensities (counts) where amplitudes are expected.
    #[error(
        "key '{key}' looks like intensity (counts), not amplitude: {evidence}. Pass --sqrt to take the square root, or --no-sqrt to use the values as they are"
    )]
    LooksLikeIntensity {
        /// The key.
        key: String,
        /// Why we think so.
        evidence: String,
    },
    /// The zero frequency sits at the array corner instead of the centre.
    #[error(
        "key '{key}' has its zero frequency (DC) at the array corner, not the centre: {evidence}. Pass --fftshift to move it, or --no-fftshift to use the patterns as they are"
    )]
    DcAtCorner {
        /// The key.
        key: String,
        /// The measured energies.
        evidence: String,
    },
    /// A ptychodus diffraction file needs a product file for positions and probe.
    #[error(
        "a ptychodus diffraction file holds no positions or probe: pass the matching product file with --product FILE"
    )]
    NeedsProduct,
    /// A product file holds a reconstruction, not patterns.
    #[error(
        "this is a ptychodus product file (a reconstruction: probe, object, positions), not a scan: open the diffraction file and pass this one with --product"
    )]
    ProductIsNotAScan,
    /// A train/test split that cannot be made.
    #[error(
        "cannot split {patterns} patterns with test fraction {fraction} (need ≥ 2 patterns and 0 ≤ fraction < 1)"
    )]
    BadSplit {
        /// The fraction asked for.
        fraction: f64,
        /// The number of patterns.
        patterns: usize,
    },
    /// Grouping could not be done as configured.
    #[error("grouping: {0}")]
    Grouping(String),
    /// An HDF5 file, or an object in it, could not be read as a scan.
    #[error(transparent)]
    Hdf5(#[from] crate::io::hdf5::Hdf5Error),
    /// An HDF5 scan whose file holds no positions, and none were given.
    #[error(
        "no scan positions: the file holds none; give a positions file with --positions FILE (a header such as x_um,y_um, then one line per frame)"
    )]
    NoPositions,
    /// What the user gave with a scan (positions file, probe file, geometry) does not fit.
    #[error("{0}")]
    ScanInput(String),
}
