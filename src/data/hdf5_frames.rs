//! The two passes over an HDF5 scan's frames, a block at a time: the survey (the mean frame for
//! the beam centre, and the bad pixels: the file's mask and a detector's impossible values) and
//! the cut (an N × N window around the beam centre, bad pixels filled from their neighbours,
//! √counts) into memory or a spill file ([`FrameSink`]).

use std::ops::Range;

use ndarray::{Array2, Array3};

use super::DatasetError;
use super::frames::{FrameSink, Frames};
use crate::io::hdf5::RawScan;

/// Frames read per block: blocks of about this many bytes of `f32`.
pub const BLOCK_BYTES: usize = 32 << 20;

/// Frames per block for frames of `pixels` pixels.
pub fn block_frames(pixels: usize) -> usize {
    (BLOCK_BYTES / (pixels.max(1) * 4)).max(1)
}

/// What the first pass over the frames finds.
pub struct Survey {
    /// Bad pixels of the frame (the file's mask and impossible values).
    pub bad: Array2<bool>,
    /// The mean frame.
    pub mean: Array2<f32>,
}

/// The first pass: every frame read, a block at a time, for the mean frame and the pixels a
/// detector marks bad by an impossible value (negative, non-finite or the u32 maximum) in any
/// frame, added to the file's mask.
pub fn survey(raw: &RawScan, notes: &mut Vec<String>) -> Result<Survey, DatasetError> {
    let m = raw.frames.len();
    let (rows, cols) = raw.frames.frame_dim();
    let mut bad = file_mask(raw, notes);
    let marked_before = bad.iter().filter(|&&b| b).count();
    let mut sum = Array2::<f64>::zeros((rows, cols));
    let block = block_frames(rows * cols);
    for start in (0..m).step_by(block) {
        let frames = raw
            .frames
            .read_block(start..(start + block).min(m), 0..rows, 0..cols)?;
        for frame in frames.outer_iter() {
            ndarray::Zip::from(&mut bad)
                .and(&mut sum)
                .and(&frame)
                .for_each(|b, s, &v| {
                    if v.is_finite() && (0.0..4.294_967e9).contains(&v) {
                        *s += f64::from(v);
                    } else {
                        *b = true;
                    }
                });
        }
    }
    let marked = bad.iter().filter(|&&b| b).count() - marked_before;
    if marked > 0 {
        notes.push(format!(
            "{marked} pixels hold a detector's bad-pixel value (negative or the u32 maximum)"
        ));
    }
    let mean = sum.mapv(|v| (v / m.max(1) as f64) as f32);
    Ok(Survey { bad, mean })
}

/// The N × N window cut from each frame, with its bad pixels.
pub struct Cut {
    n: usize,
    /// Frame rows and columns inside the frame.
    rows: Range<usize>,
    cols: Range<usize>,
    /// Where they go in the window.
    at: (usize, usize),
    /// Bad pixels of the window, `(row, col)`.
    pub bad: Vec<(usize, usize)>,
    /// The window's bad-pixel mask.
    mask: Array2<bool>,
}

impl Cut {
    pub fn new(
        top: i64,
        left: i64,
        n: usize,
        (rows, cols): (usize, usize),
        bad: &Array2<bool>,
    ) -> Self {
        let r0 = top.clamp(0, rows as i64) as usize;
        let c0 = left.clamp(0, cols as i64) as usize;
        let r1 = (top + n as i64).clamp(r0 as i64, rows as i64) as usize;
        let c1 = (left + n as i64).clamp(c0 as i64, cols as i64) as usize;
        let at = ((r0 as i64 - top) as usize, (c0 as i64 - left) as usize);
        let mut mask = Array2::from_elem((n, n), false);
        mask.slice_mut(ndarray::s![at.0..at.0 + (r1 - r0), at.1..at.1 + (c1 - c0)])
            .assign(&bad.slice(ndarray::s![r0..r1, c0..c1]));
        let bad = mask
            .indexed_iter()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i)
            .collect();
        Self {
            n,
            rows: r0..r1,
            cols: c0..c1,
            at,
            bad,
            mask,
        }
    }

    /// The second pass: every frame cut, filled and (with `sqrt`) square-rooted, a block at a
    /// time, into `sink`; returns the patterns and the mean over patterns of amplitude².
    pub fn prepare(
        &self,
        raw: &RawScan,
        sqrt: bool,
        mut sink: FrameSink,
    ) -> Result<(Frames, Array2<f32>), DatasetError> {
        let (m, n) = (raw.frames.len(), self.n);
        let mut power = Array2::<f64>::zeros((n, n));
        let block = block_frames(n * n);
        for start in (0..m).step_by(block) {
            let mut patterns = self.read(raw, start..(start + block).min(m))?;
            if sqrt {
                patterns.mapv_inplace(|v| v.max(0.0).sqrt());
            }
            for p in patterns.outer_iter() {
                ndarray::Zip::from(&mut power)
                    .and(&p)
                    .for_each(|s, &a| *s += f64::from(a) * f64::from(a));
            }
            sink.push(&patterns)?;
        }
        let mean_power = power.mapv(|v| (v / m.max(1) as f64) as f32);
        Ok((sink.finish()?, mean_power))
    }

    /// The counts of `frames`, cut and with bad pixels filled, `[k, n, n]`.
    fn read(&self, raw: &RawScan, frames: Range<usize>) -> Result<Array3<f32>, DatasetError> {
        let k = frames.len();
        let mut out = Array3::<f32>::zeros((k, self.n, self.n));
        if !self.rows.is_empty() && !self.cols.is_empty() {
            let block = raw
                .frames
                .read_block(frames, self.rows.clone(), self.cols.clone())?;
            let (h, w) = (self.rows.len(), self.cols.len());
            out.slice_mut(ndarray::s![
                ..,
                self.at.0..self.at.0 + h,
                self.at.1..self.at.1 + w
            ])
            .assign(&block);
        }
        fill_bad_pixels(&mut out, &self.mask, &self.bad);
        Ok(out)
    }
}

/// The file's bad-pixel mask, when it fits the frames (else none, said in the notes).
fn file_mask(raw: &RawScan, notes: &mut Vec<String>) -> Array2<bool> {
    let (rows, cols) = raw.frames.frame_dim();
    match &raw.bad_pixels {
        Some(mask) if mask.dim() == (rows, cols) => {
            notes.push(format!(
                "the file's mask marks {} bad pixels",
                mask.iter().filter(|&&b| b).count()
            ));
            mask.clone()
        }
        Some(mask) => {
            notes.push(format!(
                "the file's mask is {:?}, the frames {rows} × {cols}: mask not used",
                mask.dim()
            ));
            Array2::from_elem((rows, cols), false)
        }
        None => Array2::from_elem((rows, cols), false),
    }
}

/// The beam centre `[column, row]`: the centroid of the mean frame's pixels above 10 % of its
/// peak (the direct beam and the bright centre of the pattern).
pub fn estimate_centre(mean: &Array2<f32>, bad: &Array2<bool>) -> [f64; 2] {
    let peak = mean
        .indexed_iter()
        .filter(|(i, _)| !bad[*i])
        .map(|(_, &v)| v)
        .fold(0.0f32, f32::max);
    let (mut sum, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for ((r, c), &v) in mean.indexed_iter() {
        if !bad[(r, c)] && v > 0.1 * peak {
            let w = f64::from(v);
            sum += w;
            sx += w * c as f64;
            sy += w * r as f64;
        }
    }
    if sum > 0.0 {
        [sx / sum, sy / sum]
    } else {
        let (rows, cols) = mean.dim();
        [(cols / 2) as f64, (rows / 2) as f64]
    }
}

/// Replaces every bad pixel (`list`, the `true`s of `bad`) by the mean of its good
/// 8-neighbours in each frame (0 when it has none).
fn fill_bad_pixels(frames: &mut Array3<f32>, bad: &Array2<bool>, list: &[(usize, usize)]) {
    let (rows, cols) = bad.dim();
    for mut frame in frames.outer_iter_mut() {
        for &(r, c) in list {
            let (mut sum, mut count) = (0.0f32, 0u32);
            for dr in -1i64..=1 {
                for dc in -1i64..=1 {
                    let (rr, cc) = (r as i64 + dr, c as i64 + dc);
                    if (dr, dc) != (0, 0)
                        && rr >= 0
                        && cc >= 0
                        && (rr as usize) < rows
                        && (cc as usize) < cols
                        && !bad[(rr as usize, cc as usize)]
                    {
                        sum += frame[(rr as usize, cc as usize)];
                        count += 1;
                    }
                }
            }
            frame[(r, c)] = if count > 0 { sum / count as f32 } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_pixel_takes_its_neighbours_mean() {
        let mut frames = Array3::<f32>::from_elem((2, 3, 3), 2.0);
        frames[(0, 1, 1)] = 1e9;
        frames[(1, 0, 0)] = 8.0;
        let mut bad = Array2::from_elem((3, 3), false);
        bad[(1, 1)] = true;
        fill_bad_pixels(&mut frames, &bad, &[(1, 1)]);
        assert!((frames[(0, 1, 1)] - 2.0).abs() < 1e-6);
        assert!((frames[(1, 1, 1)] - (8.0 + 7.0 * 2.0) / 8.0).abs() < 1e-6);
    }
}
