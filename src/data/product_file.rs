//! A ptychodus product file, NPZ or HDF5, for the loaders that take one (`--product`).

use std::path::Path;

use super::{DatasetError, PhysicalInfo};
use crate::io::product::Product;

/// A ptychodus product, NPZ or HDF5 (told apart by the HDF5 signature).
pub fn read_product(path: &Path) -> Result<Product, DatasetError> {
    if crate::io::hdf5::is_hdf5(path) {
        Ok(crate::io::hdf5::product::read_product_h5(path)?)
    } else {
        Ok(Product::read(path)?)
    }
}

/// The physical sizes a product states, for the scan it comes with.
pub fn physical_of(product: &Product) -> PhysicalInfo {
    PhysicalInfo {
        pixel_size_m: Some(product.object_pixel_width_m),
        photon_energy_ev: Some(product.photon_energy_ev),
        detector_distance_m: Some(product.detector_object_distance_m),
    }
}
