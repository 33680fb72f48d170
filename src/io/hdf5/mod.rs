//! HDF5 in: the files beamlines write (CXI, Eiger/NeXus masters with linked data files, a
//! single 3-D stack), read into a [`RawScan`] of detector frames and what the file says about
//! them. Turning that into a [`crate::data::Dataset`] (cropping, √counts, positions in object
//! pixels, the probe) is `data::hdf5_scan`'s job.

pub mod ffi;
pub mod filters;
pub mod product;
pub mod scan;
pub mod tree;

use std::path::Path;

pub use scan::{Hdf5Layout, RawScan, ScanGeometry, read_scan};
pub use tree::{Node, list_tree};

/// An HDF5 problem, naming the file and the object inside it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}: {object}: {message}")]
pub struct Hdf5Error {
    /// The file.
    pub file: String,
    /// The object's path inside it ("/" for the file itself).
    pub object: String,
    /// What is wrong, in words (shape found and expected where it is a shape).
    pub message: String,
}

impl Hdf5Error {
    /// An error about `object` in `file`.
    pub fn new(file: &Path, object: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.display().to_string(),
            object: object.to_owned(),
            message: message.into(),
        }
    }
}

/// Whether `path` names an HDF5 file: by its signature, else by its extension.
pub fn is_hdf5(path: &Path) -> bool {
    const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let mut head = [0u8; 8];
    let by_signature = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head == SIGNATURE);
    by_signature
        || path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "h5" | "hdf5" | "hdf" | "cxi" | "nxs"
            )
        })
}

/// Opens `path` for reading, with our decoders registered and HDF5's own error printing off.
pub fn open(path: &Path) -> Result<hdf5_metno::File, Hdf5Error> {
    ffi::register().map_err(|e| Hdf5Error::new(path, "/", e))?;
    hdf5_metno::silence_errors(true);
    if !path.exists() {
        return Err(Hdf5Error::new(path, "/", "no such file"));
    }
    // HDF5 2 gives every open chunked dataset an 8 MiB chunk cache, and every linked data file
    // of a master is a dataset held open while its frames are read: 100 linked files would
    // keep 800 MiB of decoded chunks. Frames are read in order, a block at a time, so HDF5
    // 1's 1 MiB is plenty (linked files inherit the master's setting).
    hdf5_metno::File::with_options()
        .with_fapl(|p| p.chunk_cache(521, 1 << 20, 0.75))
        .open(path)
        .map_err(|e| {
            Hdf5Error::new(
                path,
                "/",
                format!("not a readable HDF5 file (truncated or another format?): {e}"),
            )
        })
}
