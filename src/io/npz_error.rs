//! What can go wrong reading or writing an NPZ file or one of its `.npy` entries: one error
//! type for both, so a refusal names the file's key whichever layer found the fault.

use std::path::PathBuf;

/// The largest single array we agree to read (bytes, uncompressed): 16 GiB.
pub const MAX_ARRAY_BYTES: u64 = 16 << 30;

/// What can go wrong reading or writing an NPZ file. Each variant names the file's key and what
/// was found.
#[derive(Debug, thiserror::Error)]
pub enum NpzError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a zip archive at all (e.g. a text file or a bare `.npy`).
    #[error("not an NPZ file (no zip archive found): {reason}")]
    NotNpz {
        /// What the zip reader said.
        reason: String,
    },
    /// The zip structure or an entry's data is damaged (truncated download, bad checksum).
    #[error("damaged NPZ file{}: {reason}", entry.as_ref().map(|e| format!(" (entry '{e}')")).unwrap_or_default())]
    Corrupt {
        /// The entry being read, when known.
        entry: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// A key the caller needs is absent.
    #[error("missing key '{key}' (the file has: {})", available.join(", "))]
    MissingKey {
        /// The key asked for.
        key: String,
        /// The keys present.
        available: Vec<String>,
    },
    /// An entry's `.npy` header cannot be understood.
    #[error("key '{key}': bad .npy header: {reason}")]
    BadHeader {
        /// The key.
        key: String,
        /// What is wrong with the header.
        reason: String,
    },
    /// A dtype we do not read (structured, object/pickled, float16, …).
    #[error("key '{key}': unsupported dtype '{dtype}'")]
    UnsupportedDtype {
        /// The key.
        key: String,
        /// The dtype descriptor found.
        dtype: String,
    },
    /// The header claims more data than the entry holds (or than we agree to read).
    #[error(
        "key '{key}': the header claims shape {shape:?} = {} but the entry holds {present_bytes} bytes",
        claimed_bytes.map_or_else(|| "more bytes than this machine can address".to_owned(), |b| format!("{b} bytes"))
    )]
    SizeMismatch {
        /// The key.
        key: String,
        /// The shape the header claims.
        shape: Vec<usize>,
        /// The bytes that shape needs (`None` when it overflows).
        claimed_bytes: Option<usize>,
        /// The bytes present.
        present_bytes: usize,
    },
    /// An entry is larger than [`MAX_ARRAY_BYTES`].
    #[error(
        "key '{key}': {bytes} bytes is more than the {MAX_ARRAY_BYTES}-byte limit for one array"
    )]
    TooLarge {
        /// The key.
        key: String,
        /// The entry's declared size.
        bytes: u64,
    },
}
