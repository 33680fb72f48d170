//! Does a scan's probe guess explain its data? ePIE answers cheaply: the same sweeps run once
//! with the file's probe held fixed and once refining it, from the same flat object and order.
//! When refining lowers the Fourier error by a large factor, the guess is wrong in a way the
//! data show (the real Siemens star: 1.27e-1 held against 1.90e-2 refined, 6.7×), and the
//! network should start from the refined probe. When it does not, the guess is as good as the
//! data can tell (the reference's simulated `lines-512`, whose probe is exact: 4.06e-4 held
//! against 5.41e-4 refined), and the file's probe is kept: refining an exact probe from a flat
//! object only disturbs it. Measured in docs/measured-scans.md.

use ndarray::Array2;
use num_complex::Complex32;

use super::{EpieConfig, run_epie};
use crate::data::{Dataset, DatasetError};

/// Refined must fit this many times better than held for the refined probe to be used.
pub const REFINED_PROBE_GAIN: f64 = 2.0;

/// Sweeps of each ePIE run of the check, by default.
pub const DEFAULT_CHECK_SWEEPS: usize = 20;

/// ePIE holds its patterns in memory: of a scan spilled to disk (over the memory ceiling) the
/// check reads at most this many, those nearest the scan's centre, where the overlap is full.
pub const SPILLED_CHECK_PATTERNS: usize = 256;

/// The outcome of [`compare_probes`].
#[derive(Debug, Clone)]
pub struct ProbeComparison {
    /// Sweeps of each run.
    pub sweeps: usize,
    /// Patterns the runs used: all of the scan's, or [`SPILLED_CHECK_PATTERNS`] of a spilled one.
    pub patterns: usize,
    /// ePIE's Fourier error after the last sweep with the file's probe held fixed.
    pub error_held: f64,
    /// The same with the probe refined from the second sweep on.
    pub error_refined: f64,
    /// The refined probe.
    pub refined: Array2<Complex32>,
}

impl ProbeComparison {
    /// How many times better the refined probe explains the data (held / refined).
    pub fn gain(&self) -> f64 {
        if self.error_refined > 0.0 {
            self.error_held / self.error_refined
        } else {
            f64::INFINITY
        }
    }

    /// Whether the refined probe explains the data clearly better ([`REFINED_PROBE_GAIN`]).
    pub fn prefers_refined(&self) -> bool {
        self.gain() >= REFINED_PROBE_GAIN
    }

    /// One line for a log: both errors, the factor and the choice.
    pub fn summary(&self) -> String {
        let choice = if self.prefers_refined() {
            "training with ePIE's refined probe"
        } else {
            "the file's probe explains the data as well: training with it"
        };
        format!(
            "probe check, {} sweeps of ePIE on {} patterns: Fourier error {:.3e} with the \
             file's probe held, {:.3e} refined ({:.2}×; refined is used from \
             {REFINED_PROBE_GAIN}×): {choice}",
            self.sweeps,
            self.patterns,
            self.error_held,
            self.error_refined,
            self.gain()
        )
    }
}

/// Runs ePIE on `dataset` twice, `sweeps` sweeps each (default settings, seed 0), with the
/// probe held and refined, the two runs side by side on the rayon pool. A scan spilled to disk
/// is checked on the [`SPILLED_CHECK_PATTERNS`] patterns nearest its centre, read into memory.
pub fn compare_probes(dataset: &Dataset, sweeps: usize) -> Result<ProbeComparison, DatasetError> {
    let part = in_memory_part(dataset)?;
    let dataset = part.as_ref().unwrap_or(dataset);
    let config = EpieConfig {
        iterations: sweeps.max(1),
        ..EpieConfig::default()
    };
    let held = EpieConfig {
        beta: 0.0,
        ..config
    };
    let (held, refined) = rayon::join(
        || run_epie(dataset, held, |_| true),
        || run_epie(dataset, config, |_| true),
    );
    let (held, refined) = (held?, refined?);
    let last = |errors: &[f64]| errors.last().copied().unwrap_or(f64::INFINITY);
    Ok(ProbeComparison {
        sweeps: config.iterations,
        patterns: dataset.len(),
        error_held: last(&held.errors),
        error_refined: last(&refined.errors),
        refined: refined.probe,
    })
}

/// Of a scan spilled to disk, the patterns nearest its centre (at most
/// [`SPILLED_CHECK_PATTERNS`], in the scan's order when that is all of them) in memory; `None`
/// for a scan in memory.
fn in_memory_part(dataset: &Dataset) -> Result<Option<Dataset>, DatasetError> {
    if dataset.frames().spilled_to().is_none() {
        return Ok(None);
    }
    let positions = dataset.positions_px();
    let count = positions.len().max(1) as f64;
    let centre = [
        positions.iter().map(|p| p[0]).sum::<f64>() / count,
        positions.iter().map(|p| p[1]).sum::<f64>() / count,
    ];
    let mut indices: Vec<usize> = (0..positions.len()).collect();
    if indices.len() > SPILLED_CHECK_PATTERNS {
        let distance = |i: usize| {
            let p = positions[i];
            (p[0] - centre[0]).hypot(p[1] - centre[1])
        };
        indices.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)));
        indices.truncate(SPILLED_CHECK_PATTERNS);
    }
    let patterns = dataset.frames().select_array(&indices)?;
    Dataset::from_frames(
        crate::data::frames::Frames::in_memory(patterns),
        indices.iter().map(|&i| positions[i]).collect(),
        dataset.probe().clone(),
        None,
        None,
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::simulate::{
        ScanPattern, SimulationConfig, default_probe, lines_object, scan_positions, simulate_scan,
    };

    /// A small noise-free lines scan under the default probe.
    fn scan() -> Dataset {
        let config = SimulationConfig {
            object_size: 128,
            nphotons: 1e9,
            seed: 3,
            ..Default::default()
        };
        let positions = scan_positions(ScanPattern::Random { count: 60 }, 64, 128, 5);
        simulate_scan(
            &lines_object(&config),
            &default_probe(64),
            positions,
            1e9,
            6,
        )
        .map(|s| s.dataset)
        .expect("simulation")
    }

    #[test]
    fn an_exact_probe_is_kept() {
        let check = compare_probes(&scan(), 12).expect("ePIE runs");
        eprintln!("{}", check.summary());
        assert!(
            !check.prefers_refined(),
            "an exact probe should be kept: {}",
            check.summary()
        );
    }

    #[test]
    fn a_wrong_probe_is_refined() {
        let exact = scan();
        // The guess: the probe's phase curvature doubled, as a defocus error would give.
        let n = exact.n();
        let guess = Array2::from_shape_fn((n, n), |(r, c)| {
            let (y, x) = (r as f32 - n as f32 / 2.0, c as f32 - n as f32 / 2.0);
            let p = exact.probe()[[r, c]];
            p * Complex32::from_polar(1.0, 0.004 * (x * x + y * y))
        });
        let wrong = exact.with_probe(guess).expect("same shape");
        let check = compare_probes(&wrong, 12).expect("ePIE runs");
        eprintln!("{}", check.summary());
        assert!(
            check.prefers_refined(),
            "a defocused guess should be refined: {}",
            check.summary()
        );
    }
}
