//! What a file holds, in words and numbers: layout, each array's shape, dtype and value range,
//! the dataset it makes (or why it makes none), and the warnings. Used by `inspect` and the
//! GUI's dataset pane.

use std::path::Path;

use super::DatasetError;
use super::load::{LoadOptions, load};
use crate::io::npy::{NpyArray, NpyData};
use crate::io::schema::Layout;
use crate::io::{NpzError, NpzReader};

/// One array of the file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ArrayInfo {
    /// Key (without `.npy`).
    pub key: String,
    /// Shape, when the header could be read.
    pub shape: Option<Vec<usize>>,
    /// dtype descriptor, e.g. `<f4`.
    pub dtype: Option<String>,
    /// Smallest value (of the modulus for complex arrays).
    pub min: Option<f64>,
    /// Largest value (of the modulus for complex arrays).
    pub max: Option<f64>,
    /// Mean value (of the modulus for complex arrays).
    pub mean: Option<f64>,
    /// Non-finite values found.
    pub non_finite: usize,
    /// The text of a string array (cut to 200 characters).
    pub text: Option<String>,
    /// Why the array could not be read.
    pub error: Option<String>,
}

/// The dataset a file makes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetSummary {
    /// Pattern size N.
    pub n: usize,
    /// Number of patterns M.
    pub patterns: usize,
    /// `[min_x, max_x, min_y, max_y]` of the patch centres, object pixels.
    pub scan_extent_px: [f64; 4],
    /// Mean Σ amplitude² per pattern (photons, when amplitudes are √counts).
    pub mean_counts_per_pattern: f64,
    /// Σ|P|² of the probe.
    pub probe_power: f64,
    /// Shape of the ground-truth object, if any.
    pub object_shape: Option<[usize; 2]>,
    /// Photons, overlap, and which method the regime favours.
    pub regime: super::regime::RegimeAdvice,
}

/// Everything `inspect` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InspectReport {
    /// The file.
    pub file: String,
    /// The layout detected, in words.
    pub layout: Option<String>,
    /// Every array, in file order.
    pub arrays: Vec<ArrayInfo>,
    /// The dataset, when the file makes one with the options given.
    pub dataset: Option<DatasetSummary>,
    /// Conversions the loader made.
    pub notes: Vec<String>,
    /// Problems, each with the flag or fix it needs where there is one.
    pub warnings: Vec<String>,
}

fn describe(key: &str, result: Result<NpyArray, NpzError>) -> ArrayInfo {
    let mut info = ArrayInfo {
        key: key.to_owned(),
        shape: None,
        dtype: None,
        min: None,
        max: None,
        mean: None,
        non_finite: 0,
        text: None,
        error: None,
    };
    let array = match result {
        Ok(a) => a,
        Err(e) => {
            info.error = Some(e.to_string());
            return info;
        }
    };
    info.shape = Some(array.shape().to_vec());
    info.dtype = Some(array.dtype.clone());
    let values: Option<Vec<f64>> = match &array.data {
        NpyData::Str(a) => {
            info.text = a.iter().next().map(|s| s.chars().take(200).collect());
            None
        }
        NpyData::C64(a) => Some(a.iter().map(|c| f64::from(c.norm())).collect()),
        NpyData::C128(a) => Some(a.iter().map(|c| c.norm()).collect()),
        _ => array.to_f64().map(|a| a.iter().copied().collect()),
    };
    if let Some(values) = values {
        info.non_finite = values.iter().filter(|v| !v.is_finite()).count();
        let finite: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        if !finite.is_empty() {
            info.min = finite.iter().copied().reduce(f64::min);
            info.max = finite.iter().copied().reduce(f64::max);
            info.mean = Some(finite.iter().sum::<f64>() / finite.len() as f64);
        }
    }
    info
}

impl InspectReport {
    /// Reads every array of `path` (every dataset of an HDF5 file) and tries to load it as a
    /// dataset with `options`. Fails only when the file is not a readable NPZ or HDF5 file at
    /// all; everything else becomes a warning.
    pub fn build(path: &Path, options: &LoadOptions) -> Result<Self, DatasetError> {
        if crate::io::hdf5::is_hdf5(path) {
            return Ok(Self::build_hdf5(path, options)?);
        }
        let mut reader = NpzReader::open(path)?;
        let keys = reader.keys().to_vec();
        let arrays: Vec<ArrayInfo> = keys.iter().map(|k| describe(k, reader.read(k))).collect();
        let layout = Layout::detect(&keys);
        let mut warnings: Vec<String> = arrays
            .iter()
            .filter_map(|a| {
                a.error
                    .as_ref()
                    .map(|e| format!("cannot read '{}': {e}", a.key))
            })
            .collect();
        for a in arrays.iter().filter(|a| a.non_finite > 0) {
            warnings.push(format!(
                "'{}' holds {} non-finite values (NaN or infinity)",
                a.key, a.non_finite
            ));
        }
        let (dataset, notes) = summarise(path, options, layout, &mut warnings);
        Ok(Self {
            file: path.display().to_string(),
            layout: layout.map(|l| l.describe().to_owned()),
            arrays,
            dataset,
            notes,
            warnings,
        })
    }
}

impl InspectReport {
    /// The HDF5 file's tree (each dataset's shape and type, and why one cannot be opened) and
    /// the scan it makes.
    fn build_hdf5(path: &Path, options: &LoadOptions) -> Result<Self, crate::io::hdf5::Hdf5Error> {
        let file = crate::io::hdf5::open(path)?;
        let nodes = crate::io::hdf5::list_tree(&file);
        let mut warnings: Vec<String> = nodes
            .iter()
            .filter_map(|n| {
                n.problem
                    .as_ref()
                    .map(|p| format!("cannot open {}: {p}", n.path))
            })
            .collect();
        let arrays = nodes
            .into_iter()
            .filter(|n| n.shape.is_some() || n.problem.is_some())
            .map(|n| ArrayInfo {
                key: n.path,
                dtype: n.shape.as_ref().map(|_| n.dtype.clone()),
                shape: n.shape,
                min: None,
                max: None,
                mean: None,
                non_finite: 0,
                text: None,
                error: n.problem,
            })
            .collect();
        drop(file);
        let (dataset, notes, layout) = match load(path, options) {
            Ok(loaded) => {
                let layout = loaded.layout.describe().to_owned();
                (
                    Some(summary_of(&loaded.dataset)),
                    loaded.notes,
                    Some(layout),
                )
            }
            Err(e) => {
                warnings.push(format!("not loadable as a scan: {e}"));
                (None, Vec::new(), None)
            }
        };
        Ok(Self {
            file: path.display().to_string(),
            layout,
            arrays,
            dataset,
            notes,
            warnings,
        })
    }
}

fn summary_of(ds: &super::Dataset) -> DatasetSummary {
    DatasetSummary {
        n: ds.n(),
        patterns: ds.len(),
        scan_extent_px: ds.scan_extent_px(),
        mean_counts_per_pattern: ds.mean_counts_per_pattern(),
        probe_power: ds.probe().iter().map(|c| f64::from(c.norm_sqr())).sum(),
        object_shape: ds.object().map(|o| [o.nrows(), o.ncols()]),
        regime: super::regime::advise(ds),
    }
}

/// The dataset `path` makes with `options` and the loader's notes, or the problem as a warning.
fn summarise(
    path: &Path,
    options: &LoadOptions,
    layout: Option<Layout>,
    warnings: &mut Vec<String>,
) -> (Option<DatasetSummary>, Vec<String>) {
    match load(path, options) {
        Ok(loaded) => (Some(summary_of(&loaded.dataset)), loaded.notes),
        Err(e) => {
            warnings.push(short_problem(&e, layout));
            (None, Vec::new())
        }
    }
}

/// The loader's error phrased for the report, naming the flag that fixes it.
fn short_problem(error: &DatasetError, layout: Option<Layout>) -> String {
    let key = layout
        .and_then(Layout::diffraction_key)
        .unwrap_or("diffraction");
    match error {
        DatasetError::LooksLikeIntensity { evidence, .. } => {
            format!("{key} looks like intensity: pass --sqrt ({evidence})")
        }
        DatasetError::DcAtCorner { evidence, .. } => {
            format!("{key} has DC at the corner: pass --fftshift ({evidence})")
        }
        other => format!("not loadable as a scan: {other}"),
    }
}
