//! The ptychodus HDF5 product (the layout ptychodus's `H5ProductFileIO` reads and writes): root
//! attributes `name`, `comments`, `detector_object_distance_m`, `probe_energy_eV`,
//! `probe_photon_count`, `exposure_time_s`, `mass_attenuation_m2_kg`; datasets
//! `probe_position_indexes`, `probe_position_x_m`, `probe_position_y_m` (metres), `probe`
//! (complex, attributes `pixel_width_m`, `pixel_height_m`), `object` (complex, attributes
//! `center_x_m`, `center_y_m`, `pixel_width_m`, `pixel_height_m`), `object_layer_spacing_m`,
//! `loss_epochs`, `loss_values`. The same [`Product`] as the NPZ product.

use std::path::Path;

use hdf5_metno::types::VarLenUnicode;
use hdf5_metno::{File, Location};
use ndarray::{Array1, Array2, ArrayD, Axis};
use num_complex::Complex32;

use super::Hdf5Error;
use super::tree::first_line;
use crate::io::product::Product;

fn error(path: &Path, object: &str, e: &hdf5_metno::Error) -> Hdf5Error {
    Hdf5Error::new(path, object, first_line(&e.to_string()))
}

/// Writes `product` to `path` as a ptychodus HDF5 product, through a temporary sibling.
pub fn write_product_h5(product: &Product, path: &Path) -> Result<(), Hdf5Error> {
    super::ffi::register().map_err(|e| Hdf5Error::new(path, "/", e))?;
    let staging = crate::io::atomic::temporary_sibling(path);
    let written = write_to(product, &staging);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&staging);
        return Err(e);
    }
    std::fs::rename(&staging, path).map_err(|e| {
        let _ = std::fs::remove_file(&staging);
        Hdf5Error::new(
            path,
            "/",
            format!("cannot move the written file into place: {e}"),
        )
    })
}

fn text_attr(path: &Path, at: &Location, name: &str, value: &str) -> Result<(), Hdf5Error> {
    let clean: String = value.chars().filter(|c| *c != '\0').collect();
    let value: VarLenUnicode = clean
        .parse()
        .map_err(|e| Hdf5Error::new(path, name, format!("{e}")))?;
    at.new_attr::<VarLenUnicode>()
        .create(name)
        .and_then(|a| a.write_scalar(&value))
        .map_err(|e| error(path, name, &e))
}

fn number_attr(path: &Path, at: &Location, name: &str, value: f64) -> Result<(), Hdf5Error> {
    at.new_attr::<f64>()
        .create(name)
        .and_then(|a| a.write_scalar(&value))
        .map_err(|e| error(path, name, &e))
}

fn write_to(product: &Product, path: &Path) -> Result<(), Hdf5Error> {
    let file = File::create(path).map_err(|e| error(path, "/", &e))?;
    text_attr(path, &file, "name", &product.name)?;
    text_attr(path, &file, "comments", &product.comments)?;
    for (name, value) in [
        (
            "detector_object_distance_m",
            product.detector_object_distance_m,
        ),
        ("probe_energy_eV", product.photon_energy_ev),
        ("probe_photon_count", 0.0),
        ("exposure_time_s", 0.0),
        ("mass_attenuation_m2_kg", 0.0),
    ] {
        number_attr(path, &file, name, value)?;
    }
    let indexes = Array1::from(product.probe_position_indexes.clone());
    let x: Array1<f64> = product.probe_positions_m.iter().map(|p| p[0]).collect();
    let y: Array1<f64> = product.probe_positions_m.iter().map(|p| p[1]).collect();
    let dataset = |name: &str, result: hdf5_metno::Result<hdf5_metno::Dataset>| {
        result.map_err(|e| error(path, name, &e))
    };
    dataset(
        "probe_position_indexes",
        file.new_dataset_builder()
            .with_data(&indexes)
            .create("probe_position_indexes"),
    )?;
    dataset(
        "probe_position_x_m",
        file.new_dataset_builder()
            .with_data(&x)
            .create("probe_position_x_m"),
    )?;
    dataset(
        "probe_position_y_m",
        file.new_dataset_builder()
            .with_data(&y)
            .create("probe_position_y_m"),
    )?;
    // Probe (modes, h, w) and object (layers, h, w), as ptychodus stores them.
    let probe = product.probe.clone().insert_axis(Axis(0));
    let probe_ds = dataset(
        "probe",
        file.new_dataset_builder().with_data(&probe).create("probe"),
    )?;
    number_attr(
        path,
        &probe_ds,
        "pixel_width_m",
        product.object_pixel_width_m,
    )?;
    number_attr(
        path,
        &probe_ds,
        "pixel_height_m",
        product.object_pixel_height_m,
    )?;
    let object = product.object.clone().insert_axis(Axis(0));
    let object_ds = dataset(
        "object",
        file.new_dataset_builder()
            .with_data(&object)
            .create("object"),
    )?;
    number_attr(path, &object_ds, "center_x_m", product.object_center_x_m)?;
    number_attr(path, &object_ds, "center_y_m", product.object_center_y_m)?;
    number_attr(
        path,
        &object_ds,
        "pixel_width_m",
        product.object_pixel_width_m,
    )?;
    number_attr(
        path,
        &object_ds,
        "pixel_height_m",
        product.object_pixel_height_m,
    )?;
    let none = Array1::<f64>::zeros(0);
    dataset(
        "object_layer_spacing_m",
        file.new_dataset_builder()
            .with_data(&none)
            .create("object_layer_spacing_m"),
    )?;
    let epochs: Array1<i64> = (0..product.loss_values.len() as i64).collect();
    let losses = Array1::from(product.loss_values.clone());
    dataset(
        "loss_epochs",
        file.new_dataset_builder()
            .with_data(&epochs)
            .create("loss_epochs"),
    )?;
    dataset(
        "loss_values",
        file.new_dataset_builder()
            .with_data(&losses)
            .create("loss_values"),
    )?;
    file.close().map_err(|e| error(path, "/", &e))
}

fn read_number(path: &Path, at: &Location, name: &str) -> Result<f64, Hdf5Error> {
    at.attr(name)
        .and_then(|a| a.read_scalar::<f64>())
        .map_err(|e| error(path, name, &e))
}

fn read_text(at: &Location, name: &str) -> Option<String> {
    at.attr(name)
        .and_then(|a| a.read_scalar::<VarLenUnicode>())
        .ok()
        .map(|s| s.as_str().to_owned())
}

/// The leading `(h, w)` plane of a complex array, and how many planes it had.
fn first_plane(
    path: &Path,
    name: &str,
    a: &ArrayD<Complex32>,
) -> Result<(Array2<Complex32>, usize), Hdf5Error> {
    crate::io::product::leading_plane(a).ok_or_else(|| {
        Hdf5Error::new(
            path,
            name,
            format!("shape {:?}, expected (…, H, W) complex", a.shape()),
        )
    })
}

/// Whether the open file is a ptychodus product (it has a probe, an object and positions).
pub fn is_product(file: &File) -> bool {
    ["probe", "object", "probe_position_x_m"]
        .iter()
        .all(|n| file.link_exists(n))
}

/// Reads a ptychodus HDF5 product.
pub fn read_product_h5(path: &Path) -> Result<Product, Hdf5Error> {
    let file = super::open(path)?;
    if !is_product(&file) {
        return Err(Hdf5Error::new(
            path,
            "/",
            "not a ptychodus product: expected the datasets probe, object and probe_position_x_m",
        ));
    }
    let vector = |name: &str| -> Result<Vec<f64>, Hdf5Error> {
        file.dataset(name)
            .and_then(|d| d.read_raw::<f64>())
            .map_err(|e| error(path, name, &e))
    };
    let x = vector("probe_position_x_m")?;
    let y = vector("probe_position_y_m")?;
    let indexes: Vec<i64> = file
        .dataset("probe_position_indexes")
        .and_then(|d| d.read_raw::<i64>())
        .map_err(|e| error(path, "probe_position_indexes", &e))?;
    if x.len() != y.len() || x.len() != indexes.len() {
        return Err(Hdf5Error::new(
            path,
            "probe_position_x_m",
            format!(
                "{} x, {} y and {} indexes: one of each per position expected",
                x.len(),
                y.len(),
                indexes.len()
            ),
        ));
    }
    let probe_ds = file
        .dataset("probe")
        .map_err(|e| error(path, "probe", &e))?;
    let object_ds = file
        .dataset("object")
        .map_err(|e| error(path, "object", &e))?;
    let complex = |ds: &hdf5_metno::Dataset, name: &str| {
        ds.read_dyn::<Complex32>()
            .map_err(|e| error(path, name, &e))
    };
    let (probe, probe_modes_in_file) = first_plane(path, "probe", &complex(&probe_ds, "probe")?)?;
    let (object, _) = first_plane(path, "object", &complex(&object_ds, "object")?)?;
    let loss_values = ["loss_values", "costs"]
        .iter()
        .find_map(|n| file.dataset(n).ok())
        .and_then(|d| d.read_raw::<f64>().ok())
        .unwrap_or_default();
    Ok(Product {
        name: read_text(&file, "name").unwrap_or_else(|| "Unnamed".into()),
        comments: read_text(&file, "comments").unwrap_or_default(),
        photon_energy_ev: read_number(path, &file, "probe_energy_eV")?,
        detector_object_distance_m: read_number(path, &file, "detector_object_distance_m")?,
        object_pixel_width_m: read_number(path, &object_ds, "pixel_width_m")?,
        object_pixel_height_m: read_number(path, &object_ds, "pixel_height_m")?,
        object_center_x_m: read_number(path, &object_ds, "center_x_m")?,
        object_center_y_m: read_number(path, &object_ds, "center_y_m")?,
        probe,
        probe_modes_in_file,
        object,
        probe_position_indexes: indexes,
        probe_positions_m: x.into_iter().zip(y).map(|(x, y)| [x, y]).collect(),
        loss_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_product() {
        let dir = tempfile::tempdir().unwrap();
        let product = Product {
            name: "test".into(),
            comments: "written by a test".into(),
            photon_energy_ev: 8000.0,
            detector_object_distance_m: 2.0,
            object_pixel_width_m: 6.4e-8,
            object_pixel_height_m: 6.5e-8,
            object_center_x_m: 1e-6,
            object_center_y_m: -2e-6,
            probe: Array2::from_shape_fn((4, 4), |(r, c)| Complex32::new(r as f32, c as f32)),
            probe_modes_in_file: 1,
            object: Array2::from_shape_fn((6, 5), |(r, c)| Complex32::new(1.0, (r * c) as f32)),
            probe_position_indexes: vec![0, 1, 2],
            probe_positions_m: vec![[0.0, 1e-7], [2e-7, 3e-7], [4e-7, 5e-7]],
            loss_values: vec![3.0, 2.0],
        };
        let path = dir.path().join("product.h5");
        write_product_h5(&product, &path).unwrap();
        assert_eq!(read_product_h5(&path).unwrap(), product);
    }
}
