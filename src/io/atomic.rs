//! Write-then-rename: a file appears at its final path complete or not at all.

use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path next to `target` (same directory, so the rename stays on one file system).
pub fn temporary_sibling(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.tmp-{}-{unique}", std::process::id()))
}

/// A file written under a temporary name and renamed over its target by [`AtomicFile::commit`].
/// Dropped without a commit, the temporary file is removed and the target is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file for `target`.
    pub fn create(target: &Path) -> io::Result<Self> {
        let temp = temporary_sibling(target);
        let file = File::create(&temp)?;
        Ok(Self {
            file: Some(file),
            temp,
            target: target.to_owned(),
        })
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))
    }

    /// Flushes to disk and renames the temporary file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(file) = self.file.as_ref() {
            file.sync_all()?;
        }
        // Dropping the handle marks the file committed; a failed rename still removes it.
        self.file = None;
        fs::rename(&self.temp, &self.target).inspect_err(|_| {
            let _ = fs::remove_file(&self.temp);
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file()?.seek(pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Best effort: an unfinished temporary file must not linger.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(target)?;
    file.write_all(bytes)?;
    file.commit()
}
