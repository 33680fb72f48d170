//! Position correction for ePIE, in two steps as measured scans need them:
//! - a **coarse search**: for every position, the Fourier error of the current object and probe
//!   at whole-pixel displacements on a grid over ±R (step s), then ±s around the best at one
//!   pixel; the position moves where the pattern is explained best. It finds outliers of tens
//!   of pixels that small steps never reach;
//! - a **Gauss–Newton step** inside every update (the gradient method of pty-chi and PtyLab's
//!   pcPIE family): the exit wave's change ΔΨ = Ψ' − Ψ is fitted by δ·P∇O, the change a shift δ
//!   of the object under the probe makes, and δ (sub-pixel, capped) is the position's offset
//!   from the whole-pixel corner its patch is read at.

use num_complex::Complex32;

use crate::fft::Fft2;

/// When and how far ePIE corrects positions.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PositionCorrection {
    /// First sweep (0-based) that corrects positions; plain ePIE sweeps come first, to build an
    /// object to compare with.
    pub start: usize,
    /// Coarse searches run before the sweeps `start`, `start + every`, … (`count` of them).
    pub coarse_every: usize,
    /// How many coarse searches.
    pub coarse_count: usize,
    /// Search radius R of the coarse search, pixels (0: N/2).
    pub search_px: usize,
    /// Grid step of the coarse search, pixels (0: N/16, at least 1).
    pub step_px: usize,
    /// Largest Gauss–Newton offset from the whole-pixel corner, pixels.
    pub max_step_px: f64,
    /// A coarse move is taken only when it lowers the position's Fourier error by at least this
    /// fraction (a smooth object's error landscape has shallow false minima far away).
    pub min_gain: f32,
    /// Only positions whose relative Fourier error exceeds this multiple of the median are
    /// searched: the data say which positions are wrong by more than small steps can mend.
    pub suspect_factor: f32,
}

impl Default for PositionCorrection {
    fn default() -> Self {
        Self {
            start: 3,
            coarse_every: 3,
            coarse_count: 3,
            search_px: 0,
            step_px: 0,
            max_step_px: 1.0,
            min_gain: 0.1,
            suspect_factor: 3.0,
        }
    }
}

impl PositionCorrection {
    /// The search radius for pattern size `n`.
    pub fn radius(&self, n: usize) -> usize {
        if self.search_px == 0 {
            n / 2
        } else {
            self.search_px
        }
    }

    /// The coarse grid step for pattern size `n`.
    pub fn step(&self, n: usize) -> usize {
        if self.step_px == 0 {
            (n / 16).max(1)
        } else {
            self.step_px
        }
    }

    /// Whether a coarse search runs before sweep `sweep` (0-based).
    pub fn coarse_before(&self, sweep: usize) -> bool {
        sweep >= self.start
            && (sweep - self.start).is_multiple_of(self.coarse_every.max(1))
            && (sweep - self.start) / self.coarse_every.max(1) < self.coarse_count
    }
}

/// What the Fourier error of one position needs: the object canvas, the probe and the pattern.
pub(super) struct Scene<'a> {
    /// The FFT of size n.
    pub fft: &'a Fft2,
    /// Pattern size.
    pub n: usize,
    /// Object canvas, row-major.
    pub object: &'a [Complex32],
    /// Canvas size (rows, columns).
    pub canvas: (usize, usize),
    /// The probe, row-major `n × n`.
    pub probe: &'a [Complex32],
}

impl Scene<'_> {
    /// Σ(|F(P·O_patch)| − A)² with the patch's top-left at canvas `(row, col)`; `None` when the
    /// patch would leave the canvas.
    /// The relative Fourier error Σ(|F| − A)² / ΣA² of the patch at canvas `corner`.
    pub fn relative_error(&self, measured_t: &[f32], corner: (usize, usize)) -> f32 {
        let mut work = Work::new(self.n);
        let energy: f32 = measured_t.iter().map(|a| a * a).sum();
        self.fourier_error(measured_t, corner.0 as i64, corner.1 as i64, &mut work)
            .map_or(f32::INFINITY, |e| e / energy.max(1e-30))
    }

    fn fourier_error(
        &self,
        measured_t: &[f32],
        row: i64,
        col: i64,
        work: &mut Work,
    ) -> Option<f32> {
        let n = self.n;
        let (rows, cols) = self.canvas;
        if row < 0 || col < 0 || row as usize + n > rows || col as usize + n > cols {
            return None;
        }
        let (row, col) = (row as usize, col as usize);
        for r in 0..n {
            let start = (row + r) * cols + col;
            for ((w, o), p) in work.wave[r * n..(r + 1) * n]
                .iter_mut()
                .zip(&self.object[start..start + n])
                .zip(&self.probe[r * n..(r + 1) * n])
            {
                *w = p * o;
            }
        }
        self.fft
            .forward_transposed(&mut work.wave, &mut work.spectrum);
        Some(
            work.spectrum
                .iter()
                .zip(measured_t)
                .map(|(f, &a)| {
                    let d = f.norm_sqr().sqrt() - a;
                    d * d
                })
                .sum(),
        )
    }

    /// The top-left corner, within ±`radius` of `corner`, whose Fourier error is lowest: a grid
    /// of step `step`, then every pixel within ±`step` of the grid's best. The current corner
    /// wins ties.
    pub fn search(
        &self,
        measured_t: &[f32],
        corner: (usize, usize),
        radius: usize,
        step: usize,
        min_gain: f32,
    ) -> (usize, usize) {
        let mut work = Work::new(self.n);
        let (r0, c0) = (corner.0 as i64, corner.1 as i64);
        let mut best = (r0, c0);
        let Some(mut best_error) = self.fourier_error(measured_t, r0, c0, &mut work) else {
            return corner;
        };
        let here = best_error;
        let mut consider = |r: i64, c: i64, best: &mut (i64, i64), best_error: &mut f32| {
            if let Some(e) = self.fourier_error(measured_t, r, c, &mut work)
                && e < *best_error
            {
                *best_error = e;
                *best = (r, c);
            }
        };
        let (radius, step) = (radius as i64, step.max(1) as i64);
        let mut d = -radius;
        while d <= radius {
            let mut e = -radius;
            while e <= radius {
                consider(r0 + d, c0 + e, &mut best, &mut best_error);
                e += step;
            }
            d += step;
        }
        let centre = best;
        for d in -step..=step {
            for e in -step..=step {
                consider(centre.0 + d, centre.1 + e, &mut best, &mut best_error);
            }
        }
        if best_error > (1.0 - min_gain) * here {
            return corner;
        }
        (best.0 as usize, best.1 as usize)
    }
}

/// Scratch buffers of one search.
struct Work {
    wave: Vec<Complex32>,
    spectrum: Vec<Complex32>,
}

impl Work {
    fn new(n: usize) -> Self {
        Self {
            wave: vec![Complex32::default(); n * n],
            spectrum: vec![Complex32::default(); n * n],
        }
    }
}

/// The Gauss–Newton shift `[δx, δy]` (pixels, each within ±`max_step`) that best explains the
/// exit wave's change `delta` (= Ψ' − Ψ) as the object under the probe moving: least squares
/// of ΔΨ ≈ δx·P·∂O/∂x + δy·P·∂O/∂y over the patch, the object's derivatives by central
/// differences on the canvas around the patch at `(row, col)`.
pub(super) fn gauss_newton_shift(
    scene: &Scene<'_>,
    delta: &[Complex32],
    (row, col): (usize, usize),
    max_step: f64,
) -> [f64; 2] {
    let n = scene.n;
    let (rows, cols) = scene.canvas;
    let at = |r: usize, c: usize| -> Complex32 {
        if r < rows && c < cols {
            scene.object[r * cols + c]
        } else {
            Complex32::default()
        }
    };
    let (mut axx, mut axy, mut ayy, mut bx, mut by) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for r in 0..n {
        for c in 0..n {
            let (y, x) = (row + r, col + c);
            let gx = (at(y, x + 1) - at(y, x.wrapping_sub(1))) * 0.5;
            let gy = (at(y + 1, x) - at(y.wrapping_sub(1), x)) * 0.5;
            let p = scene.probe[r * n + c];
            let (px, py) = (p * gx, p * gy);
            let d = delta[r * n + c];
            axx += f64::from(px.norm_sqr());
            ayy += f64::from(py.norm_sqr());
            axy += f64::from((px.conj() * py).re);
            bx += f64::from((px.conj() * d).re);
            by += f64::from((py.conj() * d).re);
        }
    }
    // A little Tikhonov damping keeps a featureless patch (singular system) where it is.
    let damping = 1e-3 * (axx + ayy) + 1e-20;
    let (axx, ayy) = (axx + damping, ayy + damping);
    let det = axx * ayy - axy * axy;
    if !(det.is_finite() && det > 0.0) {
        return [0.0, 0.0];
    }
    let dx = (ayy * bx - axy * by) / det;
    let dy = (axx * by - axy * bx) / det;
    [dx.clamp(-max_step, max_step), dy.clamp(-max_step, max_step)]
}

/// `data` (row-major `n × n`) moved by `[dx, dy]` pixels (|d| ≤ ½ in practice) with a Fourier
/// phase ramp: out(r) = data(r − d), exact for a band-limited field. `work` is scratch.
pub(super) fn shift_subpixel(
    fft: &Fft2,
    data: &[Complex32],
    [dx, dy]: [f64; 2],
    out: &mut [Complex32],
    work: &mut [Complex32],
) {
    let n = fft.n();
    out.copy_from_slice(data);
    // The spectrum comes transposed: index kx·n + ky.
    fft.forward_transposed(out, work);
    let signed = |k: usize| {
        if k < n / 2 {
            k as f64
        } else {
            k as f64 - n as f64
        }
    };
    let step = -std::f64::consts::TAU / n as f64;
    let ramp_x: Vec<Complex32> = (0..n)
        .map(|k| {
            let a = step * signed(k) * dx;
            Complex32::new(a.cos() as f32, a.sin() as f32)
        })
        .collect();
    let ramp_y: Vec<Complex32> = (0..n)
        .map(|k| {
            let a = step * signed(k) * dy;
            Complex32::new(a.cos() as f32, a.sin() as f32)
        })
        .collect();
    for (kx, row) in work.chunks_exact_mut(n).enumerate() {
        for (ky, v) in row.iter_mut().enumerate() {
            *v *= ramp_x[kx] * ramp_y[ky];
        }
    }
    fft.inverse_from_transposed(work, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: usize, centre: [f64; 2]) -> Vec<Complex32> {
        (0..n * n)
            .map(|i| {
                let (y, x) = ((i / n) as f64, (i % n) as f64);
                let r2 = (x - centre[0]).powi(2) + (y - centre[1]).powi(2);
                Complex32::new((-r2 / 18.0).exp() as f32, 0.0)
            })
            .collect()
    }

    #[test]
    fn sub_pixel_shift_moves_a_band_limited_field() {
        let n = 32;
        let fft = Fft2::new(n, false);
        let mut out = vec![Complex32::default(); n * n];
        let mut work = vec![Complex32::default(); n * n];
        shift_subpixel(
            &fft,
            &blob(n, [16.0, 16.0]),
            [0.5, -0.25],
            &mut out,
            &mut work,
        );
        let expected = blob(n, [16.5, 15.75]);
        let worst = out
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).norm())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "largest difference {worst}");
    }
}
