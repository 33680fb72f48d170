//! Position recovery by growing the reconstruction one position at a time, measured by hand on
//! `lines-512-positions`: `cargo test --test diagnosis grow_positions -- --ignored --nocapture`.
//!
//! A prototype of the idea, outside the library: start from one position, and add the others in
//! order of their closeness to what is already placed, each registered (a whole-pixel search of
//! the Fourier error) against the object the placed positions have built, which is consistent
//! because every placed position was registered against it. The probe is held as given.
//!
//! Settings by environment: `PTYCHO_RADIUS` (search radius, px, default 32), `PTYCHO_STEP` (grid
//! step, 2), `PTYCHO_LOCAL` (local ePIE passes after each placement, 3), `PTYCHO_JITTER`.

#![allow(clippy::unwrap_used)] // a measurement run by hand: a failed unwrap says what is missing

use num_complex::Complex32;
use ptychostudio::data::Dataset;
use ptychostudio::epie::positions::PositionCorrection;
use ptychostudio::epie::{Epie, EpieConfig};
use ptychostudio::fft::Fft2;
use ptychostudio::positions::error_stats;

struct Grow {
    n: usize,
    fft: Fft2,
    rows: usize,
    cols: usize,
    object: Vec<Complex32>,
    probe: Vec<Complex32>,
    probe_max: f32,
    measured_t: Vec<Vec<f32>>,
    energy: Vec<f32>,
    origin: [f64; 2],
    wave: Vec<Complex32>,
    spectrum: Vec<Complex32>,
}

impl Grow {
    fn corner_of(&self, p: [f64; 2]) -> (i64, i64) {
        let h = (self.n / 2) as f64;
        (
            (p[1] - h - self.origin[1]).round() as i64,
            (p[0] - h - self.origin[0]).round() as i64,
        )
    }

    fn position_of(&self, (r, c): (i64, i64)) -> [f64; 2] {
        let h = (self.n / 2) as f64;
        [c as f64 + h + self.origin[0], r as f64 + h + self.origin[1]]
    }

    fn inside(&self, (r, c): (i64, i64)) -> bool {
        r >= 0 && c >= 0 && r as usize + self.n <= self.rows && c as usize + self.n <= self.cols
    }

    /// Relative Fourier error of pattern j with its patch at `corner`.
    fn error(&mut self, j: usize, corner: (i64, i64)) -> f32 {
        if !self.inside(corner) {
            return f32::INFINITY;
        }
        let n = self.n;
        let (r0, c0) = (corner.0 as usize, corner.1 as usize);
        for r in 0..n {
            let start = (r0 + r) * self.cols + c0;
            for c in 0..n {
                self.wave[r * n + c] = self.probe[r * n + c] * self.object[start + c];
            }
        }
        self.fft
            .forward_transposed(&mut self.wave, &mut self.spectrum);
        let e: f32 = self
            .spectrum
            .iter()
            .zip(&self.measured_t[j])
            .map(|(f, &a)| {
                let d = f.norm_sqr().sqrt() - a;
                d * d
            })
            .sum();
        e / self.energy[j]
    }

    /// One ePIE object step for pattern j at `corner` (probe fixed).
    fn update(&mut self, j: usize, corner: (i64, i64)) {
        let n = self.n;
        let (r0, c0) = (corner.0 as usize, corner.1 as usize);
        let mut psi = vec![Complex32::default(); n * n];
        for r in 0..n {
            let start = (r0 + r) * self.cols + c0;
            for c in 0..n {
                psi[r * n + c] = self.probe[r * n + c] * self.object[start + c];
            }
        }
        self.wave.copy_from_slice(&psi);
        self.fft
            .forward_transposed(&mut self.wave, &mut self.spectrum);
        for (f, &a) in self.spectrum.iter_mut().zip(&self.measured_t[j]) {
            let m = f.norm_sqr().sqrt();
            *f = if m > 0.0 {
                *f * (a / m)
            } else {
                Complex32::new(a, 0.0)
            };
        }
        self.fft
            .inverse_from_transposed(&mut self.spectrum, &mut self.wave);
        let step = 1.0 / self.probe_max;
        for r in 0..n {
            let start = (r0 + r) * self.cols + c0;
            for c in 0..n {
                let k = r * n + c;
                self.object[start + c] += self.probe[k].conj() * (self.wave[k] - psi[k]) * step;
            }
        }
    }

    /// The corner within ±radius of `around` with the lowest error (grid, then ±step at one
    /// pixel), its error, and the median error over the grid (the background level).
    fn search(
        &mut self,
        j: usize,
        around: (i64, i64),
        radius: i64,
        step: i64,
    ) -> ((i64, i64), f32, f32) {
        let grid = self.grid_errors(j, around, radius, step);
        let mut best = grid
            .iter()
            .copied()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((around, f32::INFINITY));
        let mut all: Vec<f32> = grid.iter().map(|g| g.1).collect();
        let centre = best.0;
        for d in -step..=step {
            for e in -step..=step {
                let c = (centre.0 + d, centre.1 + e);
                let err = self.error(j, c);
                if err < best.1 {
                    best = (c, err);
                }
            }
        }
        all.sort_by(f32::total_cmp);
        let median = all.get(all.len() / 2).copied().unwrap_or(f32::INFINITY);
        (best.0, best.1, median)
    }
}

impl Grow {
    /// The finite errors of pattern j at the corners within ±radius of `around`, on a grid of
    /// `step`.
    fn grid_errors(
        &mut self,
        j: usize,
        around: (i64, i64),
        radius: i64,
        step: i64,
    ) -> Vec<((i64, i64), f32)> {
        let mut all = Vec::new();
        let mut d = -radius;
        while d <= radius {
            let mut e = -radius;
            while e <= radius {
                let c = (around.0 + d, around.1 + e);
                let err = self.error(j, c);
                if err.is_finite() {
                    all.push((c, err));
                }
                e += step;
            }
            d += step;
        }
        all
    }

    /// The `keep` corners within ±radius of `around` with the lowest plain error, on a grid of
    /// `step`, best first.
    fn candidates(
        &mut self,
        j: usize,
        around: (i64, i64),
        radius: i64,
        step: i64,
        keep: usize,
    ) -> Vec<((i64, i64), f32)> {
        let mut all = self.grid_errors(j, around, radius, step);
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all.truncate(keep);
        all
    }

    /// Mean error of j at `c` and of `neighbours` at theirs after `passes` local ePIE passes
    /// over them (the object restored afterwards).
    fn consistency(
        &mut self,
        j: usize,
        c: (i64, i64),
        neighbours: &[(usize, (i64, i64))],
        passes: usize,
    ) -> f32 {
        if !self.inside(c) {
            return f32::INFINITY;
        }
        let backup = self.object.clone();
        for _ in 0..passes {
            self.update(j, c);
            for &(k, ck) in neighbours {
                self.update(k, ck);
            }
        }
        let mut total = self.error(j, c);
        for &(k, ck) in neighbours {
            total += self.error(k, ck);
        }
        self.object = backup;
        total / (1 + neighbours.len()) as f32
    }
}

impl Grow {
    /// The canvas over the given positions with room for a search of ±`radius`, a flat object.
    fn new(scan: &Dataset, given: &[[f64; 2]], radius: i64) -> Self {
        let n = scan.n();
        let h = n / 2;
        let diffraction = scan.diffraction().unwrap();
        let measured_t: Vec<Vec<f32>> = diffraction
            .outer_iter()
            .map(|a| ptychostudio::epie::in_spectrum_order(&a))
            .collect();
        let energy = measured_t
            .iter()
            .map(|t| t.iter().map(|a| a * a).sum())
            .collect();
        let margin = (radius as usize + 8) * 2;
        let min = |i: usize| given.iter().map(|p| p[i]).fold(f64::INFINITY, f64::min);
        let max = |i: usize| given.iter().map(|p| p[i]).fold(f64::NEG_INFINITY, f64::max);
        let origin = [
            min(0).floor() - h as f64 - margin as f64,
            min(1).floor() - h as f64 - margin as f64,
        ];
        let cols = (max(0) - min(0)).ceil() as usize + n + 2 * margin + 2;
        let rows = (max(1) - min(1)).ceil() as usize + n + 2 * margin + 2;
        let probe: Vec<Complex32> = scan.probe().iter().copied().collect();
        let probe_max = probe.iter().map(|p| p.norm_sqr()).fold(0.0f32, f32::max);
        Grow {
            n,
            fft: Fft2::new(n, false),
            rows,
            cols,
            object: vec![Complex32::new(1.0, 0.0); rows * cols],
            probe,
            probe_max,
            measured_t,
            energy,
            origin,
            wave: vec![Complex32::default(); n * n],
            spectrum: vec![Complex32::default(); n * n],
        }
    }
}

/// The corner found for pattern `j` near `around`, its error and its contrast (see the module
/// doc's `PTYCHO_MODE`).
fn register(
    g: &mut Grow,
    j: usize,
    around: (i64, i64),
    nb: &[(usize, (i64, i64))],
    radius: i64,
    step: i64,
) -> ((i64, i64), f32, f32) {
    let mode = std::env::var("PTYCHO_MODE").unwrap_or_default();
    if mode == "plain" {
        let (f, e, bg) = g.search(j, around, radius, step);
        (f, e, e / bg)
    } else {
        let keep = env("PTYCHO_KEEP", 12.0) as usize;
        let passes = env("PTYCHO_PASSES", 3.0) as usize;
        let mut scored: Vec<((i64, i64), f32)> = g
            .candidates(j, around, radius, step, keep)
            .into_iter()
            .map(|(c, _)| (c, g.consistency(j, c, nb, passes)))
            .collect();
        scored.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (mut f, mut e) = scored[0];
        // one-pixel refinement around the winner, by the same test
        let centre = f;
        for d in -step + 1..step {
            for c2 in -step + 1..step {
                let c = (centre.0 + d, centre.1 + c2);
                if c == centre {
                    continue;
                }
                let v = g.consistency(j, c, nb, passes);
                if v < e {
                    e = v;
                    f = c;
                }
            }
        }
        let second = scored.get(1).map_or(f32::INFINITY, |s| s.1);
        (f, e, e / second)
    }
}

/// The unplaced position nearest (by the given positions) to a placed one, deferred ones last,
/// and where it is predicted: given plus the median correction of the placed within 40 px.
fn next_candidate(
    g: &Grow,
    given: &[[f64; 2]],
    corner: &[Option<(i64, i64)>],
    placed: &[usize],
    deferred: &[usize],
) -> (usize, [f64; 2]) {
    let m = given.len();
    let mut best_j = None;
    let mut best_score = f64::INFINITY;
    for j in 0..m {
        if corner[j].is_some() {
            continue;
        }
        let d = placed
            .iter()
            .map(|&k| dist(given[j], given[k]))
            .fold(f64::INFINITY, f64::min);
        let score = d + 30.0 * deferred[j] as f64;
        if score < best_score {
            best_score = score;
            best_j = Some(j);
        }
    }
    let j = best_j.unwrap();
    let near: Vec<usize> = placed
        .iter()
        .copied()
        .filter(|&k| dist(given[j], given[k]) < 40.0)
        .collect();
    let shift = if near.is_empty() {
        [0.0, 0.0]
    } else {
        let mut dx: Vec<f64> = near
            .iter()
            .map(|&k| g.position_of(corner[k].unwrap())[0] - given[k][0])
            .collect();
        let mut dy: Vec<f64> = near
            .iter()
            .map(|&k| g.position_of(corner[k].unwrap())[1] - given[k][1])
            .collect();
        dx.sort_by(f64::total_cmp);
        dy.sort_by(f64::total_cmp);
        [dx[dx.len() / 2], dy[dy.len() / 2]]
    };
    (j, [given[j][0] + shift[0], given[j][1] + shift[1]])
}

/// ePIE with sub-pixel position steps from the grown positions, scored against the truth.
fn polish(
    diffraction: &ndarray::ArrayRef3<f32>,
    grown: &[[f64; 2]],
    probe: &ndarray::Array2<Complex32>,
    truth: &[[f64; 2]],
) {
    // polish: ePIE with sub-pixel steps from the grown positions
    let sweeps = env("PTYCHO_SWEEPS", 40.0) as usize;
    let correction = PositionCorrection {
        coarse_count: 0,
        ..PositionCorrection::default()
    };
    let result = Epie::from_arrays(
        diffraction,
        grown,
        probe,
        EpieConfig {
            iterations: sweeps,
            correct_positions: Some(correction),
            ..EpieConfig::default()
        },
    )
    .run(|_| true);
    println!(
        "polished ({sweeps} sweeps): {:?}; Fourier error {:.3e}",
        error_stats(&result.positions_px, truth),
        result.errors.last().unwrap()
    );
}

/// A setting from the environment, or `default`.
fn env(key: &str, default: f64) -> f64 {
    std::env::var(key)
        .ok()
        .map_or(default, |v| v.parse::<f64>().unwrap())
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[test]
#[ignore = "a measurement on the reference's lines-512 file: run by hand"]
fn grow_positions() {
    let (scan, truth, given) = crate::case::lines512_displaced();
    let radius = env("PTYCHO_RADIUS", 32.0) as i64;
    let step = env("PTYCHO_STEP", 2.0) as i64;
    let local_passes = env("PTYCHO_LOCAL", 3.0) as usize;
    let n = scan.n();
    let diffraction = scan.diffraction().unwrap();
    let mut g = Grow::new(&scan, &given, radius);
    let m = given.len();
    let centroid = [
        given.iter().map(|p| p[0]).sum::<f64>() / m as f64,
        given.iter().map(|p| p[1]).sum::<f64>() / m as f64,
    ];
    let seed = (0..m)
        .min_by(|&a, &b| dist(given[a], centroid).total_cmp(&dist(given[b], centroid)))
        .unwrap();
    let mut corner: Vec<Option<(i64, i64)>> = vec![None; m];
    corner[seed] = Some(g.corner_of(given[seed]));
    for _ in 0..20 {
        g.update(seed, corner[seed].unwrap());
    }
    let mut placed = vec![seed];
    let seed_shift = {
        let p = g.position_of(corner[seed].unwrap());
        [p[0] - truth[seed][0], p[1] - truth[seed][1]]
    };
    let mut deferred = vec![0usize; m];
    let mut log_rows = 0;
    while placed.len() < m {
        let (j, predicted) = next_candidate(&g, &given, &corner, &placed, &deferred);
        let around = g.corner_of(predicted);
        let nb: Vec<(usize, (i64, i64))> = placed
            .iter()
            .copied()
            .filter(|&k| {
                dist(predicted, g.position_of(corner[k].unwrap())) < env("PTYCHO_NB", 32.0)
            })
            .map(|k| (k, corner[k].unwrap()))
            .collect();
        let (found, err, contrast) = register(&mut g, j, around, &nb, radius, step);
        if contrast > 2.0 && deferred[j] < 3 {
            deferred[j] += 1;
            continue;
        }
        corner[j] = Some(found);
        placed.push(j);
        // local passes: j and its placed neighbours
        let p = g.position_of(found);
        let neighbours: Vec<usize> = placed
            .iter()
            .copied()
            .filter(|&k| dist(g.position_of(corner[k].unwrap()), p) < n as f64 * 0.6)
            .collect();
        for _ in 0..local_passes {
            g.update(j, found);
            for &k in &neighbours {
                g.update(k, corner[k].unwrap());
            }
        }
        let off = [
            p[0] - truth[j][0] - seed_shift[0],
            p[1] - truth[j][1] - seed_shift[1],
        ];
        if log_rows < 40 || placed.len() % 32 == 0 {
            log_rows += 1;
            println!(
                "placed {:3} (#{j}): off by ({:+.0}, {:+.0}) px; error {err:.3e}, contrast {contrast:.2}, given off by {:.1}",
                placed.len(),
                off[0],
                off[1],
                dist(given[j], truth[j]),
            );
        }
        if placed.len() % 64 == 0 {
            for &k in &placed {
                g.update(k, corner[k].unwrap());
            }
        }
    }
    let grown: Vec<[f64; 2]> = (0..m).map(|j| g.position_of(corner[j].unwrap())).collect();
    println!("grown: {:?}", error_stats(&grown, &truth));
    let wrong = (0..m)
        .filter(|&j| {
            let p = grown[j];
            dist([p[0] - seed_shift[0], p[1] - seed_shift[1]], truth[j]) > 3.0
        })
        .count();
    println!("beyond 3 px of the seed-relative truth: {wrong}");
    polish(&diffraction, &grown, scan.probe(), &truth);
}
