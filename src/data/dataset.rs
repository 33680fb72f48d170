//! The validated [`Dataset`]: what every reconstruction method takes.

use ndarray::{Array2, Array3, CowArray, Ix2, Ix3};
use num_complex::Complex32;

use super::DatasetError;
use super::frames::Frames;

/// Pattern sizes the network supports.
pub const SUPPORTED_N: [usize; 3] = [64, 128, 256];

/// A scan ready for reconstruction. Built only through [`Dataset::new`], which checks every
/// invariant, so code that holds a `Dataset` can rely on them:
/// - `diffraction` is `[m, n, n]`, n ∈ {64, 128, 256}, amplitudes (√counts), DC centred,
///   finite and ≥ 0, in memory or, for a scan over the memory ceiling, in a spill file
///   ([`Frames`]);
/// - `positions_px` has m entries `[x, y]` (x = column, y = row, object pixels), finite;
/// - `probe` is `[n, n]`, finite; `object`, when present, is finite.
#[derive(Debug, Clone)]
pub struct Dataset {
    diffraction: Frames,
    positions_px: Vec<[f64; 2]>,
    probe: Array2<Complex32>,
    object: Option<Array2<Complex32>>,
    scan_index: Vec<i64>,
    /// Optional physical description (from ptychodus files, or set by the user).
    pub physical: PhysicalInfo,
    /// Free-form provenance (the file's `metadata` string, if any).
    pub metadata: Option<String>,
}

/// Physical sizes, when a file states them.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PhysicalInfo {
    /// Object pixel size, metres.
    pub pixel_size_m: Option<f64>,
    /// Photon energy, electron-volts.
    pub photon_energy_ev: Option<f64>,
    /// Detector–object distance, metres.
    pub detector_distance_m: Option<f64>,
}

/// The parts a [`Dataset`] is made of, before validation.
#[derive(Debug, Clone)]
pub struct DatasetParts {
    /// `[m, n, n]` amplitudes, DC centred.
    pub diffraction: Array3<f32>,
    /// `[x, y]` patch centres in object pixels.
    pub positions_px: Vec<[f64; 2]>,
    /// `[n, n]` probe on the object pixel grid.
    pub probe: Array2<Complex32>,
    /// Ground truth or reference object.
    pub object: Option<Array2<Complex32>>,
    /// Scan index per pattern (zeros when absent).
    pub scan_index: Option<Vec<i64>>,
}

fn check_finite<'a>(
    key: &str,
    mut values: impl Iterator<Item = &'a f32>,
) -> Result<(), DatasetError> {
    match values.position(|v| !v.is_finite()) {
        Some(index) => Err(DatasetError::NonFinite {
            key: key.to_owned(),
            index,
        }),
        None => Ok(()),
    }
}

fn complex_parts(a: &Array2<Complex32>) -> impl Iterator<Item = &f32> {
    a.iter().flat_map(|c| [&c.re, &c.im])
}

/// The pattern stack must be `[m, n, n]` with m > 0 and n a supported size.
fn check_pattern_shape(m: usize, rows: usize, cols: usize) -> Result<(), DatasetError> {
    if rows != cols || !SUPPORTED_N.contains(&rows) {
        return Err(DatasetError::BadShape {
            key: "diffraction".into(),
            found: vec![m, rows, cols],
            expected: "(M, N, N) with N in {64, 128, 256}".into(),
        });
    }
    if m == 0 {
        return Err(DatasetError::Empty);
    }
    Ok(())
}

impl Dataset {
    /// Validates the parts and builds a dataset; errors name the key and the shapes.
    pub fn new(parts: DatasetParts) -> Result<Self, DatasetError> {
        let DatasetParts {
            diffraction,
            positions_px,
            probe,
            object,
            scan_index,
        } = parts;
        let (m, rows, cols) = diffraction.dim();
        check_pattern_shape(m, rows, cols)?;
        check_finite("diffraction", diffraction.iter())?;
        if let Some(index) = diffraction.iter().position(|&v| v < 0.0) {
            return Err(DatasetError::Negative {
                key: "diffraction".into(),
                index,
            });
        }
        Self::from_frames(
            Frames::in_memory(diffraction),
            positions_px,
            probe,
            object,
            scan_index,
        )
    }

    /// A dataset on [`Frames`] already checked (finite, ≥ 0, as [`Frames`] writers check them),
    /// e.g. a scan spilled to disk; the rest is validated as by [`Dataset::new`].
    pub fn from_frames(
        diffraction: Frames,
        positions_px: Vec<[f64; 2]>,
        probe: Array2<Complex32>,
        object: Option<Array2<Complex32>>,
        scan_index: Option<Vec<i64>>,
    ) -> Result<Self, DatasetError> {
        let (m, n) = (diffraction.len(), diffraction.n());
        check_pattern_shape(m, n, n)?;
        if positions_px.len() != m {
            return Err(DatasetError::CountMismatch {
                key: "xcoords/ycoords".into(),
                found: positions_px.len(),
                expected: m,
            });
        }
        if probe.dim() != (n, n) {
            return Err(DatasetError::BadShape {
                key: "probe".into(),
                found: probe.shape().to_vec(),
                expected: format!("({n}, {n}), the pattern size"),
            });
        }
        if let Some(index) = positions_px
            .iter()
            .position(|p| !p[0].is_finite() || !p[1].is_finite())
        {
            return Err(DatasetError::NonFinite {
                key: "xcoords/ycoords".into(),
                index,
            });
        }
        check_finite("probe", complex_parts(&probe))?;
        if let Some(object) = &object {
            check_finite("object", complex_parts(object))?;
            if object.is_empty() {
                return Err(DatasetError::BadShape {
                    key: "object".into(),
                    found: object.shape().to_vec(),
                    expected: "(H, W) with H, W > 0".into(),
                });
            }
        }
        let scan_index = scan_index.unwrap_or_else(|| vec![0; m]);
        if scan_index.len() != m {
            return Err(DatasetError::CountMismatch {
                key: "scan_index".into(),
                found: scan_index.len(),
                expected: m,
            });
        }
        Ok(Self {
            diffraction,
            positions_px,
            probe,
            object,
            scan_index,
            physical: PhysicalInfo::default(),
            metadata: None,
        })
    }

    /// Pattern size N.
    pub fn n(&self) -> usize {
        self.diffraction.n()
    }

    /// Number of patterns M.
    pub fn len(&self) -> usize {
        self.diffraction.len()
    }

    /// Always false: a dataset holds at least one pattern.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[m, n, n]` diffraction amplitudes (√counts), DC centred: a view when they are in
    /// memory, every pattern read when spilled (check [`Frames::spilled_to`] first where the
    /// scan may not fit in memory).
    pub fn diffraction(&self) -> Result<CowArray<'_, f32, Ix3>, DatasetError> {
        self.diffraction.all()
    }

    /// Where the patterns are held, pattern by pattern.
    pub fn frames(&self) -> &Frames {
        &self.diffraction
    }

    /// Pattern `i`, `[n, n]` (read from the spill file when the scan is on disk).
    pub fn pattern(&self, i: usize) -> Result<CowArray<'_, f32, Ix2>, DatasetError> {
        self.diffraction.pattern(i)
    }

    /// Patch centres `[x, y]` in object pixels (x = column, y = row).
    pub fn positions_px(&self) -> &[[f64; 2]] {
        &self.positions_px
    }

    /// The probe, `[n, n]`.
    pub fn probe(&self) -> &Array2<Complex32> {
        &self.probe
    }

    /// The ground-truth or reference object, when the file has one.
    pub fn object(&self) -> Option<&Array2<Complex32>> {
        self.object.as_ref()
    }

    /// Scan index per pattern.
    pub fn scan_index(&self) -> &[i64] {
        &self.scan_index
    }

    /// Mean photon count per pattern, Σ amplitude² averaged over patterns (meaningful when the
    /// amplitudes are √counts).
    pub fn mean_counts_per_pattern(&self) -> f64 {
        self.diffraction.energies().iter().sum::<f64>() / self.len() as f64
    }

    /// Scan extent `[min_x, max_x, min_y, max_y]` of the patch centres, object pixels.
    pub fn scan_extent_px(&self) -> [f64; 4] {
        // Positions are validated finite and non-empty, so the box exists.
        crate::geometry::bounding_box(&self.positions_px).unwrap_or([0.0; 4])
    }

    /// A new dataset holding the patterns at `indices`, in that order (same probe and object).
    pub fn subset(&self, indices: &[usize]) -> Result<Self, DatasetError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(DatasetError::CountMismatch {
                key: "subset index".into(),
                found: bad,
                expected: self.len(),
            });
        }
        let mut out = Self::from_frames(
            self.diffraction.select(indices),
            indices.iter().map(|&i| self.positions_px[i]).collect(),
            self.probe.clone(),
            self.object.clone(),
            Some(indices.iter().map(|&i| self.scan_index[i]).collect()),
        )?;
        out.physical = self.physical;
        out.metadata.clone_from(&self.metadata);
        Ok(out)
    }

    /// The same scan with another probe (e.g. one refined by ePIE); the probe must be N × N and
    /// finite.
    pub fn with_probe(&self, probe: Array2<Complex32>) -> Result<Self, DatasetError> {
        let mut out = Self::from_frames(
            self.diffraction.clone(),
            self.positions_px.clone(),
            probe,
            self.object.clone(),
            Some(self.scan_index.clone()),
        )?;
        out.physical = self.physical;
        out.metadata.clone_from(&self.metadata);
        Ok(out)
    }

    /// The same scan at other positions (e.g. refined ones); one finite `[x, y]` per pattern.
    pub fn with_positions(&self, positions_px: Vec<[f64; 2]>) -> Result<Self, DatasetError> {
        let mut out = Self::from_frames(
            self.diffraction.clone(),
            positions_px,
            self.probe.clone(),
            self.object.clone(),
            Some(self.scan_index.clone()),
        )?;
        out.physical = self.physical;
        out.metadata.clone_from(&self.metadata);
        Ok(out)
    }

    /// Splits into (train, test) with `test_fraction` of the patterns drawn at random (seeded)
    /// for test; each part keeps the original order. At least one pattern goes to each side
    /// when the dataset has two or more.
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Self, Self), DatasetError> {
        let (train, test) = split_indices(self.len(), test_fraction, seed)?;
        Ok((self.subset(&train)?, self.subset(&test)?))
    }
}

/// Seeded random split of `0..m` into (train, test) index lists, each sorted.
pub fn split_indices(
    m: usize,
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DatasetError> {
    use rand::SeedableRng;
    use rand::seq::index::sample;
    if !(0.0..1.0).contains(&test_fraction) || m < 2 {
        return Err(DatasetError::BadSplit {
            fraction: test_fraction,
            patterns: m,
        });
    }
    let n_test = ((m as f64 * test_fraction).round() as usize).clamp(1, m - 1);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut is_test = vec![false; m];
    for i in sample(&mut rng, m, n_test) {
        is_test[i] = true;
    }
    let (test, train): (Vec<usize>, Vec<usize>) = (0..m).partition(|&i| is_test[i]);
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(m: usize) -> DatasetParts {
        DatasetParts {
            diffraction: Array3::ones((m, 64, 64)),
            positions_px: (0..m).map(|i| [i as f64, 0.0]).collect(),
            probe: Array2::from_elem((64, 64), Complex32::new(1.0, 0.0)),
            object: None,
            scan_index: None,
        }
    }

    #[test]
    fn rejects_bad_parts_with_names() {
        let mut p = tiny(3);
        p.positions_px.pop();
        let err = Dataset::new(p).unwrap_err().to_string();
        assert!(
            err.contains("xcoords") && err.contains('2') && err.contains('3'),
            "{err}"
        );

        let mut p = tiny(3);
        p.diffraction[[1, 2, 3]] = f32::NAN;
        assert!(matches!(
            Dataset::new(p),
            Err(DatasetError::NonFinite { .. })
        ));

        let mut p = tiny(3);
        p.diffraction = Array3::ones((3, 60, 60));
        let err = Dataset::new(p).unwrap_err().to_string();
        assert!(
            err.contains("[3, 60, 60]") && err.contains("64, 128, 256"),
            "{err}"
        );
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let (a, b) = split_indices(100, 0.2, 7).unwrap();
        assert_eq!((a.len(), b.len()), (80, 20));
        let mut all: Vec<_> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(split_indices(100, 0.2, 7).unwrap().1, b);
        assert_ne!(split_indices(100, 0.2, 8).unwrap().1, b);
        let ds = Dataset::new(tiny(10)).unwrap();
        let (train, test) = ds.split(0.3, 1).unwrap();
        assert_eq!((train.len(), test.len()), (7, 3));
    }
}
