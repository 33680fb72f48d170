//! An HDF5 scan ([`crate::io::hdf5::RawScan`]) made into a [`Dataset`]: an N × N window cut
//! around the beam centre, bad pixels filled from their neighbours, √counts, positions in
//! object pixels from the geometry, and the probe from the file, a file the user names, or an
//! estimate from the data.

use std::path::Path;

use ndarray::Array2;
use num_complex::Complex32;

use super::dataset::SUPPORTED_N;
use super::frames::{FrameSink, default_memory_limit_bytes, default_spill_dir, human_bytes};
use super::hdf5_frames::{Cut, estimate_centre, survey};
use super::options::{Hdf5Options, LoadOptions, Loaded};
use super::product_file::read_product;
use super::sidecar::read_positions;
use super::{Dataset, DatasetError, PhysicalInfo};
use crate::fft::Fft2;
use crate::io::hdf5::{RawScan, ScanGeometry, read_scan};
use crate::io::schema::Layout;

/// hc in eV·m: λ = hc / E.
const HC_EV_M: f64 = 1.239_841_984e-6;

/// Loads an HDF5 scan (see the module's documentation). The frames are read twice, a block at
/// a time: once for the bad pixels and the beam centre, once for the patterns, which go into
/// memory when they fit under the memory ceiling and into a spill file when they do not.
/// Peak memory is the patterns kept (none when spilled) plus one block.
pub fn load_hdf5(path: &Path, options: &LoadOptions) -> Result<Loaded, DatasetError> {
    let h5 = &options.hdf5;
    let mut raw = read_scan(path, h5.data_path.as_deref())?;
    if let Some(object) = &h5.positions_path {
        raw.positions_m = Some(crate::io::hdf5::scan::read_positions(path, object)?);
        raw.notes.push(format!(
            "positions from {object} (metres; x = columns, y = rows)"
        ));
    }
    let mut notes = raw.notes.clone();
    let m = raw.frames.len();
    let (rows, cols) = raw.frames.frame_dim();
    notes.push(format!(
        "{m} frames of {rows} × {cols} from {}",
        raw.frames_from.join(", ")
    ));
    let geometry = ScanGeometry {
        energy_ev: h5.energy_ev.or(raw.geometry.energy_ev),
        distance_m: h5.distance_m.or(raw.geometry.distance_m),
        detector_pixel_m: h5
            .detector_pixel_m
            .map(|p| [p, p])
            .or(raw.geometry.detector_pixel_m),
        beam_center_px: raw.geometry.beam_center_px,
    };
    let n = pattern_size(h5.n, rows, cols, &mut notes)?;
    let survey = survey(&raw, &mut notes)?;
    let centre = geometry.beam_center_px.unwrap_or_else(|| {
        let c = estimate_centre(&survey.mean, &survey.bad);
        notes.push(format!(
            "beam centre estimated from the mean frame at column {:.1}, row {:.1}",
            c[0], c[1]
        ));
        c
    });
    let top = centre[1].round() as i64 - (n / 2) as i64;
    let left = centre[0].round() as i64 - (n / 2) as i64;
    if top != 0 || left != 0 || rows != n || cols != n {
        notes.push(format!(
            "patterns cut to {n} × {n} around the beam centre (rows {top}…{}, columns {left}…{}; \
             outside the frame is zero)",
            top + n as i64 - 1,
            left + n as i64 - 1
        ));
    }
    let cut = Cut::new(top, left, n, (rows, cols), &survey.bad);
    if !cut.bad.is_empty() {
        notes.push(format!(
            "{} bad pixels in the window filled with the mean of their good neighbours",
            cut.bad.len()
        ));
    }
    let sqrt = options.sqrt != Some(false);
    if sqrt {
        notes.push("detector counts taken as amplitudes: √counts".into());
    }
    let limit = options
        .memory_limit_bytes
        .unwrap_or_else(default_memory_limit_bytes);
    let spill_dir = options.spill_dir.clone().unwrap_or_else(default_spill_dir);
    let sink = FrameSink::new(m, n, limit, &spill_dir)?;
    let (frames, mean_power) = cut.prepare(&raw, sqrt, sink)?;
    if let Some(folder) = frames.spilled_to() {
        notes.push(format!(
            "the patterns ({}) are over the memory ceiling ({}): kept in a spill file in {} \
             and read as training and reconstruction need them",
            human_bytes(frames.bytes()),
            human_bytes(limit),
            folder.display()
        ));
    }
    let dataset = match &options.product {
        Some(path) if h5.positions.is_none() => {
            with_product(&read_product(path)?, path, frames, &mean_power, &mut notes)?
        }
        _ => {
            let pixel_m = object_pixel_m(&geometry, n);
            let positions_px = positions_px(&raw, h5, pixel_m, n, m, &mut notes)?;
            let probe = probe(&raw, h5, &mean_power, n, &mut notes)?;
            let mut dataset = Dataset::from_frames(frames, positions_px, probe, None, None)?;
            dataset.physical = PhysicalInfo {
                pixel_size_m: pixel_m.map(|p| p[0]),
                photon_energy_ev: geometry.energy_ev,
                detector_distance_m: geometry.distance_m,
            };
            dataset
        }
    };
    let probe_modes = vec![dataset.probe().clone()];
    Ok(Loaded {
        dataset,
        layout: Layout::Hdf5(raw.layout),
        notes,
        probe_modes,
    })
}

/// The scan with a ptychodus product's positions (matched to frames by its pattern indexes),
/// probe (when it is N × N; else the estimate), object and geometry, as for a ptychodus NPZ:
/// how ptychodus's own HDF5 pattern export (`/dp`) comes with its positions.
fn with_product(
    product: &crate::io::product::Product,
    path: &Path,
    frames: super::frames::Frames,
    mean_power: &Array2<f32>,
    notes: &mut Vec<String>,
) -> Result<Dataset, DatasetError> {
    let (m, n) = (frames.len(), frames.n());
    let rows: Vec<usize> = product
        .probe_position_indexes
        .iter()
        .map(|&i| {
            usize::try_from(i)
                .ok()
                .filter(|&i| i < m)
                .ok_or_else(|| DatasetError::CountMismatch {
                    key: format!("probe_position_indexes ({})", path.display()),
                    found: usize::try_from(i).unwrap_or(usize::MAX),
                    expected: m,
                })
        })
        .collect::<Result<_, _>>()?;
    let frames = if rows.iter().copied().eq(0..m) {
        frames
    } else {
        notes.push(format!(
            "{} of the {m} frames have a position in the product",
            rows.len()
        ));
        frames.select(&rows)
    };
    let probe = if product.probe.dim() == (n, n) {
        notes.push(format!(
            "positions and probe from the product {}",
            path.display()
        ));
        product.probe.clone()
    } else {
        notes.push(format!(
            "positions from the product {}; its probe is {:?}, the patterns {n} × {n}: the \
             probe is estimated from the mean pattern instead",
            path.display(),
            product.probe.dim()
        ));
        estimate_probe(mean_power)
    };
    let mut dataset = Dataset::from_frames(
        frames,
        product.positions_px(),
        probe,
        Some(product.object.clone()),
        None,
    )?;
    dataset.physical = super::product_file::physical_of(product);
    Ok(dataset)
}

fn input_error(message: impl Into<String>) -> DatasetError {
    DatasetError::ScanInput(message.into())
}

/// N: the user's, else the largest supported size that fits the frame (64 when none does).
fn pattern_size(
    asked: Option<usize>,
    rows: usize,
    cols: usize,
    notes: &mut Vec<String>,
) -> Result<usize, DatasetError> {
    if let Some(n) = asked {
        if !SUPPORTED_N.contains(&n) {
            return Err(input_error(format!(
                "pattern size {n} asked for: the network takes N in {SUPPORTED_N:?}"
            )));
        }
        return Ok(n);
    }
    let fits = SUPPORTED_N
        .iter()
        .copied()
        .filter(|&n| n <= rows.min(cols))
        .max();
    Ok(fits.unwrap_or_else(|| {
        notes.push(format!(
            "frames of {rows} × {cols} are smaller than the smallest pattern size: padded to 64 × 64"
        ));
        64
    }))
}

/// The object pixel `[x, y]` in metres, λ·z / (N·p), when the geometry is known.
fn object_pixel_m(geometry: &ScanGeometry, n: usize) -> Option<[f64; 2]> {
    let wavelength = HC_EV_M / geometry.energy_ev.filter(|e| *e > 0.0)?;
    let z = geometry.distance_m.filter(|z| *z > 0.0)?;
    let [px, py] = geometry
        .detector_pixel_m
        .filter(|p| p[0] > 0.0 && p[1] > 0.0)?;
    Some([
        wavelength * z / (n as f64 * px),
        wavelength * z / (n as f64 * py),
    ])
}

/// The positions in object pixels: from the sidecar file when given, else the file's own.
fn positions_px(
    raw: &RawScan,
    h5: &Hdf5Options,
    pixel_m: Option<[f64; 2]>,
    n: usize,
    m: usize,
    notes: &mut Vec<String>,
) -> Result<Vec<[f64; 2]>, DatasetError> {
    let (values, metres_per_unit, from) = if let Some(file) = &h5.positions {
        let sidecar = read_positions(file).map_err(input_error)?;
        (
            sidecar.values,
            sidecar.unit.metres(),
            file.display().to_string(),
        )
    } else if let Some(p) = &raw.positions_m {
        (p.clone(), Some(1.0), "the file".to_owned())
    } else {
        return Err(DatasetError::NoPositions);
    };
    if values.len() != m {
        return Err(DatasetError::CountMismatch {
            key: format!("positions ({from})"),
            found: values.len(),
            expected: m,
        });
    }
    let mut px: Vec<[f64; 2]> = match metres_per_unit {
        None => values,
        Some(scale) => {
            let pixel = pixel_m.ok_or_else(|| {
                input_error(format!(
                    "positions in {from} are in metres, but the object pixel size λz/(Np) needs \
                     the photon energy, the detector distance and the detector pixel size, and \
                     the file does not give them all: pass --energy-ev, --distance-m and \
                     --detector-pixel-m"
                ))
            })?;
            notes.push(format!(
                "positions from {from} converted to object pixels of {:.4e} m (λz/(Np))",
                pixel[0]
            ));
            values
                .iter()
                .map(|v| [v[0] * scale / pixel[0], v[1] * scale / pixel[1]])
                .collect()
        }
    };
    // Stage coordinates have an arbitrary origin: put the scan's corner at N/2.
    let min_x = px.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
    let min_y = px.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min);
    let half = (n / 2) as f64;
    if metres_per_unit.is_some() || min_x < half || min_y < half {
        let shift = [half - min_x, half - min_y];
        for p in &mut px {
            p[0] += shift[0];
            p[1] += shift[1];
        }
    }
    Ok(px)
}

/// The probe: the user's file, else the file's own (when it is N × N), else the estimate whose
/// far field is the mean pattern's amplitude (flat phase: a focused beam).
fn probe(
    raw: &RawScan,
    h5: &Hdf5Options,
    mean_power: &Array2<f32>,
    n: usize,
    notes: &mut Vec<String>,
) -> Result<Array2<Complex32>, DatasetError> {
    if let Some(file) = &h5.probe {
        let probe = read_probe_file(file)?;
        if probe.dim() != (n, n) {
            return Err(DatasetError::BadShape {
                key: format!("probe ({})", file.display()),
                found: probe.shape().to_vec(),
                expected: format!("({n}, {n}), the pattern size"),
            });
        }
        notes.push(format!("probe from {}", file.display()));
        return Ok(probe);
    }
    match &raw.probe {
        Some(p) if p.dim() == (n, n) => {
            notes.push("probe from the file".into());
            return Ok(p.clone());
        }
        Some(p) => notes.push(format!(
            "the file's probe is {:?}, the patterns {n} × {n}: not used",
            p.dim()
        )),
        None => {}
    }
    notes.push(
        "no probe in the file: starting from one estimated from the mean pattern (its far \
         field is the mean amplitude, flat phase); training refines it"
            .into(),
    );
    Ok(estimate_probe(mean_power))
}

/// The probe whose far field has the amplitude √(mean |pattern|²) and a flat phase, centred;
/// `mean_power` is the mean over patterns of amplitude², `[n, n]`, DC centred.
pub fn estimate_probe(mean_power: &Array2<f32>) -> Array2<Complex32> {
    let n = mean_power.nrows();
    let h = n / 2;
    // DC-centred → DC at the corner, as the FFT wants it.
    let mut spectrum = vec![Complex32::default(); n * n];
    for r in 0..n {
        for c in 0..n {
            let v = mean_power[((r + h) % n, (c + h) % n)].max(0.0).sqrt();
            spectrum[r * n + c] = Complex32::new(v, 0.0);
        }
    }
    Fft2::new(n, false).inverse(&mut spectrum);
    // Centre it in real space.
    Array2::from_shape_fn((n, n), |(r, c)| spectrum[((r + h) % n) * n + (c + h) % n])
}

/// A complex `(N, N)` probe from an NPY file, or an NPZ's `probe` / `probeGuess`.
pub fn read_probe_file(path: &Path) -> Result<Array2<Complex32>, DatasetError> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let array = if is_npy {
        let bytes = std::fs::read(path)
            .map_err(|e| input_error(format!("{}: cannot read the probe: {e}", path.display())))?;
        crate::io::npy::parse_npy(&bytes, "probe")?
    } else {
        let mut reader = crate::io::NpzReader::open(path)?;
        let key = ["probe", "probeGuess"]
            .into_iter()
            .find(|k| reader.contains(k))
            .ok_or_else(|| {
                input_error(format!(
                    "{}: no 'probe' or 'probeGuess' array for the probe",
                    path.display()
                ))
            })?;
        reader.read(key)?
    };
    let values = array.to_c32().ok_or_else(|| DatasetError::BadDtype {
        key: format!("probe ({})", path.display()),
        found: array.dtype.clone(),
        expected: "complex64 or complex128".into(),
    })?;
    crate::io::product::leading_plane(&values)
        .map(|(plane, _)| plane)
        .ok_or_else(|| DatasetError::BadShape {
            key: format!("probe ({})", path.display()),
            found: values.shape().to_vec(),
            expected: "(N, N) or (modes, N, N)".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimated_probe_has_the_mean_patterns_power() {
        let mut d = Array2::<f32>::zeros((64, 64));
        d[(32, 32)] = 9.0 / 2.0;
        d[(32, 33)] = 16.0 / 2.0;
        let p = estimate_probe(&d);
        let power: f32 = p.iter().map(num_complex::Complex::norm_sqr).sum();
        assert!((power - (9.0 + 16.0) / 2.0).abs() < 1e-3, "{power}");
    }

    #[test]
    fn object_pixel_from_the_geometry() {
        let g = ScanGeometry {
            energy_ev: Some(8000.0),
            distance_m: Some(2.0),
            detector_pixel_m: Some([75e-6, 75e-6]),
            beam_center_px: None,
        };
        let p = object_pixel_m(&g, 64).unwrap();
        assert!((p[0] - 6.4575e-8).abs() < 1e-11, "{p:?}");
        assert!(object_pixel_m(&ScanGeometry::default(), 64).is_none());
    }
}
