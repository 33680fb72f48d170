//! The `.npy` array format (NumPy's, versions 1–3): parsing a header and its data into an
//! [`NpyArray`], and encoding arrays back.
//!
//! Parsing never trusts the header: the byte count a header claims is computed with checked
//! arithmetic and compared with the bytes actually present before anything is allocated.

mod encode;
mod parse;

pub use encode::{NpyElement, encode, encode_str};
pub use parse::parse_npy;

use ndarray::ArrayD;
use num_complex::{Complex32, Complex64};

/// One decoded array. Every numeric dtype NumPy writes for our files is kept as it is; the
/// accessors convert.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `|b1`
    Bool(ArrayD<bool>),
    /// `u1`, `u2`, `u4`, `u8` widened to u64.
    UInt(ArrayD<u64>),
    /// `i1`, `i2`, `i4`, `i8` widened to i64.
    Int(ArrayD<i64>),
    /// `f4`
    F32(ArrayD<f32>),
    /// `f8`
    F64(ArrayD<f64>),
    /// `c8`
    C64(ArrayD<Complex32>),
    /// `c16`
    C128(ArrayD<Complex64>),
    /// `U<n>` (UTF-32) strings.
    Str(ArrayD<String>),
}

/// A decoded `.npy` array with the dtype string its header declared (e.g. `<f4`).
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The dtype descriptor as written in the header.
    pub dtype: String,
    /// The values, in C (row-major) order whatever the file's order was.
    pub data: NpyData,
}

impl NpyArray {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        match &self.data {
            NpyData::Bool(a) => a.shape(),
            NpyData::UInt(a) => a.shape(),
            NpyData::Int(a) => a.shape(),
            NpyData::F32(a) => a.shape(),
            NpyData::F64(a) => a.shape(),
            NpyData::C64(a) => a.shape(),
            NpyData::C128(a) => a.shape(),
            NpyData::Str(a) => a.shape(),
        }
    }

    /// True for integer (signed, unsigned) and boolean dtypes.
    pub fn is_integer(&self) -> bool {
        matches!(
            self.data,
            NpyData::UInt(_) | NpyData::Int(_) | NpyData::Bool(_)
        )
    }

    /// True for complex dtypes.
    pub fn is_complex(&self) -> bool {
        matches!(self.data, NpyData::C64(_) | NpyData::C128(_))
    }

    /// Real values as f64; `None` for complex and string arrays.
    pub fn to_f64(&self) -> Option<ArrayD<f64>> {
        Some(match &self.data {
            NpyData::Bool(a) => a.mapv(|v| f64::from(u8::from(v))),
            NpyData::UInt(a) => a.mapv(|v| v as f64),
            NpyData::Int(a) => a.mapv(|v| v as f64),
            NpyData::F32(a) => a.mapv(f64::from),
            NpyData::F64(a) => a.clone(),
            NpyData::C64(_) | NpyData::C128(_) | NpyData::Str(_) => return None,
        })
    }

    /// Real values as f32; `None` for complex and string arrays.
    pub fn to_f32(&self) -> Option<ArrayD<f32>> {
        match &self.data {
            NpyData::F32(a) => Some(a.clone()),
            _ => self.to_f64().map(|a| a.mapv(|v| v as f32)),
        }
    }

    /// Complex values as complex64; real arrays are promoted (imaginary part 0); `None` for
    /// strings.
    pub fn to_c32(&self) -> Option<ArrayD<Complex32>> {
        match &self.data {
            NpyData::C64(a) => Some(a.clone()),
            NpyData::C128(a) => Some(a.mapv(|v| Complex32::new(v.re as f32, v.im as f32))),
            NpyData::Str(_) => None,
            _ => self.to_f32().map(|a| a.mapv(|v| Complex32::new(v, 0.0))),
        }
    }

    /// Integer values as i64 (floats must be whole numbers); `None` otherwise.
    pub fn to_i64(&self) -> Option<ArrayD<i64>> {
        match &self.data {
            NpyData::Int(a) => Some(a.clone()),
            NpyData::UInt(a) => a
                .iter()
                .all(|&v| i64::try_from(v).is_ok())
                .then(|| a.mapv(|v| v as i64)),
            NpyData::Bool(a) => Some(a.mapv(i64::from)),
            NpyData::F32(_) | NpyData::F64(_) => {
                let f = self.to_f64()?;
                f.iter()
                    .all(|v| v.fract() == 0.0 && v.abs() < 9.0e15)
                    .then(|| f.mapv(|v| v as i64))
            }
            _ => None,
        }
    }

    /// The string of a 0-d (or one-element) string array.
    pub fn as_scalar_str(&self) -> Option<&str> {
        match &self.data {
            NpyData::Str(a) if a.len() == 1 => a.iter().next().map(String::as_str),
            _ => None,
        }
    }

    /// The value of a one-element real array.
    pub fn as_scalar_f64(&self) -> Option<f64> {
        let a = self.to_f64()?;
        (a.len() == 1).then(|| a.iter().copied().next()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::encode::header_bytes;
    use super::*;
    use crate::io::npz_error::NpzError;
    use ndarray::array;

    #[test]
    fn round_trips_numbers_and_strings() {
        let a = array![[1.5f32, -2.0], [3.0, 4.25]];
        let parsed = parse_npy(&encode(&a), "a").unwrap();
        assert_eq!(parsed.dtype, "<f4");
        assert_eq!(parsed.data, NpyData::F32(a.into_dyn()));

        let c = array![Complex32::new(1.0, -1.0), Complex32::new(0.5, 2.0)];
        let parsed = parse_npy(&encode(&c), "c").unwrap();
        assert_eq!(parsed.to_c32().unwrap(), c.into_dyn());

        let s = parse_npy(&encode_str("Siemens ★"), "s").unwrap();
        assert_eq!(s.as_scalar_str(), Some("Siemens ★"));
        assert_eq!(s.shape(), &[] as &[usize]);
    }

    #[test]
    fn header_is_padded_to_64_bytes() {
        let bytes = encode(&array![1i64, 2, 3]);
        let len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
        assert_eq!((10 + len) % 64, 0);
        assert_eq!(bytes[10 + len - 1], b'\n');
    }

    #[test]
    fn reads_fortran_order_and_big_endian() {
        // Set the order flag by hand: fortran order, values 0..6 in column-major order.
        let mut bytes = header_bytes(">i2", &[2, 3]);
        let at = bytes.windows(5).position(|w| w == b"False").unwrap();
        bytes[at..at + 5].copy_from_slice(b"True ");
        for v in [0i16, 3, 1, 4, 2, 5] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let parsed = parse_npy(&bytes, "f").unwrap();
        let expected = array![[0i64, 1, 2], [3, 4, 5]].into_dyn();
        assert_eq!(parsed.data, NpyData::Int(expected));
    }

    /// Found by the fuzz test (seed 7, case 8224): a damaged descr echoed a newline into the
    /// error line.
    #[test]
    fn an_unsupported_dtype_is_named_on_one_line() {
        let mut bytes = header_bytes("<f8", &[2]);
        let at = bytes.windows(3).position(|w| w == b"<f8").unwrap();
        bytes[at + 1] = b'\n';
        bytes.extend_from_slice(&[0u8; 16]);
        let message = parse_npy(&bytes, "ycoords").unwrap_err().to_string();
        assert!(!message.contains('\n'), "{message:?}");
        assert!(
            message.contains("ycoords") && message.contains("\\n"),
            "{message}"
        );
    }

    #[test]
    fn a_header_claiming_more_than_present_is_an_error_not_an_allocation() {
        let mut bytes = header_bytes("<f8", &[1 << 40, 1 << 30]);
        bytes.extend_from_slice(&[0u8; 16]);
        match parse_npy(&bytes, "huge") {
            Err(NpzError::SizeMismatch {
                key, claimed_bytes, ..
            }) => {
                assert_eq!(key, "huge");
                assert_eq!(claimed_bytes, None, "the claim overflows usize");
            }
            other => panic!("expected SizeMismatch, got {other:?}"),
        }
    }
}
