//! Loading a scan from any layout we know into a validated [`Dataset`], with notes on every
//! conversion made.

use std::path::Path;

use ndarray::{Array2, Array3, ArrayD, Axis, Ix2, Ix3};
use num_complex::Complex32;

use super::dataset::SUPPORTED_N;
use super::detect::{dc_corner_evidence, fftshift_stack, intensity_evidence};
use super::{Dataset, DatasetError, DatasetParts};
use crate::io::NpzReader;
use crate::io::npy::NpyArray;
use crate::io::product::Product;
use crate::io::schema::Layout;

pub use super::options::{LoadOptions, Loaded};

/// Loads a scan: PtychoPINN raw or canonical NPZ, a ptychodus diffraction NPZ with its
/// product file (`options.product`), or an HDF5 file (CXI, Eiger/NeXus master, a stack; see
/// [`super::hdf5_scan`]).
pub fn load(path: &Path, options: &LoadOptions) -> Result<Loaded, DatasetError> {
    if crate::io::hdf5::is_hdf5(path) {
        return super::hdf5_scan::load_hdf5(path, options);
    }
    let mut reader = NpzReader::open(path)?;
    let layout = Layout::detect(reader.keys()).ok_or_else(|| DatasetError::UnknownLayout {
        keys: reader.keys().to_vec(),
    })?;
    let mut notes = Vec::new();
    let mut probe_modes = Vec::new();
    let dataset = match layout {
        Layout::PinnRaw | Layout::PinnCanonical => {
            load_pinn(&mut reader, layout, options, &mut notes, &mut probe_modes)?
        }
        Layout::PtychodusDiffraction => {
            let product = options
                .product
                .as_deref()
                .ok_or(DatasetError::NeedsProduct)?;
            load_ptychodus(
                &mut reader,
                &super::product_file::read_product(product)?,
                options,
                &mut notes,
            )?
        }
        Layout::PtychodusProduct => return Err(DatasetError::ProductIsNotAScan),
        // Detected by signature before the NPZ is opened; never a key layout.
        Layout::Hdf5(_) => return super::hdf5_scan::load_hdf5(path, options),
    };
    if probe_modes.is_empty() {
        probe_modes.push(dataset.probe().clone());
    }
    Ok(Loaded {
        dataset,
        layout,
        notes,
        probe_modes,
    })
}

fn bad_shape(key: &str, found: &[usize], expected: impl Into<String>) -> DatasetError {
    DatasetError::BadShape {
        key: key.to_owned(),
        found: found.to_vec(),
        expected: expected.into(),
    }
}

fn vector_f64(array: &NpyArray, key: &str) -> Result<Vec<f64>, DatasetError> {
    if array.shape().len() != 1 {
        return Err(bad_shape(key, array.shape(), "(M,), one value per pattern"));
    }
    let values = array.to_f64().ok_or_else(|| DatasetError::BadDtype {
        key: key.to_owned(),
        found: array.dtype.clone(),
        expected: "a real number type".into(),
    })?;
    Ok(values.iter().copied().collect())
}

/// The probe: (N, N), or a (P, N, N) mode stack of which mode 0 is taken; every mode goes to
/// `modes`.
fn probe_from(
    array: &NpyArray,
    key: &str,
    notes: &mut Vec<String>,
    modes: &mut Vec<Array2<Complex32>>,
) -> Result<Array2<Complex32>, DatasetError> {
    let values = array.to_c32().ok_or_else(|| DatasetError::BadDtype {
        key: key.to_owned(),
        found: array.dtype.clone(),
        expected: "complex64 or complex128".into(),
    })?;
    if !array.is_complex() {
        notes.push(format!(
            "'{key}' is real ({}): taken as a real probe",
            array.dtype
        ));
    }
    let shape = values.shape().to_vec();
    let plane = match shape.len() {
        2 => values,
        3 if shape[0] >= 1 => {
            if shape[0] > 1 {
                notes.push(format!(
                    "'{key}' holds {} probe modes: using mode 0 only",
                    shape[0]
                ));
            }
            if let Ok(stack) = values.clone().into_dimensionality::<Ix3>() {
                modes.extend(stack.outer_iter().map(|m| m.to_owned()));
            }
            values.index_axis_move(Axis(0), 0)
        }
        _ => return Err(bad_shape(key, &shape, "(N, N) or (modes, N, N)")),
    };
    plane
        .into_dimensionality::<Ix2>()
        .map_err(|_| bad_shape(key, &shape, "(N, N)"))
}

/// Turns a raw stack into `[m, n, n]` f32 amplitudes with DC centred, applying or asking for
/// the conversions. `counts_by_contract`: the format defines the values as counts.
fn prepare_stack(
    array: &NpyArray,
    key: &str,
    m_expected: usize,
    probe: Option<&Array2<Complex32>>,
    counts_by_contract: bool,
    options: &LoadOptions,
    notes: &mut Vec<String>,
) -> Result<Array3<f32>, DatasetError> {
    let shape = array.shape().to_vec();
    let expected = format!("(M, N, N) or (N, N, M) with M = {m_expected} and N in {SUPPORTED_N:?}");
    if shape.len() != 3 {
        return Err(bad_shape(key, &shape, expected));
    }
    let values: ArrayD<f32> = array.to_f32().ok_or_else(|| DatasetError::BadDtype {
        key: key.to_owned(),
        found: array.dtype.clone(),
        expected: "a real number type (float32, float64 or integer counts)".into(),
    })?;
    let mut stack = values
        .into_dimensionality::<Ix3>()
        .map_err(|_| bad_shape(key, &shape, expected.clone()))?;
    let (a, b, c) = stack.dim();
    if a == m_expected && b == c {
        // (M, N, N): as it should be.
    } else if c == m_expected && a == b {
        stack = stack
            .permuted_axes([2, 0, 1])
            .as_standard_layout()
            .into_owned();
        notes.push(format!(
            "'{key}' stored as (N, N, M) = {shape:?}: transposed to (M, N, N)"
        ));
    } else {
        return Err(bad_shape(key, &shape, expected));
    }
    let n = stack.dim().1;
    if !SUPPORTED_N.contains(&n) {
        return Err(bad_shape(key, &shape, expected));
    }
    if let Some(index) = stack.iter().position(|v| !v.is_finite()) {
        return Err(DatasetError::NonFinite {
            key: key.to_owned(),
            index,
        });
    }

    let evidence = if counts_by_contract {
        Some("ptychodus diffraction files hold detector counts".to_owned())
    } else if array.is_integer() {
        Some(format!(
            "its dtype is {}, as raw detector counts are",
            array.dtype
        ))
    } else {
        intensity_evidence(&stack, probe)
    };
    let take_sqrt = match (options.sqrt, &evidence) {
        (Some(choice), _) => choice,
        (None, Some(_)) if counts_by_contract => true,
        (None, Some(evidence)) => {
            return Err(DatasetError::LooksLikeIntensity {
                key: key.to_owned(),
                evidence: evidence.clone(),
            });
        }
        (None, None) => false,
    };
    if take_sqrt {
        let negative = stack.iter().filter(|&&v| v < 0.0).count();
        if negative > 0 {
            notes.push(format!(
                "'{key}': {negative} negative counts set to 0 before the square root"
            ));
        }
        stack.mapv_inplace(|v| v.max(0.0).sqrt());
        notes.push(format!(
            "'{key}' converted from counts to amplitude (square root)"
        ));
    }

    let dc = dc_corner_evidence(&stack);
    let shift = match (options.fftshift, &dc) {
        (Some(choice), _) => choice,
        (None, Some(evidence)) => {
            return Err(DatasetError::DcAtCorner {
                key: key.to_owned(),
                evidence: evidence.clone(),
            });
        }
        (None, None) => false,
    };
    if shift {
        fftshift_stack(&mut stack);
        notes.push(format!(
            "'{key}' fftshifted: DC moved from the corner to the centre"
        ));
    }
    Ok(stack)
}

fn load_pinn(
    reader: &mut NpzReader,
    layout: Layout,
    options: &LoadOptions,
    notes: &mut Vec<String>,
    modes: &mut Vec<Array2<Complex32>>,
) -> Result<Dataset, DatasetError> {
    let key = layout.diffraction_key().unwrap_or("diff3d");
    let xs = vector_f64(&reader.read("xcoords")?, "xcoords")?;
    let ys = vector_f64(&reader.read("ycoords")?, "ycoords")?;
    if ys.len() != xs.len() {
        return Err(DatasetError::CountMismatch {
            key: "ycoords".into(),
            found: ys.len(),
            expected: xs.len(),
        });
    }
    let probe = probe_from(&reader.read("probeGuess")?, "probeGuess", notes, modes)?;
    let raw = reader.read(key)?;
    let diffraction = prepare_stack(&raw, key, xs.len(), Some(&probe), false, options, notes)?;
    let object = match reader.read_optional("objectGuess")? {
        Some(array) => {
            let values = array.to_c32().ok_or_else(|| DatasetError::BadDtype {
                key: "objectGuess".into(),
                found: array.dtype.clone(),
                expected: "complex64 or complex128".into(),
            })?;
            Some(
                values
                    .into_dimensionality::<Ix2>()
                    .map_err(|_| bad_shape("objectGuess", array.shape(), "(H, W)"))?,
            )
        }
        None => None,
    };
    let scan_index = match reader.read_optional("scan_index")? {
        Some(array) => Some(
            array
                .to_i64()
                .filter(|a| a.ndim() == 1)
                .map(|a| a.iter().copied().collect())
                .ok_or_else(|| bad_shape("scan_index", array.shape(), "(M,) integers"))?,
        ),
        None => None,
    };
    let metadata = reader
        .read_optional("metadata")?
        .and_then(|a| a.as_scalar_str().map(str::to_owned));
    let mut dataset = Dataset::new(DatasetParts {
        diffraction,
        positions_px: xs.into_iter().zip(ys).map(|(x, y)| [x, y]).collect(),
        probe,
        object,
        scan_index,
    })
    .map_err(|e| rename_probe(e, "probeGuess"))?;
    dataset.metadata = metadata;
    Ok(dataset)
}

/// Errors about the probe name the file's own key.
fn rename_probe(error: DatasetError, key: &str) -> DatasetError {
    match error {
        DatasetError::BadShape {
            key: k,
            found,
            expected,
        } if k == "probe" => DatasetError::BadShape {
            key: key.to_owned(),
            found,
            expected,
        },
        other => other,
    }
}

fn load_ptychodus(
    reader: &mut NpzReader,
    product: &Product,
    options: &LoadOptions,
    notes: &mut Vec<String>,
) -> Result<Dataset, DatasetError> {
    let raw = reader.read("patterns")?;
    let m_patterns = raw.shape().first().copied().unwrap_or(0);
    let indexes: Vec<i64> = match reader.read_optional("indexes")? {
        Some(a) => a
            .to_i64()
            .filter(|v| v.ndim() == 1)
            .map(|v| v.iter().copied().collect())
            .ok_or_else(|| bad_shape("indexes", a.shape(), "(n,) integers"))?,
        None => (0..m_patterns as i64).collect(),
    };
    let patterns = prepare_stack(
        &raw,
        "patterns",
        indexes.len(),
        Some(&product.probe),
        true,
        options,
        notes,
    )?;
    if reader.contains("bad_pixels") {
        notes.push(
            "'bad_pixels' present: those pixels are kept as measured (not masked yet)".into(),
        );
    }
    // One pattern per product position, matched by pattern index.
    let rows: Vec<usize> = product
        .probe_position_indexes
        .iter()
        .map(|idx| {
            indexes
                .iter()
                .position(|i| i == idx)
                .ok_or_else(|| DatasetError::CountMismatch {
                    key: "probe_position_indexes".into(),
                    found: usize::try_from(*idx).unwrap_or(usize::MAX),
                    expected: indexes.len(),
                })
        })
        .collect::<Result<_, _>>()?;
    let diffraction = patterns.select(Axis(0), &rows);
    if product.probe_modes_in_file > 1 {
        notes.push(format!(
            "the product's probe holds {} modes: using mode 0 only",
            product.probe_modes_in_file
        ));
    }
    notes.push(format!(
        "positions converted from metres to object pixels ({:.3e} m per pixel)",
        product.object_pixel_width_m
    ));
    let mut dataset = Dataset::new(DatasetParts {
        diffraction,
        positions_px: product.positions_px(),
        probe: product.probe.clone(),
        object: Some(product.object.clone()),
        scan_index: None,
    })?;
    dataset.physical = super::product_file::physical_of(product);
    Ok(dataset)
}
