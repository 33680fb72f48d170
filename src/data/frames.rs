//! Where a dataset's patterns live: in memory, or, for a scan larger than the memory ceiling,
//! in an unnamed spill file on disk that training, inference and the window read a few
//! patterns at a time.
//!
//! A spill file holds the prepared amplitudes (`[m, n, n]` little-endian `f32`, one pattern
//! after another). It has no name (the operating system deletes it when the last handle
//! closes, also after a crash) and lives in the spill folder (see [`default_spill_dir`]), not
//! in `/tmp`, which is memory on many systems. Reads are positioned reads of one pattern;
//! the operating system's page cache, which a process's resident memory does not count, keeps
//! what is read often.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayRef3, ArrayView2, Axis, CowArray, Ix2, Ix3};

use super::DatasetError;

/// The memory ceiling for a scan's patterns when none is given: half the machine's memory
/// (from `/proc/meminfo` on Linux), else 4 GiB.
pub fn default_memory_limit_bytes() -> u64 {
    const FALLBACK: u64 = 4 << 30;
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024 / 2)
        })
        .unwrap_or(FALLBACK)
}

/// Where spill files go when none is given: `$PTYCHO_SPILL_DIR`, else the user's cache folder
/// (`$XDG_CACHE_HOME/ptychostudio`, `~/.cache/ptychostudio`, `%LOCALAPPDATA%\ptychostudio`),
/// else the system's temporary folder.
pub fn default_spill_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("PTYCHO_SPILL_DIR") {
        return PathBuf::from(dir);
    }
    let cache = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .or_else(|| var("LOCALAPPDATA").map(PathBuf::from));
    cache.map_or_else(std::env::temp_dir, |c| c.join("ptychostudio"))
}

/// The patterns of a dataset, `[m, n, n]` amplitudes, with each pattern's energy Σ a².
#[derive(Debug, Clone)]
pub struct Frames {
    n: usize,
    store: Store,
    /// Σ a² of each pattern, in the dataset's order.
    energies: Arc<[f64]>,
}

#[derive(Debug, Clone)]
enum Store {
    Memory(Arc<Array3<f32>>),
    Spill {
        file: Arc<SpillFile>,
        /// The file's pattern for each of ours (a subset or reordering shares the file).
        rows: Arc<[usize]>,
    },
}

/// An unnamed file of `n × n` `f32` patterns.
#[derive(Debug)]
struct SpillFile {
    file: File,
    n: usize,
    folder: PathBuf,
}

fn energy(pattern: &ArrayView2<'_, f32>) -> f64 {
    pattern.iter().map(|&a| f64::from(a) * f64::from(a)).sum()
}

fn spill_error(folder: &Path, what: &str, e: &std::io::Error) -> DatasetError {
    DatasetError::ScanInput(format!(
        "spill file in {}: {what}: {e} (set the folder with --spill-dir or PTYCHO_SPILL_DIR)",
        folder.display()
    ))
}

impl Frames {
    /// Patterns held in memory.
    pub fn in_memory(patterns: Array3<f32>) -> Self {
        let energies: Arc<[f64]> = patterns.axis_iter(Axis(0)).map(|p| energy(&p)).collect();
        Self {
            n: patterns.dim().1,
            store: Store::Memory(Arc::new(patterns)),
            energies,
        }
    }

    /// Number of patterns.
    pub fn len(&self) -> usize {
        self.energies.len()
    }

    /// True when there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.energies.is_empty()
    }

    /// Pattern size N.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The bytes the patterns take (in memory, or in the spill file).
    pub fn bytes(&self) -> u64 {
        (self.len() * self.n * self.n * 4) as u64
    }

    /// The spill folder, when the patterns are on disk rather than in memory.
    pub fn spilled_to(&self) -> Option<&Path> {
        match &self.store {
            Store::Memory(_) => None,
            Store::Spill { file, .. } => Some(&file.folder),
        }
    }

    /// Σ a² of each pattern.
    pub fn energies(&self) -> &[f64] {
        &self.energies
    }

    /// Pattern `i` (a view in memory, read from disk when spilled). `i` must be `< len()`.
    pub fn pattern(&self, i: usize) -> Result<CowArray<'_, f32, Ix2>, DatasetError> {
        match &self.store {
            Store::Memory(a) => Ok(CowArray::from(a.index_axis(Axis(0), i))),
            Store::Spill { file, rows } => Ok(CowArray::from(file.read(rows[i])?)),
        }
    }

    /// All patterns as one array: a view in memory, every pattern read when spilled (the
    /// caller has decided it fits in memory).
    pub fn all(&self) -> Result<CowArray<'_, f32, Ix3>, DatasetError> {
        match &self.store {
            Store::Memory(a) => Ok(CowArray::from(a.view())),
            Store::Spill { .. } => Ok(CowArray::from(
                self.select_array(&(0..self.len()).collect::<Vec<_>>())?,
            )),
        }
    }

    /// The patterns at `indices`, in that order, `[indices.len(), n, n]`.
    pub fn select_array(&self, indices: &[usize]) -> Result<Array3<f32>, DatasetError> {
        match &self.store {
            Store::Memory(a) => Ok(a.select(Axis(0), indices)),
            Store::Spill { file, rows } => {
                let mut out = Array3::<f32>::zeros((indices.len(), self.n, self.n));
                for (mut slot, &i) in out.outer_iter_mut().zip(indices) {
                    slot.assign(&file.read(rows[i])?);
                }
                Ok(out)
            }
        }
    }

    /// The patterns at `indices`, in that order, stored as these are (a copy in memory, the
    /// same file when spilled). Every index must be `< len()`.
    pub fn select(&self, indices: &[usize]) -> Self {
        let energies: Arc<[f64]> = indices.iter().map(|&i| self.energies[i]).collect();
        let store = match &self.store {
            Store::Memory(a) => Store::Memory(Arc::new(a.select(Axis(0), indices))),
            Store::Spill { file, rows } => Store::Spill {
                file: Arc::clone(file),
                rows: indices.iter().map(|&i| rows[i]).collect(),
            },
        };
        Self {
            n: self.n,
            store,
            energies,
        }
    }

    /// Whether the two hold the same patterns, compared pattern by pattern.
    pub fn same_values(&self, other: &Self) -> Result<bool, DatasetError> {
        if self.len() != other.len() || self.n != other.n {
            return Ok(false);
        }
        for i in 0..self.len() {
            if self.pattern(i)? != other.pattern(i)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl SpillFile {
    fn read(&self, row: usize) -> Result<Array2<f32>, DatasetError> {
        let bytes_per = self.n * self.n * 4;
        let mut buf = vec![0u8; bytes_per];
        read_exact_at(&self.file, &mut buf, (row * bytes_per) as u64)
            .map_err(|e| spill_error(&self.folder, &format!("reading pattern {row}"), &e))?;
        let values: Vec<f32> = buf
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Array2::from_shape_vec((self.n, self.n), values).map_err(|e| {
            DatasetError::ScanInput(format!("spill file: pattern {row} has the wrong size: {e}"))
        })
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            k => {
                buf = &mut buf[k..];
                offset += k as u64;
            }
        }
    }
    Ok(())
}

/// Writes prepared patterns, block by block, into a new spill file; [`SpillWriter::finish`]
/// makes them [`Frames`]. Each pattern is checked (finite, ≥ 0) as it is written.
#[derive(Debug)]
pub struct SpillWriter {
    out: BufWriter<File>,
    n: usize,
    folder: PathBuf,
    energies: Vec<f64>,
}

impl SpillWriter {
    /// A new unnamed file in `folder` (created if missing) for `n × n` patterns.
    pub fn create(folder: &Path, n: usize) -> Result<Self, DatasetError> {
        std::fs::create_dir_all(folder)
            .map_err(|e| spill_error(folder, "creating the folder", &e))?;
        let file = tempfile::tempfile_in(folder)
            .map_err(|e| spill_error(folder, "creating the file", &e))?;
        Ok(Self {
            out: BufWriter::with_capacity(1 << 20, file),
            n,
            folder: folder.to_path_buf(),
            energies: Vec::new(),
        })
    }

    /// Appends `[k, n, n]` amplitudes.
    pub fn push(&mut self, patterns: &ArrayRef3<f32>) -> Result<(), DatasetError> {
        let (_, rows, cols) = patterns.dim();
        if (rows, cols) != (self.n, self.n) {
            return Err(DatasetError::BadShape {
                key: "diffraction".into(),
                found: patterns.shape().to_vec(),
                expected: format!("(k, {0}, {0})", self.n),
            });
        }
        for p in patterns.outer_iter() {
            let first = self.energies.len() * self.n * self.n;
            let mut bytes = Vec::with_capacity(self.n * self.n * 4);
            for (k, &v) in p.iter().enumerate() {
                if !v.is_finite() {
                    return Err(DatasetError::NonFinite {
                        key: "diffraction".into(),
                        index: first + k,
                    });
                }
                if v < 0.0 {
                    return Err(DatasetError::Negative {
                        key: "diffraction".into(),
                        index: first + k,
                    });
                }
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            self.out
                .write_all(&bytes)
                .map_err(|e| spill_error(&self.folder, "writing", &e))?;
            self.energies.push(energy(&p));
        }
        Ok(())
    }

    /// The patterns written, as [`Frames`] read from the file.
    pub fn finish(self) -> Result<Frames, DatasetError> {
        let folder = self.folder.clone();
        let file = self
            .out
            .into_inner()
            .map_err(|e| spill_error(&folder, "writing", e.error()))?;
        let m = self.energies.len();
        Ok(Frames {
            n: self.n,
            store: Store::Spill {
                file: Arc::new(SpillFile {
                    file,
                    n: self.n,
                    folder,
                }),
                rows: (0..m).collect(),
            },
            energies: self.energies.into(),
        })
    }
}

/// Where prepared patterns go as a loader makes them: into memory when the scan fits under
/// the ceiling, else into a spill file.
#[derive(Debug)]
pub enum FrameSink {
    /// Into one array of the scan's size.
    Memory {
        /// `[m, n, n]`, filled block by block.
        patterns: Array3<f32>,
        /// Patterns written so far.
        filled: usize,
    },
    /// Into a spill file.
    Spill(SpillWriter),
}

impl FrameSink {
    /// A sink for `m` patterns of `n × n`: in memory when `m·n²·4` bytes fit under
    /// `limit_bytes`, else a spill file in `spill_dir`.
    pub fn new(
        m: usize,
        n: usize,
        limit_bytes: u64,
        spill_dir: &Path,
    ) -> Result<Self, DatasetError> {
        let bytes = (m * n * n * 4) as u64;
        if bytes <= limit_bytes {
            Ok(Self::Memory {
                patterns: Array3::zeros((m, n, n)),
                filled: 0,
            })
        } else {
            Ok(Self::Spill(SpillWriter::create(spill_dir, n)?))
        }
    }

    /// Appends `[k, n, n]` amplitudes.
    pub fn push(&mut self, block: &ArrayRef3<f32>) -> Result<(), DatasetError> {
        match self {
            Self::Memory { patterns, filled } => {
                let k = block.dim().0;
                if *filled + k > patterns.dim().0
                    || block.dim() != (k, patterns.dim().1, patterns.dim().2)
                {
                    return Err(DatasetError::BadShape {
                        key: "diffraction".into(),
                        found: block.shape().to_vec(),
                        expected: format!(
                            "at most {} more patterns of {:?}",
                            patterns.dim().0 - *filled,
                            &patterns.shape()[1..]
                        ),
                    });
                }
                patterns
                    .slice_mut(ndarray::s![*filled..*filled + k, .., ..])
                    .assign(block);
                *filled += k;
                Ok(())
            }
            Self::Spill(w) => w.push(block),
        }
    }

    /// The frames written.
    pub fn finish(self) -> Result<Frames, DatasetError> {
        match self {
            Self::Memory { patterns, .. } => Ok(Frames::in_memory(patterns)),
            Self::Spill(w) => w.finish(),
        }
    }
}

/// Renders a byte count as "1.2 GB" or "262 MB".
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else {
        format!("{:.0} MB", b / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(m: usize) -> Array3<f32> {
        Array3::from_shape_fn((m, 64, 64), |(i, r, c)| (i * 7 + r * 3 + c) as f32 * 0.25)
    }

    #[test]
    fn a_spilled_scan_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = patterns(5);
        let mut sink = FrameSink::new(5, 64, 1000, dir.path()).unwrap();
        assert!(matches!(sink, FrameSink::Spill(_)), "over the ceiling");
        sink.push(&p.slice(ndarray::s![0..2, .., ..])).unwrap();
        sink.push(&p.slice(ndarray::s![2..5, .., ..])).unwrap();
        let spilled = sink.finish().unwrap();
        assert!(spilled.spilled_to().is_some());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "the file has no name"
        );
        let memory = Frames::in_memory(p.clone());
        assert!(spilled.same_values(&memory).unwrap());
        assert_eq!(spilled.energies(), memory.energies());
        assert_eq!(spilled.all().unwrap(), p);
        let sub = spilled.select(&[4, 1]);
        assert_eq!(sub.pattern(0).unwrap(), p.index_axis(Axis(0), 4));
        assert_eq!(sub.select_array(&[1]).unwrap(), p.select(Axis(0), &[1]));
    }

    #[test]
    fn a_scan_under_the_ceiling_stays_in_memory_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let sink = FrameSink::new(5, 64, 1 << 30, dir.path()).unwrap();
        assert!(matches!(sink, FrameSink::Memory { .. }));
        let mut w = SpillWriter::create(dir.path(), 64).unwrap();
        let mut p = patterns(2);
        p[(1, 0, 3)] = -1.0;
        let err = w.push(&p).unwrap_err().to_string();
        assert!(
            err.contains("diffraction") && err.contains(&(64 * 64 + 3).to_string()),
            "{err}"
        );
    }
}
