//! 32-bit float TIFF images, as imaging users load them into ImageJ/Fiji: one grey channel, no
//! compression, the values as they are (amplitude, or phase in radians). Written atomically.

use std::io::Cursor;
use std::path::Path;

use ndarray::{Array2, ArrayRef2};
use tiff::encoder::{TiffEncoder, colortype::Gray32Float};

use super::atomic::write_atomic;

/// Writing a TIFF failed.
#[derive(Debug, thiserror::Error)]
pub enum TiffError {
    /// The encoder refused the image.
    #[error("{path}: cannot encode the TIFF: {why}")]
    Encode {
        /// The file.
        path: String,
        /// What the encoder said.
        why: String,
    },
    /// The file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The TIFF bytes of `image` (rows top to bottom).
pub fn encode_f32(image: &ArrayRef2<f32>) -> Result<Vec<u8>, String> {
    let (rows, cols) = image.dim();
    let width = u32::try_from(cols).map_err(|e| e.to_string())?;
    let height = u32::try_from(rows).map_err(|e| e.to_string())?;
    let pixels: Vec<f32> = image.iter().copied().collect();
    let mut bytes = Cursor::new(Vec::new());
    TiffEncoder::new(&mut bytes)
        .and_then(|mut e| e.write_image::<Gray32Float>(width, height, &pixels))
        .map_err(|e| e.to_string())?;
    Ok(bytes.into_inner())
}

/// Writes `image` to `path` as a 32-bit float TIFF (through a temporary sibling).
pub fn write_f32_tiff(path: &Path, image: &ArrayRef2<f32>) -> Result<(), TiffError> {
    let bytes = encode_f32(image).map_err(|why| TiffError::Encode {
        path: path.display().to_string(),
        why,
    })?;
    write_atomic(path, &bytes).map_err(|source| TiffError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads back a TIFF written by [`write_f32_tiff`] (for tests and checks).
pub fn read_f32_tiff(bytes: &[u8]) -> Result<Array2<f32>, String> {
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let (width, height) = decoder.dimensions().map_err(|e| e.to_string())?;
    match decoder.read_image().map_err(|e| e.to_string())? {
        tiff::decoder::DecodingResult::F32(values) => {
            Array2::from_shape_vec((height as usize, width as usize), values)
                .map_err(|e| e.to_string())
        }
        _ => Err("not a 32-bit float image".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_values_exactly() {
        let image = Array2::from_shape_fn((3, 5), |(r, c)| r as f32 * 0.25 - c as f32 * 1.5e-3);
        let bytes = encode_f32(&image).unwrap();
        assert_eq!(read_f32_tiff(&bytes).unwrap(), image);
    }
}
