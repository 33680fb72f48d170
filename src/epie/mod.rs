//! The classic ePIE (physics.md §8) on the CPU: the iterative baseline a user compares the
//! network against, and the honest check of a dataset's conventions.
//!
//! Positions are rounded to whole pixels (the patch of (x, y) starts at round(y − N/2),
//! round(x − N/2)); the FFT is orthonormal so the measured amplitudes apply as they are. With
//! [`EpieConfig::correct_positions`] the positions are refined as it goes ([`positions`]).

pub mod positions;
pub mod probe_choice;
pub mod seed;

use ndarray::{Array2, ArrayRef3, Axis};
use num_complex::Complex32;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, DatasetError};
use crate::fft::Fft2;
use positions::{PositionCorrection, Scene, gauss_newton_shift};

/// ePIE settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpieConfig {
    /// Sweeps over all positions.
    pub iterations: usize,
    /// Object step α.
    pub alpha: f32,
    /// Probe step β (0 keeps the probe fixed).
    pub beta: f32,
    /// First sweep (0-based) in which the probe is updated.
    pub probe_update_start: usize,
    /// Border around the scanned area, pixels.
    pub pad_px: usize,
    /// Seed of the position order.
    pub seed: u64,
    /// Split each FFT pass over the rayon pool.
    pub parallel_fft: bool,
    /// Refine the scan positions (off: the positions are taken as exact).
    #[serde(default)]
    pub correct_positions: Option<PositionCorrection>,
}

impl Default for EpieConfig {
    fn default() -> Self {
        Self {
            iterations: 15,
            alpha: 1.0,
            beta: 1.0,
            probe_update_start: 1,
            pad_px: 4,
            seed: 0,
            // Measured (benches/epie.rs): splitting the passes over two cores gains nothing at
            // N = 128 (156 vs 163 ms per sweep, within noise), so one core does the work.
            parallel_fft: false,
            correct_positions: None,
        }
    }
}

/// An ePIE reconstruction.
#[derive(Debug, Clone)]
pub struct EpieResult {
    /// The object on its canvas.
    pub object: Array2<Complex32>,
    /// The refined probe.
    pub probe: Array2<Complex32>,
    /// Object coordinates `[x, y]` (pixels, the dataset's frame) of canvas pixel (0, 0).
    pub origin_px: [f64; 2],
    /// Fourier error per sweep: Σ(|F| − A)² / ΣA² over all positions.
    pub errors: Vec<f64>,
    /// The scan positions `[x, y]` (object pixels) the result was reconstructed at: the
    /// dataset's, or the refined ones with position correction.
    pub positions_px: Vec<[f64; 2]>,
}

/// Progress after each sweep; return `false` from the callback to stop early.
#[derive(Debug, Clone, Copy)]
pub struct EpieProgress {
    /// Sweeps done.
    pub iteration: usize,
    /// Total sweeps planned.
    pub iterations: usize,
    /// This sweep's Fourier error.
    pub error: f64,
}

/// The state of one reconstruction: canvas, probe, measured amplitudes, work buffers.
pub struct Epie {
    config: EpieConfig,
    n: usize,
    fft: Fft2,
    /// The object canvas, row-major `rows × cols`.
    object: Vec<Complex32>,
    rows: usize,
    cols: usize,
    probe: Vec<Complex32>,
    /// Canvas top-left (row, col) of each position's patch.
    corners: Vec<(usize, usize)>,
    /// Each position `[x, y]`, object pixels, as refined so far (the dataset's when not
    /// corrected).
    positions: Vec<[f64; 2]>,
    /// The dataset's positions.
    original: Vec<[f64; 2]>,
    /// Measured amplitudes, unshifted and transposed to match [`Fft2::forward_transposed`].
    measured_t: Vec<Vec<f32>>,
    origin_px: [f64; 2],
    rng: ChaCha8Rng,
    errors: Vec<f64>,
}

impl Epie {
    /// Sets up the canvas (object = 1) and the probe from the dataset. With position correction
    /// the canvas has room for every position to move by the search radius.
    ///
    /// ePIE holds every pattern in memory; a scan spilled to disk (over the memory ceiling) is
    /// refused with an error that says so.
    pub fn new(dataset: &Dataset, config: EpieConfig) -> Result<Self, DatasetError> {
        let frames = dataset.frames();
        if let Some(folder) = frames.spilled_to() {
            return Err(DatasetError::ScanInput(format!(
                "ePIE holds every pattern in memory, and this scan's patterns ({}) are over the \
                 memory ceiling, so they were spilled to {}: raise the ceiling with \
                 --memory-limit-mb, or reconstruct with the network, which reads them as needed",
                crate::data::frames::human_bytes(frames.bytes()),
                folder.display()
            )));
        }
        Ok(Self::from_arrays(
            &dataset.diffraction()?,
            dataset.positions_px(),
            dataset.probe(),
            config,
        ))
    }

    /// [`Epie::new`] from the arrays themselves, at any pattern size (the network's sizes
    /// do not bind ePIE): `[m, n, n]` DC-centred amplitudes, one `[x, y]` per pattern, and an
    /// `[n, n]` probe. The caller keeps the shapes consistent.
    pub fn from_arrays(
        diffraction: &ArrayRef3<f32>,
        positions_px: &[[f64; 2]],
        probe: &Array2<Complex32>,
        config: EpieConfig,
    ) -> Self {
        let n = probe.nrows();
        let half = (n / 2) as f64;
        let tops: Vec<(i64, i64)> = positions_px
            .iter()
            .map(|p| ((p[1] - half).round() as i64, (p[0] - half).round() as i64))
            .collect();
        let min_r = tops.iter().map(|t| t.0).min().unwrap_or(0);
        let min_c = tops.iter().map(|t| t.1).min().unwrap_or(0);
        let max_r = tops.iter().map(|t| t.0).max().unwrap_or(0);
        let max_c = tops.iter().map(|t| t.1).max().unwrap_or(0);
        let margin = config.pad_px + config.correct_positions.map_or(0, |c| c.radius(n) + 2);
        let pad = margin as i64;
        let rows = (max_r - min_r) as usize + n + 2 * margin;
        let cols = (max_c - min_c) as usize + n + 2 * margin;
        let corners = tops
            .iter()
            .map(|&(r, c)| ((r - min_r + pad) as usize, (c - min_c + pad) as usize))
            .collect();
        let measured_t = diffraction
            .axis_iter(Axis(0))
            .map(|a| in_spectrum_order(&a))
            .collect();
        Self {
            config,
            n,
            fft: Fft2::new(n, config.parallel_fft),
            object: vec![Complex32::new(1.0, 0.0); rows * cols],
            rows,
            cols,
            probe: probe.iter().copied().collect(),
            corners,
            positions: positions_px.to_vec(),
            original: positions_px.to_vec(),
            measured_t,
            origin_px: [(min_c - pad) as f64, (min_r - pad) as f64],
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            errors: Vec::new(),
        }
    }

    /// The canvas corner (row, col) of the patch centred at `position` (rounded, kept on the
    /// canvas).
    fn corner_of(&self, position: [f64; 2]) -> (usize, usize) {
        let half = (self.n / 2) as f64;
        let row = (position[1] - half - self.origin_px[1]).round();
        let col = (position[0] - half - self.origin_px[0]).round();
        (
            row.clamp(0.0, (self.rows - self.n) as f64) as usize,
            col.clamp(0.0, (self.cols - self.n) as f64) as usize,
        )
    }

    /// The position `[x, y]` whose patch starts exactly at canvas `corner`.
    fn position_of(&self, corner: (usize, usize)) -> [f64; 2] {
        let half = (self.n / 2) as f64;
        [
            corner.1 as f64 + half + self.origin_px[0],
            corner.0 as f64 + half + self.origin_px[1],
        ]
    }

    /// Moves every position to where its pattern's Fourier error is lowest (see
    /// [`positions::Scene::search`]), then pins the mean displacement.
    fn coarse_search(&mut self, correction: &PositionCorrection) {
        use rayon::prelude::*;
        let scene = Scene {
            fft: &self.fft,
            n: self.n,
            object: &self.object,
            canvas: (self.rows, self.cols),
            probe: &self.probe,
        };
        let (radius, step) = (correction.radius(self.n), correction.step(self.n));
        let errors: Vec<f32> = self
            .corners
            .par_iter()
            .zip(self.measured_t.par_iter())
            .map(|(&corner, measured)| scene.relative_error(measured, corner))
            .collect();
        let mut sorted = errors.clone();
        sorted.sort_by(f32::total_cmp);
        let suspect =
            sorted.get(sorted.len() / 2).copied().unwrap_or(0.0) * correction.suspect_factor;
        let found: Vec<(usize, usize)> = self
            .corners
            .par_iter()
            .zip(self.measured_t.par_iter())
            .zip(errors.par_iter())
            .map(|((&corner, measured), &error)| {
                if error > suspect {
                    scene.search(measured, corner, radius, step, correction.min_gain)
                } else {
                    corner
                }
            })
            .collect();
        self.positions = found.iter().map(|&c| self.position_of(c)).collect();
        self.pin_positions();
    }

    /// Pins the mean displacement from the dataset's positions to zero and re-reads the corners.
    fn pin_positions(&mut self) {
        crate::positions::pin_mean(&mut self.positions, &self.original);
        self.corners = self.positions.iter().map(|&p| self.corner_of(p)).collect();
    }

    /// One sweep over all positions in a fresh random order; returns its Fourier error.
    pub fn sweep(&mut self) -> f64 {
        if self.config.parallel_fft {
            // Run on a pool thread so the split FFT passes join without a cross-thread wake-up
            // per pass (from outside the pool each join blocks on a latch).
            let mut result = 0.0;
            rayon::scope(|_| result = self.sweep_here());
            result
        } else {
            self.sweep_here()
        }
    }

    fn sweep_here(&mut self) -> f64 {
        let n = self.n;
        let sweep = self.errors.len();
        let update_probe = self.config.beta != 0.0 && sweep >= self.config.probe_update_start;
        let correction = self.config.correct_positions.filter(|c| sweep >= c.start);
        if let Some(c) = correction.filter(|c| c.coarse_before(sweep)) {
            self.coarse_search(&c);
        }
        let mut order: Vec<usize> = (0..self.corners.len()).collect();
        order.shuffle(&mut self.rng);
        let mut patch = vec![Complex32::default(); n * n];
        let mut psi = vec![Complex32::default(); n * n];
        let mut work = vec![Complex32::default(); n * n];
        let mut spectrum = vec![Complex32::default(); n * n];
        let (mut misfit, mut energy) = (0.0f64, 0.0f64);
        let mut frame = ProbeFrame::new(n);
        for j in order {
            let frac = self.probe_frame(j, correction.is_some(), &mut frame);
            let probe_j = &frame.probe;
            let (r0, c0) = self.corners[j];
            let cols = self.cols;
            for r in 0..n {
                let start = (r0 + r) * cols + c0;
                patch[r * n..(r + 1) * n].copy_from_slice(&self.object[start..start + n]);
            }
            for ((w, p), o) in work.iter_mut().zip(probe_j.iter()).zip(&patch) {
                *w = p * o;
            }
            psi.copy_from_slice(&work);
            self.fft.forward_transposed(&mut work, &mut spectrum);
            let (mut e_mis, mut e_meas) = (0.0f32, 0.0f32);
            for (f, &a) in spectrum.iter_mut().zip(&self.measured_t[j]) {
                // √(re² + im²): `norm()` goes through `hypot`, several times slower here.
                let modulus = f.norm_sqr().sqrt();
                e_mis += (modulus - a) * (modulus - a);
                e_meas += a * a;
                *f = if modulus > 0.0 {
                    *f * (a / modulus)
                } else {
                    Complex32::new(a, 0.0)
                };
            }
            misfit += f64::from(e_mis);
            energy += f64::from(e_meas);
            self.fft.inverse_from_transposed(&mut spectrum, &mut work);
            // work = ψ' ; Δψ = ψ' − ψ
            for (w, p) in work.iter_mut().zip(&psi) {
                *w -= p;
            }
            if let Some(c) = correction {
                let scene = Scene {
                    fft: &self.fft,
                    n,
                    object: &self.object,
                    canvas: (self.rows, self.cols),
                    probe: probe_j,
                };
                let [dx, dy] = gauss_newton_shift(&scene, &work, (r0, c0), c.max_step_px);
                let p = &mut self.positions[j];
                *p = [p[0] + dx, p[1] + dy];
            }
            let probe_max = probe_j
                .iter()
                .map(|p| p.norm_sqr())
                .fold(0.0f32, f32::max)
                .max(1e-30);
            let object_max = patch
                .iter()
                .map(|o| o.norm_sqr())
                .fold(0.0f32, f32::max)
                .max(1e-30);
            let a = self.config.alpha / probe_max;
            let b = self.config.beta / object_max;
            for r in 0..n {
                let start = (r0 + r) * cols + c0;
                let dst = &mut self.object[start..start + n];
                let row = r * n..(r + 1) * n;
                for ((d, o), (p, w)) in dst
                    .iter_mut()
                    .zip(&patch[row.clone()])
                    .zip(probe_j[row.clone()].iter().zip(&work[row]))
                {
                    *d = o + p.conj() * w * a;
                }
            }
            if update_probe {
                self.add_probe_update(&patch, &work, b, frac, &mut frame);
            }
        }
        if correction.is_some() {
            self.pin_positions();
        }
        let error = if energy > 0.0 { misfit / energy } else { 0.0 };
        self.errors.push(error);
        error
    }

    /// Places position `j` for its update and fills `frame.probe` with the probe it sees.
    /// With position correction a position is continuous: its patch is read at the nearest
    /// whole-pixel corner and the probe moved by the remaining fraction, which is returned
    /// (`None` when the probe is not moved).
    fn probe_frame(
        &mut self,
        j: usize,
        correcting: bool,
        frame: &mut ProbeFrame,
    ) -> Option<[f64; 2]> {
        let frac = if correcting {
            self.corners[j] = self.corner_of(self.positions[j]);
            let at = self.position_of(self.corners[j]);
            let p = &mut self.positions[j];
            let frac = [
                (p[0] - at[0]).clamp(-0.5, 0.5),
                (p[1] - at[1]).clamp(-0.5, 0.5),
            ];
            *p = [at[0] + frac[0], at[1] + frac[1]];
            Some(frac).filter(|f| f[0].abs() > 1e-3 || f[1].abs() > 1e-3)
        } else {
            None
        };
        match frac {
            Some(frac) => positions::shift_subpixel(
                &self.fft,
                &self.probe,
                frac,
                &mut frame.probe,
                &mut frame.scratch,
            ),
            None => frame.probe.copy_from_slice(&self.probe),
        }
        frac
    }

    /// The probe step conj(O)·Δψ·`b`, made in the frame of a position moved by `frac`, moved
    /// back before it is added.
    fn add_probe_update(
        &mut self,
        patch: &[Complex32],
        delta: &[Complex32],
        b: f32,
        frac: Option<[f64; 2]>,
        frame: &mut ProbeFrame,
    ) {
        for ((u, o), d) in frame.update.iter_mut().zip(patch).zip(delta) {
            *u = o.conj() * d * b;
        }
        if let Some(frac) = frac {
            let back = [-frac[0], -frac[1]];
            positions::shift_subpixel(
                &self.fft,
                &frame.update,
                back,
                &mut frame.probe,
                &mut frame.scratch,
            );
            frame.update.copy_from_slice(&frame.probe);
        }
        for (p, u) in self.probe.iter_mut().zip(&frame.update) {
            *p += u;
        }
    }

    /// Runs the configured sweeps, calling `progress` after each; stops early when it returns
    /// `false`.
    pub fn run(mut self, mut progress: impl FnMut(EpieProgress) -> bool) -> EpieResult {
        for i in 0..self.config.iterations {
            let error = self.sweep();
            let go_on = progress(EpieProgress {
                iteration: i + 1,
                iterations: self.config.iterations,
                error,
            });
            if !go_on {
                break;
            }
        }
        self.into_result()
    }

    /// A copy of the object canvas as it is now (for a live view between sweeps).
    pub fn object_snapshot(&self) -> Array2<Complex32> {
        Array2::from_shape_vec((self.rows, self.cols), self.object.clone())
            .unwrap_or_else(|_| Array2::zeros((self.rows, self.cols)))
    }

    /// The positions `[x, y]` as refined so far (the dataset's without position correction).
    pub fn positions_px(&self) -> &[[f64; 2]] {
        &self.positions
    }

    /// Object coordinates `[x, y]` of canvas pixel (0, 0).
    pub fn origin_px(&self) -> [f64; 2] {
        self.origin_px
    }

    /// The configuration.
    pub fn config(&self) -> &EpieConfig {
        &self.config
    }

    /// A copy of the current state as a result (to keep the state of one sweep and go on).
    pub fn snapshot(&self) -> EpieResult {
        let n = self.n;
        EpieResult {
            object: self.object_snapshot(),
            probe: Array2::from_shape_vec((n, n), self.probe.clone())
                .unwrap_or_else(|_| Array2::zeros((n, n))),
            origin_px: self.origin_px,
            errors: self.errors.clone(),
            positions_px: self.positions.clone(),
        }
    }

    /// The current state as a result.
    pub fn into_result(self) -> EpieResult {
        let n = self.n;
        let object = Array2::from_shape_vec((self.rows, self.cols), self.object)
            .unwrap_or_else(|_| Array2::zeros((self.rows, self.cols)));
        EpieResult {
            object,
            probe: Array2::from_shape_vec((n, n), self.probe)
                .unwrap_or_else(|_| Array2::zeros((n, n))),
            origin_px: self.origin_px,
            errors: self.errors,
            positions_px: self.positions,
        }
    }
}

/// Work buffers for the probe as one position sees it.
struct ProbeFrame {
    /// The probe, moved by the position's sub-pixel fraction.
    probe: Vec<Complex32>,
    /// A probe update before it is moved back.
    update: Vec<Complex32>,
    /// FFT scratch.
    scratch: Vec<Complex32>,
}

impl ProbeFrame {
    fn new(n: usize) -> Self {
        Self {
            probe: vec![Complex32::default(); n * n],
            update: vec![Complex32::default(); n * n],
            scratch: vec![Complex32::default(); n * n],
        }
    }
}

/// A DC-centred `n × n` pattern in the order [`Fft2::forward_transposed`] leaves a spectrum:
/// `out[kx·n + ky]` = the pattern at frequency (ky, kx), DC at index 0.
pub fn in_spectrum_order(pattern: &ndarray::ArrayRef2<f32>) -> Vec<f32> {
    let n = pattern.nrows();
    let h = n / 2;
    let mut t = vec![0.0f32; n * n];
    for kx in 0..n {
        for ky in 0..n {
            t[kx * n + ky] = pattern[[(ky + h) % n, (kx + h) % n]];
        }
    }
    t
}

/// Runs ePIE on `dataset` (see [`Epie`]).
pub fn run_epie(
    dataset: &Dataset,
    config: EpieConfig,
    progress: impl FnMut(EpieProgress) -> bool,
) -> Result<EpieResult, DatasetError> {
    Ok(Epie::new(dataset, config)?.run(progress))
}
