//! Files: NPZ/NPY arrays, the layouts we recognise, ptychodus product files, PNG images.
//!
//! Knows nothing of `data`, Burn or egui: it reads and writes arrays and plain structs.

pub mod atomic;
pub mod hdf5;
pub mod npy;
pub mod npz;
pub mod npz_error;
pub mod png;
pub mod product;
pub mod report;
pub mod schema;
pub mod tiff;

pub use npz::{NpzError, NpzReader, NpzWriter};
