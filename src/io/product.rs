//! ptychodus 1.7 product NPZ files (probe, object, positions in metres), read and written as
//! `../shared/design/formats.md` describes.

use std::path::Path;

use ndarray::{Array1, Array2, ArrayD, Axis, Ix2};
use num_complex::Complex32;

use super::npy::NpyArray;
use super::npz::{NpzError, NpzReader, NpzWriter};

/// A ptychodus product: a reconstruction with its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// Free name (`name`).
    pub name: String,
    /// Free comments (`comments`).
    pub comments: String,
    /// Photon energy, eV (`photon_energy_eV`, older files `probe_energy_eV`).
    pub photon_energy_ev: f64,
    /// Detector–object distance, metres.
    pub detector_object_distance_m: f64,
    /// Object pixel width, metres.
    pub object_pixel_width_m: f64,
    /// Object pixel height, metres.
    pub object_pixel_height_m: f64,
    /// Object centre x, metres, in the positions' frame.
    pub object_center_x_m: f64,
    /// Object centre y, metres.
    pub object_center_y_m: f64,
    /// The probe, `[h, w]` (the first mode of a mode stack).
    pub probe: Array2<Complex32>,
    /// Number of probe modes the file held (only the first is kept).
    pub probe_modes_in_file: usize,
    /// The object, `[h, w]` (the first layer).
    pub object: Array2<Complex32>,
    /// Pattern index of each position.
    pub probe_position_indexes: Vec<i64>,
    /// Positions `[x, y]`, metres.
    pub probe_positions_m: Vec<[f64; 2]>,
    /// Training loss per epoch, if any.
    pub loss_values: Vec<f64>,
}

fn bad_shape(key: &str, found: &[usize], expected: &str) -> NpzError {
    NpzError::BadHeader {
        key: key.to_owned(),
        reason: format!("shape {found:?}, expected {expected}"),
    }
}

fn scalar(reader: &mut NpzReader, keys: &[&str]) -> Result<f64, NpzError> {
    let key = keys
        .iter()
        .find(|k| reader.contains(k))
        .ok_or_else(|| NpzError::MissingKey {
            key: keys.join("' or '"),
            available: reader.keys().to_vec(),
        })?;
    let array = reader.read(key)?;
    array
        .as_scalar_f64()
        .ok_or_else(|| bad_shape(key, array.shape(), "a 0-d real scalar"))
}

fn complex(array: &NpyArray, key: &str) -> Result<ArrayD<Complex32>, NpzError> {
    if !array.is_complex() {
        return Err(NpzError::UnsupportedDtype {
            key: key.to_owned(),
            dtype: format!("{} (ptychodus stores complex64 or complex128)", array.dtype),
        });
    }
    array
        .to_c32()
        .ok_or_else(|| bad_shape(key, array.shape(), "a complex array"))
}

/// The leading `[h, w]` plane of a complex array of rank 2 or more (a probe's first mode, an
/// object's first layer) and the number of planes; `None` for rank < 2 or no plane at all.
pub fn leading_plane(a: &ArrayD<Complex32>) -> Option<(Array2<Complex32>, usize)> {
    let shape = a.shape();
    if shape.len() < 2 {
        return None;
    }
    let planes: usize = shape[..shape.len() - 2].iter().product();
    if planes == 0 {
        return None;
    }
    let mut view = a.view();
    while view.ndim() > 2 {
        view = view.index_axis_move(Axis(0), 0);
    }
    let plane = view.into_dimensionality::<Ix2>().ok()?.to_owned();
    Some((plane, planes))
}

fn first_plane(a: &ArrayD<Complex32>, key: &str) -> Result<(Array2<Complex32>, usize), NpzError> {
    leading_plane(a).ok_or_else(|| bad_shape(key, a.shape(), "(H, W) or (…, H, W)"))
}

fn vector_f64(reader: &mut NpzReader, key: &str) -> Result<Vec<f64>, NpzError> {
    let a = reader.read(key)?;
    if a.shape().len() != 1 {
        return Err(bad_shape(key, a.shape(), "(n,)"));
    }
    a.to_f64()
        .map(|v| v.iter().copied().collect())
        .ok_or_else(|| bad_shape(key, a.shape(), "(n,) real"))
}

impl Product {
    /// Reads a product file.
    pub fn read(path: &Path) -> Result<Self, NpzError> {
        let mut r = NpzReader::open(path)?;
        let text = |r: &mut NpzReader, key: &str, default: &str| -> Result<String, NpzError> {
            Ok(r.read_optional(key)?
                .and_then(|a| a.as_scalar_str().map(str::to_owned))
                .unwrap_or_else(|| default.to_owned()))
        };
        let name = text(&mut r, "name", "Unnamed")?;
        let comments = text(&mut r, "comments", "")?;
        let probe_array = r.read("probe")?;
        let (probe, probe_modes_in_file) = first_plane(&complex(&probe_array, "probe")?, "probe")?;
        let object_array = r.read("object")?;
        let (object, _) = first_plane(&complex(&object_array, "object")?, "object")?;
        let x = vector_f64(&mut r, "probe_position_x_m")?;
        let y = vector_f64(&mut r, "probe_position_y_m")?;
        let idx = r.read("probe_position_indexes")?;
        let indexes: Vec<i64> = idx
            .to_i64()
            .filter(|a| a.ndim() == 1)
            .map(|a| a.iter().copied().collect())
            .ok_or_else(|| bad_shape("probe_position_indexes", idx.shape(), "(n,) integers"))?;
        if x.len() != indexes.len() || y.len() != indexes.len() {
            return Err(NpzError::BadHeader {
                key: "probe_position_x_m".into(),
                reason: format!(
                    "lengths differ: x {}, y {}, indexes {} (they must be equal)",
                    x.len(),
                    y.len(),
                    indexes.len()
                ),
            });
        }
        let loss_values = if r.contains("loss_values") {
            vector_f64(&mut r, "loss_values")?
        } else if r.contains("costs") {
            vector_f64(&mut r, "costs")?
        } else {
            Vec::new()
        };
        Ok(Self {
            name,
            comments,
            photon_energy_ev: scalar(&mut r, &["photon_energy_eV", "probe_energy_eV"])?,
            detector_object_distance_m: scalar(&mut r, &["detector_object_distance_m"])?,
            object_pixel_width_m: scalar(&mut r, &["object_pixel_width_m"])?,
            object_pixel_height_m: scalar(&mut r, &["object_pixel_height_m"])?,
            object_center_x_m: scalar(&mut r, &["object_center_x_m"])?,
            object_center_y_m: scalar(&mut r, &["object_center_y_m"])?,
            probe,
            probe_modes_in_file,
            object,
            probe_position_indexes: indexes,
            probe_positions_m: x.into_iter().zip(y).map(|(x, y)| [x, y]).collect(),
            loss_values,
        })
    }

    /// Writes the product in ptychodus 1.7's spelling: 0-d scalars, complex64 arrays, the probe
    /// as `(1, 1, H, W)` as ptychodus writes it, metres throughout.
    pub fn write(&self, path: &Path) -> Result<(), NpzError> {
        let mut w = NpzWriter::create(path)?;
        w.add_str("name", &self.name)?;
        w.add_str("comments", &self.comments)?;
        w.add_scalar("photon_energy_eV", self.photon_energy_ev)?;
        w.add_scalar(
            "detector_object_distance_m",
            self.detector_object_distance_m,
        )?;
        w.add_scalar("object_pixel_width_m", self.object_pixel_width_m)?;
        w.add_scalar("object_pixel_height_m", self.object_pixel_height_m)?;
        w.add_scalar("object_center_x_m", self.object_center_x_m)?;
        w.add_scalar("object_center_y_m", self.object_center_y_m)?;
        w.add_scalar("probe_pixel_width_m", self.object_pixel_width_m)?;
        w.add_scalar("probe_pixel_height_m", self.object_pixel_height_m)?;
        let (ph, pw) = self.probe.dim();
        let probe4 = self
            .probe
            .to_shape((1, 1, ph, pw))
            .map_err(|e| bad_shape("probe", self.probe.shape(), &e.to_string()))?;
        w.add("probe", &probe4)?;
        w.add("object", &self.object)?;
        let indexes = Array1::from(self.probe_position_indexes.clone());
        w.add("probe_position_indexes", &indexes)?;
        let xs: Array1<f64> = self.probe_positions_m.iter().map(|p| p[0]).collect();
        let ys: Array1<f64> = self.probe_positions_m.iter().map(|p| p[1]).collect();
        w.add("probe_position_x_m", &xs)?;
        w.add("probe_position_y_m", &ys)?;
        w.add_scalar("far_field", true)?;
        if !self.loss_values.is_empty() {
            w.add("loss_values", &Array1::from(self.loss_values.clone()))?;
            let epochs: Array1<i64> = (1..=self.loss_values.len() as i64).collect();
            w.add("loss_epochs", &epochs)?;
        }
        w.finish()
    }

    /// Positions converted to object pixels `[x, y]` (x = column, y = row) on this product's
    /// object grid: `col = (x − centre_x) / pixel_width + W/2`, the same for rows.
    pub fn positions_px(&self) -> Vec<[f64; 2]> {
        let (h, w) = self.object.dim();
        self.probe_positions_m
            .iter()
            .map(|p| {
                [
                    (p[0] - self.object_center_x_m) / self.object_pixel_width_m + w as f64 / 2.0,
                    (p[1] - self.object_center_y_m) / self.object_pixel_height_m + h as f64 / 2.0,
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_converts_positions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.npz");
        let product = Product {
            name: "test".into(),
            comments: "made by a test".into(),
            photon_energy_ev: 8800.0,
            detector_object_distance_m: 2.0,
            object_pixel_width_m: 1e-8,
            object_pixel_height_m: 1e-8,
            object_center_x_m: 0.0,
            object_center_y_m: 0.0,
            probe: Array2::from_elem((4, 4), Complex32::new(1.0, 0.5)),
            probe_modes_in_file: 1,
            object: Array2::from_elem((10, 20), Complex32::new(0.5, 0.0)),
            probe_position_indexes: vec![0, 1],
            probe_positions_m: vec![[0.0, 0.0], [1e-8, -2e-8]],
            loss_values: vec![3.0, 2.0],
        };
        product.write(&path).unwrap();
        let mut r = NpzReader::open(&path).unwrap();
        assert_eq!(r.read("photon_energy_eV").unwrap().shape(), &[] as &[usize]);
        assert_eq!(r.read("probe").unwrap().shape(), &[1, 1, 4, 4]);
        assert_eq!(r.read("object").unwrap().dtype, "<c8");
        let back = Product::read(&path).unwrap();
        assert_eq!(back, product);
        let px = back.positions_px();
        assert!((px[0][0] - 10.0).abs() < 1e-9 && (px[0][1] - 5.0).abs() < 1e-9);
        assert!((px[1][0] - 11.0).abs() < 1e-9 && (px[1][1] - 3.0).abs() < 1e-9);
    }
}
