//! A ptychodus product file, NPZ or HDF5, for the loaders that take one (`--product`).

use std::path::Path;

use super::DatasetError;
use crate::io::product::Product;

/// A ptychodus product, NPZ or HDF5 (told apart by the HDF5 signature).
pub fn read_product(path: &Path) -> Result<Product, DatasetError> {
    if crate::io::hdf5::is_hdf5(path) {
        Ok(crate::io::hdf5::product::read_product_h5(path)?)
    } else {
        Ok(Product::read(path)?)
    }
}
