//! A scan's regime: how many photons its patterns hold and how much neighbouring illuminations
//! overlap, the two things that decide whether the network or ePIE reconstructs it better
//! (measured in `docs/regimes.md`).
//!
//! Overlap is the linear overlap 1 − d / D of two neighbouring illuminations, with D the probe's
//! diameter (that of the disk whose area the probe's |P| ≥ ½ max covers) and d the median
//! distance from a position to its nearest neighbour. A raster's d is its step. Random
//! positions at the raster's density have nearest neighbours closer than the step (about half
//! of it), so their overlap by this measure is higher at the same density.

use ndarray::Array2;
use num_complex::Complex32;

use super::Dataset;

/// Positions beyond this many are sampled (evenly by index) for the nearest-neighbour distance.
const MAX_SAMPLED_POSITIONS: usize = 2000;

/// The diameter, pixels, of the disk with the area where |P| is at least half its maximum.
/// `None` for an all-zero probe.
pub fn probe_diameter_px(probe: &Array2<Complex32>) -> Option<f64> {
    let peak = probe.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
    // f32::max skips NaN, so the peak is a number.
    if peak <= 0.0 {
        return None;
    }
    let area = probe.iter().filter(|c| c.norm() >= 0.5 * peak).count() as f64;
    Some(2.0 * (area / std::f64::consts::PI).sqrt())
}

/// The median distance, pixels, from a position to its nearest other position (`None` with
/// fewer than two). Up to [`MAX_SAMPLED_POSITIONS`] positions, evenly spread over the scan
/// order, are measured against all of them.
pub fn median_neighbour_distance_px(positions: &[[f64; 2]]) -> Option<f64> {
    if positions.len() < 2 {
        return None;
    }
    let stride = positions.len().div_ceil(MAX_SAMPLED_POSITIONS);
    let mut nearest: Vec<f64> = (0..positions.len())
        .step_by(stride)
        .map(|i| {
            let [x, y] = positions[i];
            positions
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, p)| (p[0] - x).hypot(p[1] - y))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    nearest.sort_by(f64::total_cmp);
    Some(nearest[nearest.len() / 2])
}

/// The linear overlap 1 − d / D of the scan (see the module's notes); negative when
/// neighbours are further apart than the probe is wide.
pub fn linear_overlap(positions: &[[f64; 2]], probe: &Array2<Complex32>) -> Option<f64> {
    let diameter = probe_diameter_px(probe)?;
    let distance = median_neighbour_distance_px(positions)?;
    Some(1.0 - distance / diameter)
}

/// The raster step, pixels, that gives `overlap` with a probe of `diameter_px`.
pub fn raster_step_px(overlap: f64, diameter_px: f64) -> f64 {
    (1.0 - overlap) * diameter_px
}

/// Photons per pattern, read from the counts' quantum: Poisson counts are whole numbers, so
/// a scan's amplitude² values are whole multiples of the value one photon gives (1 for a
/// detector's √counts; 1/s² for a simulation normalised as the reference's files are, where
/// amplitude = √counts / s). The smallest non-zero amplitude² of the first patterns (up to 16)
/// is taken as one photon when every value is a whole multiple of it; then the photons are
/// the mean Σ amplitude² over that quantum. `None` when the values are not quantised (a high
/// dose with no single-photon pixels, or data already processed): the photons cannot be known.
pub fn photons_per_pattern(dataset: &Dataset) -> Option<f64> {
    photon_quantum(dataset).map(|q| dataset.mean_counts_per_pattern() / q)
}

/// The amplitude² one photon gives in `dataset` (see [`photons_per_pattern`]); `None` when the
/// values are not quantised.
pub fn photon_quantum(dataset: &Dataset) -> Option<f64> {
    let checked = dataset.len().min(16);
    let mut values = Vec::new();
    for i in 0..checked {
        let pattern = dataset.pattern(i).ok()?;
        values.extend(
            pattern
                .iter()
                .map(|&a| f64::from(a) * f64::from(a))
                .filter(|&v| v > 0.0),
        );
    }
    let quantum = values.iter().copied().fold(f64::INFINITY, f64::min);
    if !quantum.is_finite() {
        return None;
    }
    let whole = values.iter().all(|&v| {
        let counts = v / quantum;
        // √ in f32 keeps a² to about 1.2e-7 relative; the quantum as much again.
        (counts - counts.round()).abs() <= 1e-3 + 5e-7 * counts
    });
    whole.then_some(quantum)
}

/// Which method a scan's regime favours, by the measurements of `docs/regimes.md`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegimeAdvice {
    /// Photons per pattern, when known.
    pub photons: Option<f64>,
    /// The linear overlap, when measurable.
    pub overlap: Option<f64>,
    /// True when the network is expected to do better than ePIE.
    pub network_favoured: bool,
    /// One sentence for the user.
    pub text: String,
}

/// Photons per pattern at and below which the network was measured ahead of ePIE (phase
/// Pearson, dense random scans: +0.16 at 1e3, +0.06 at 1e4; `docs/regimes.md`).
pub const NETWORK_DOSE_LIMIT: f64 = 1e4;
/// Linear overlap below which the network was measured ahead of ePIE at a high dose (rasters
/// at 1e9 photons: +0.29 at 10 %, −0.02 at 20 %, −0.17 at 30 %; `docs/regimes.md`): midway
/// between the last point it led and the first it did not.
pub const NETWORK_OVERLAP_LIMIT: f64 = 0.15;

/// The advice for `dataset` (see [`RegimeAdvice`]).
pub fn advise(dataset: &Dataset) -> RegimeAdvice {
    let photons = photons_per_pattern(dataset);
    let overlap = linear_overlap(dataset.positions_px(), dataset.probe());
    let low_dose = photons.is_some_and(|p| p <= NETWORK_DOSE_LIMIT);
    let sparse = overlap.is_some_and(|o| o < NETWORK_OVERLAP_LIMIT);
    let dose_text = photons.map_or_else(
        || {
            "photons per pattern unknown (the amplitudes are not quantised as counts are)"
                .to_owned()
        },
        |p| format!("{p:.2e} photons per pattern"),
    );
    let overlap_text = overlap.map_or_else(
        || "overlap unknown".to_owned(),
        |o| format!("linear overlap {:.0} %", 100.0 * o),
    );
    let network_favoured = low_dose || sparse;
    let verdict = if network_favoured {
        let why = match (low_dose, sparse) {
            (true, true) => "low dose and sparse overlap",
            (true, false) => "low dose",
            _ => "sparse overlap",
        };
        format!("{why}: the network's regime (measured ahead of ePIE there)")
    } else if photons.is_some() && overlap.is_some() {
        "dense overlap at a high dose: ePIE is likely to give the sharper picture".to_owned()
    } else {
        "dense overlap: ePIE is likely to give the sharper picture unless the dose is low"
            .to_owned()
    };
    RegimeAdvice {
        photons,
        overlap,
        network_favoured,
        text: format!("{dose_text}, {overlap_text}: {verdict}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::simulate::{
        ScanPattern, SimulationConfig, default_probe, scan_positions, simulate_lines_scan,
    };

    #[test]
    fn the_default_probe_is_as_wide_as_its_disk() {
        // The §9 probe is a disk of radius σ√(2 ln 2) ≈ 10.9 px at N = 64.
        let d = probe_diameter_px(&default_probe(64)).unwrap();
        assert!((d - 21.8).abs() < 1.0, "diameter {d}");
    }

    #[test]
    fn a_raster_overlaps_as_its_step_says() {
        let probe = default_probe(64);
        let d = probe_diameter_px(&probe).unwrap();
        for overlap in [0.1, 0.4, 0.7] {
            let step = raster_step_px(overlap, d);
            let positions = scan_positions(ScanPattern::Raster { step_px: step }, 64, 300, 1);
            let measured = linear_overlap(&positions, &probe).unwrap();
            assert!(
                (measured - overlap).abs() < 1e-9,
                "{measured} for {overlap}"
            );
        }
        assert_eq!(linear_overlap(&[[1.0, 1.0]], &probe), None);
    }

    #[test]
    fn photons_are_read_from_the_counts_quantum() {
        let config = SimulationConfig {
            object_size: 128,
            nphotons: 1e3,
            ..SimulationConfig::default()
        };
        let scan = simulate_lines_scan(&config, ScanPattern::Random { count: 20 }, 3).unwrap();
        // The simulation stores √counts / s, as the reference's files do.
        let photons = photons_per_pattern(&scan.dataset).unwrap();
        let s2 = scan.intensity_scale * scan.intensity_scale;
        let counts = scan.dataset.mean_counts_per_pattern() * s2;
        assert!(
            (photons - counts).abs() < 1e-3 * counts,
            "{photons} against {counts}"
        );
        assert!((photons - 1e3).abs() < 100.0, "{photons}");
        // Scaled by a factor that is not a count: the quantum still reads it.
        let scaled = scan.dataset.diffraction().unwrap().mapv(|a| a * 3.7);
        let rescaled = Dataset::new(crate::data::DatasetParts {
            diffraction: scaled,
            positions_px: scan.dataset.positions_px().to_vec(),
            probe: scan.dataset.probe().clone(),
            object: None,
            scan_index: None,
        })
        .unwrap();
        let again = photons_per_pattern(&rescaled).unwrap();
        assert!((again - counts).abs() < 1e-3 * counts);
        assert!(
            advise(&rescaled).network_favoured,
            "{}",
            advise(&rescaled).text
        );
        // Smooth values (processed data) are not counts.
        let smooth = rescaled.diffraction().unwrap().mapv(|a| a + 0.123);
        let processed = Dataset::new(crate::data::DatasetParts {
            diffraction: smooth,
            positions_px: rescaled.positions_px().to_vec(),
            probe: rescaled.probe().clone(),
            object: None,
            scan_index: None,
        })
        .unwrap();
        assert_eq!(photons_per_pattern(&processed), None);
    }
}
