//! NPZ archives (a zip of `.npy` files): a validating reader and an atomic, deterministic
//! writer.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use ndarray::{ArrayRef, Dimension};
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::atomic::AtomicFile;
use super::npy::{self, NpyArray, NpyElement};

pub use super::npz_error::{MAX_ARRAY_BYTES, NpzError};

/// Reads arrays from an NPZ file by key (`diff3d`, not `diff3d.npy`).
pub struct NpzReader<R: Read + Seek = BufReader<File>> {
    archive: ZipArchive<R>,
    keys: Vec<String>,
}

fn zip_error(err: ZipError, entry: Option<&str>) -> NpzError {
    match err {
        ZipError::InvalidArchive(_) | ZipError::UnsupportedArchive(_) if entry.is_none() => {
            NpzError::NotNpz {
                reason: err.to_string(),
            }
        }
        other => NpzError::Corrupt {
            entry: entry.map(str::to_owned),
            reason: other.to_string(),
        },
    }
}

impl NpzReader<BufReader<File>> {
    /// Opens an NPZ file and reads its directory (no array data yet).
    pub fn open(path: &Path) -> Result<Self, NpzError> {
        let file = File::open(path).map_err(|source| NpzError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::new(BufReader::new(file))
    }
}

impl<R: Read + Seek> NpzReader<R> {
    /// Reads the directory of an NPZ held by any seekable reader.
    pub fn new(reader: R) -> Result<Self, NpzError> {
        let archive = ZipArchive::new(reader).map_err(|e| zip_error(e, None))?;
        let keys = archive
            .file_names()
            .filter_map(|name| name.strip_suffix(".npy"))
            .map(str::to_owned)
            .collect::<Vec<_>>();
        Ok(Self { archive, keys })
    }

    /// The keys present, in archive order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// True when `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    /// Reads and decodes one array.
    pub fn read(&mut self, key: &str) -> Result<NpyArray, NpzError> {
        if !self.contains(key) {
            return Err(NpzError::MissingKey {
                key: key.to_owned(),
                available: self.keys.clone(),
            });
        }
        let name = format!("{key}.npy");
        let mut entry = self
            .archive
            .by_name(&name)
            .map_err(|e| zip_error(e, Some(key)))?;
        let declared = entry.size();
        if declared > MAX_ARRAY_BYTES {
            return Err(NpzError::TooLarge {
                key: key.to_owned(),
                bytes: declared,
            });
        }
        // Never trust the declared size for more than a capacity hint; cap what is read.
        let mut bytes = Vec::with_capacity(usize::try_from(declared.min(1 << 30)).unwrap_or(0));
        (&mut entry)
            .take(MAX_ARRAY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| NpzError::Corrupt {
                entry: Some(key.to_owned()),
                reason: e.to_string(),
            })?;
        npy::parse_npy(&bytes, key)
    }

    /// Reads `key` if present.
    pub fn read_optional(&mut self, key: &str) -> Result<Option<NpyArray>, NpzError> {
        if self.contains(key) {
            self.read(key).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Writes an NPZ file the way `numpy.savez` does (stored entries), with fixed timestamps so the
/// same arrays always give the same bytes. Data goes to a temporary file in the target directory,
/// renamed over the target by [`NpzWriter::finish`]; dropping the writer unfinished leaves the
/// target untouched.
pub struct NpzWriter {
    zip: ZipWriter<BufWriter<AtomicFile>>,
    path: PathBuf,
}

impl NpzWriter {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<Self, NpzError> {
        let io_err = |source| NpzError::Io {
            path: path.to_owned(),
            source,
        };
        let file = AtomicFile::create(path).map_err(io_err)?;
        Ok(Self {
            zip: ZipWriter::new(BufWriter::new(file)),
            path: path.to_owned(),
        })
    }

    fn put_bytes(&mut self, key: &str, bytes: &[u8]) -> Result<(), NpzError> {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(DateTime::default())
            .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
        self.zip
            .start_file(format!("{key}.npy"), options)
            .map_err(|e| self.write_error(&e.to_string()))?;
        self.zip
            .write_all(bytes)
            .map_err(|e| self.write_error(&e.to_string()))
    }

    fn write_error(&self, reason: &str) -> NpzError {
        NpzError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(reason.to_owned()),
        }
    }

    /// Adds an array (any dimension, any layout).
    pub fn add<T: NpyElement, D: Dimension>(
        &mut self,
        key: &str,
        array: &ArrayRef<T, D>,
    ) -> Result<(), NpzError> {
        self.put_bytes(key, &npy::encode(array))
    }

    /// Adds a 0-d scalar array.
    pub fn add_scalar<T: NpyElement>(&mut self, key: &str, value: T) -> Result<(), NpzError> {
        self.add(key, &ndarray::arr0(value))
    }

    /// Adds a 0-d unicode string.
    pub fn add_str(&mut self, key: &str, text: &str) -> Result<(), NpzError> {
        self.put_bytes(key, &npy::encode_str(text))
    }

    /// Finishes the archive and moves it into place.
    pub fn finish(self) -> Result<(), NpzError> {
        let path = self.path.clone();
        let io_err = |source| NpzError::Io {
            path: path.clone(),
            source,
        };
        let buffered = self
            .zip
            .finish()
            .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        let file = buffered
            .into_inner()
            .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        file.commit().map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn writes_then_reads_back_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &Path| {
            let mut w = NpzWriter::create(path).unwrap();
            w.add("x", &array![[1.0f64, 2.0], [3.0, 4.0]]).unwrap();
            w.add_scalar("e", 8.8f64).unwrap();
            w.add_str("name", "test").unwrap();
            w.finish().unwrap();
        };
        let (a, b) = (dir.path().join("a.npz"), dir.path().join("b.npz"));
        write(&a);
        write(&b);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

        let mut r = NpzReader::open(&a).unwrap();
        assert_eq!(r.keys(), ["x", "e", "name"]);
        assert_eq!(r.read("e").unwrap().as_scalar_f64(), Some(8.8));
        assert_eq!(r.read("x").unwrap().shape(), &[2, 2]);
        assert!(matches!(r.read("nope"), Err(NpzError::MissingKey { .. })));
    }

    #[test]
    fn an_unfinished_writer_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.npz");
        {
            let mut w = NpzWriter::create(&path).unwrap();
            w.add("x", &array![1.0f32]).unwrap();
        }
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temp file removed"
        );
    }
}
