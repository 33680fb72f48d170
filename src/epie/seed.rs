//! Starting ePIE from another reconstruction (the network's): its object written onto the
//! canvas and its probe, scaled so that the model's diffraction carries the measured photon
//! count. The network's probe lives in its own normalisation (physics.md §3.3) and its object
//! amplitude is relative, so the product P·O is rescaled as a whole through the probe.

use ndarray::ArrayRef2;
use num_complex::Complex32;

use super::Epie;

/// Why a seed was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SeedError {
    /// The probe's shape differs from the scan's patterns.
    #[error("the seed probe is {found:?}, the scan's patterns are {expected:?}")]
    ProbeShape {
        /// Shape given.
        found: [usize; 2],
        /// Shape expected.
        expected: [usize; 2],
    },
    /// The seed covers none of the scanned area, or its model predicts no photons.
    #[error(
        "the seed object and probe predict no photons over the scan (object empty or probe zero)"
    )]
    Empty,
    /// The scan cannot be held for ePIE (see [`Epie::new`]).
    #[error("{0}")]
    Data(String),
}

impl From<crate::data::DatasetError> for SeedError {
    fn from(e: crate::data::DatasetError) -> Self {
        Self::Data(e.to_string())
    }
}

/// How a seed landed on the canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedSummary {
    /// Canvas pixels taken from the seed object (the rest stay 1).
    pub pixels_seeded: usize,
    /// The factor the seed probe was multiplied by to match the measured photon count.
    pub probe_scale: f64,
}

impl Epie {
    /// Replaces the canvas by `object` (whose pixel (0, 0) sits at object coordinates
    /// `object_origin_px` `[x, y]`, rounded to the canvas's whole pixels) and the probe by
    /// `probe`, scaled so that Σ|F(P·O)|² over all positions equals the measured Σ a². Pixels
    /// the seed leaves at zero (outside its stitch) keep the canvas's 1.
    pub fn seed(
        &mut self,
        object: &ArrayRef2<Complex32>,
        object_origin_px: [f64; 2],
        probe: &ArrayRef2<Complex32>,
    ) -> Result<SeedSummary, SeedError> {
        let n = self.n;
        let found = [probe.nrows(), probe.ncols()];
        if found != [n, n] {
            return Err(SeedError::ProbeShape {
                found,
                expected: [n, n],
            });
        }
        let dr = (object_origin_px[1] - self.origin_px[1]).round() as i64;
        let dc = (object_origin_px[0] - self.origin_px[0]).round() as i64;
        let mut pixels_seeded = 0;
        for ((r, c), &v) in object.indexed_iter() {
            let (row, col) = (r as i64 + dr, c as i64 + dc);
            if row < 0 || col < 0 || row >= self.rows as i64 || col >= self.cols as i64 {
                continue;
            }
            if v.norm_sqr() > 1e-12 && v.is_finite() {
                self.object[row as usize * self.cols + col as usize] = v;
                pixels_seeded += 1;
            }
        }
        self.probe = probe.iter().copied().collect();
        let (model, measured) = self.photon_counts();
        if pixels_seeded == 0 || model.is_nan() || model <= 0.0 || !model.is_finite() {
            return Err(SeedError::Empty);
        }
        let probe_scale = (measured / model).sqrt();
        for p in &mut self.probe {
            *p *= probe_scale as f32;
        }
        Ok(SeedSummary {
            pixels_seeded,
            probe_scale,
        })
    }

    /// (Σ|F(P·O)|², Σ a²) over all positions: the model's and the data's photon counts. The FFT
    /// is orthonormal, so the first is Σ|P·O|² over the patches.
    fn photon_counts(&self) -> (f64, f64) {
        let n = self.n;
        let mut model = 0.0f64;
        for &(r0, c0) in &self.corners {
            for r in 0..n {
                let start = (r0 + r) * self.cols + c0;
                let row = &self.object[start..start + n];
                let probe = &self.probe[r * n..(r + 1) * n];
                model += row
                    .iter()
                    .zip(probe)
                    .map(|(o, p)| f64::from((o * p).norm_sqr()))
                    .sum::<f64>();
            }
        }
        let measured = self
            .measured_t
            .iter()
            .flat_map(|a| a.iter())
            .map(|&a| f64::from(a) * f64::from(a))
            .sum();
        (model, measured)
    }
}

/// Runs `config.iterations` sweeps of ePIE on `dataset` started from `object` (pixel (0, 0) at
/// `object_origin_px`) and `probe` (see [`Epie::seed`]).
pub fn run_seeded(
    dataset: &crate::data::Dataset,
    config: super::EpieConfig,
    (object, object_origin_px): (&ArrayRef2<Complex32>, [f64; 2]),
    probe: &ArrayRef2<Complex32>,
    progress: impl FnMut(super::EpieProgress) -> bool,
) -> Result<(super::EpieResult, SeedSummary), SeedError> {
    let mut epie = Epie::new(dataset, config)?;
    let summary = epie.seed(object, object_origin_px, probe)?;
    Ok((epie.run(progress), summary))
}
