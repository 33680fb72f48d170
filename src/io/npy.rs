//! The `.npy` array format (NumPy's, versions 1–3): parsing a header and its data into an
//! [`NpyArray`], and encoding arrays back.
//!
//! Parsing never trusts the header: the byte count a header claims is computed with checked
//! arithmetic and compared with the bytes actually present before anything is allocated.

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use num_complex::{Complex32, Complex64};

use super::npz::NpzError;

const MAGIC: &[u8] = b"\x93NUMPY";

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

/// Element kinds a dtype string can name.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Bool,
    UInt,
    Int,
    Float,
    Complex,
    Unicode,
}

#[derive(Debug, Clone, Copy)]
struct Dtype {
    kind: Kind,
    /// Bytes per element (for `U<n>`: 4·n).
    item_bytes: usize,
    big_endian: bool,
}

fn parse_dtype(descr: &str) -> Option<Dtype> {
    let mut chars = descr.chars();
    let order = chars.next()?;
    let big_endian = match order {
        '<' | '|' | '=' => false,
        '>' => true,
        _ => return None,
    };
    let kind_char = chars.next()?;
    let count: usize = chars.as_str().parse().ok()?;
    let (kind, item_bytes) = match (kind_char, count) {
        ('b', 1) => (Kind::Bool, 1),
        ('u', 1 | 2 | 4 | 8) => (Kind::UInt, count),
        ('i', 1 | 2 | 4 | 8) => (Kind::Int, count),
        ('f', 4 | 8) => (Kind::Float, count),
        ('c', 8 | 16) => (Kind::Complex, count),
        ('U', n) => (Kind::Unicode, n.checked_mul(4)?),
        _ => return None,
    };
    Some(Dtype {
        kind,
        item_bytes,
        big_endian,
    })
}

/// The parsed header dictionary.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses NumPy's header literal, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header_dict(text: &str, key: &str) -> Result<Header, NpzError> {
    let bad = |reason: &str| NpzError::BadHeader {
        key: key.to_owned(),
        reason: reason.to_owned(),
    };
    let value_after = |name: &str| -> Result<&str, NpzError> {
        let pattern = format!("'{name}'");
        let start = text
            .find(&pattern)
            .ok_or_else(|| bad(&format!("the header has no '{name}' entry")))?;
        let rest = &text[start + pattern.len()..];
        let colon = rest
            .find(':')
            .ok_or_else(|| bad(&format!("no ':' after '{name}'")))?;
        Ok(rest[colon + 1..].trim_start())
    };
    let descr_text = value_after("descr")?;
    let descr = if let Some(stripped) = descr_text.strip_prefix('\'') {
        let end = stripped
            .find('\'')
            .ok_or_else(|| bad("unterminated 'descr' string"))?;
        stripped[..end].to_owned()
    } else {
        return Err(bad(
            "structured or object dtype (a list in 'descr') is not supported",
        ));
    };
    let fortran_text = value_after("fortran_order")?;
    let fortran_order = if fortran_text.starts_with("True") {
        true
    } else if fortran_text.starts_with("False") {
        false
    } else {
        return Err(bad("'fortran_order' is neither True nor False"));
    };
    let shape_text = value_after("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.find(')').map(|end| &s[..end]))
        .ok_or_else(|| bad("'shape' is not a tuple"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            bad(&format!(
                "'shape' ({inner}) holds something other than sizes"
            ))
        })?;
    Ok(Header {
        descr,
        fortran_order,
        shape,
    })
}

/// Decodes one `.npy` file held in `bytes`; `key` names it in errors.
pub fn parse_npy(bytes: &[u8], key: &str) -> Result<NpyArray, NpzError> {
    let bad = |reason: String| NpzError::BadHeader {
        key: key.to_owned(),
        reason,
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(
            "not a .npy array (the magic string \\x93NUMPY is missing)".into(),
        ));
    }
    let major = bytes[6];
    let (header_len, header_start): (usize, usize) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("the header is cut short".into()));
            }
            let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (len as usize, 12)
        }
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let data_start = header_start
        .checked_add(header_len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| {
            bad(format!(
                "the header claims {header_len} bytes but the file ends first"
            ))
        })?;
    let header_text = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| bad("the header is not text".into()))?;
    let header = parse_header_dict(header_text, key)?;
    let dtype = parse_dtype(&header.descr).ok_or_else(|| NpzError::UnsupportedDtype {
        key: key.to_owned(),
        dtype: header.descr.clone(),
    })?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let claimed = count.and_then(|c| c.checked_mul(dtype.item_bytes));
    let present = bytes.len() - data_start;
    let (count, claimed) = match (count, claimed) {
        (Some(c), Some(b)) if b <= present => (c, b),
        _ => {
            return Err(NpzError::SizeMismatch {
                key: key.to_owned(),
                shape: header.shape.clone(),
                claimed_bytes: claimed,
                present_bytes: present,
            });
        }
    };
    let raw = &bytes[data_start..data_start + claimed];
    let data = decode(raw, dtype, count, &header.shape, header.fortran_order)
        .map_err(|reason| bad(reason.to_string()))?;
    Ok(NpyArray {
        dtype: header.descr,
        data,
    })
}

fn to_array<T: Clone>(
    values: Vec<T>,
    shape: &[usize],
    fortran: bool,
) -> Result<ArrayD<T>, ndarray::ShapeError> {
    let dim = IxDyn(shape);
    if fortran {
        let a = ArrayD::from_shape_vec(dim.f(), values)?;
        Ok(a.as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(dim, values)
    }
}

fn chunks<const W: usize>(raw: &[u8], big: bool) -> impl Iterator<Item = [u8; W]> + '_ {
    raw.chunks_exact(W).map(move |c| {
        let mut b = [0u8; W];
        b.copy_from_slice(c);
        if big {
            b.reverse();
        }
        b
    })
}

fn decode(
    raw: &[u8],
    dtype: Dtype,
    count: usize,
    shape: &[usize],
    fortran: bool,
) -> Result<NpyData, ndarray::ShapeError> {
    let big = dtype.big_endian;
    Ok(match (dtype.kind, dtype.item_bytes) {
        (Kind::Bool, _) => NpyData::Bool(to_array(
            raw.iter().map(|&b| b != 0).collect(),
            shape,
            fortran,
        )?),
        (Kind::UInt, 1) => NpyData::UInt(to_array(
            raw.iter().map(|&b| u64::from(b)).collect(),
            shape,
            fortran,
        )?),
        (Kind::UInt, 2) => NpyData::UInt(to_array(
            chunks::<2>(raw, big)
                .map(|b| u64::from(u16::from_le_bytes(b)))
                .collect(),
            shape,
            fortran,
        )?),
        (Kind::UInt, 4) => NpyData::UInt(to_array(
            chunks::<4>(raw, big)
                .map(|b| u64::from(u32::from_le_bytes(b)))
                .collect(),
            shape,
            fortran,
        )?),
        (Kind::UInt, _) => NpyData::UInt(to_array(
            chunks::<8>(raw, big).map(u64::from_le_bytes).collect(),
            shape,
            fortran,
        )?),
        (Kind::Int, 1) => NpyData::Int(to_array(
            raw.iter().map(|&b| i64::from(b as i8)).collect(),
            shape,
            fortran,
        )?),
        (Kind::Int, 2) => NpyData::Int(to_array(
            chunks::<2>(raw, big)
                .map(|b| i64::from(i16::from_le_bytes(b)))
                .collect(),
            shape,
            fortran,
        )?),
        (Kind::Int, 4) => NpyData::Int(to_array(
            chunks::<4>(raw, big)
                .map(|b| i64::from(i32::from_le_bytes(b)))
                .collect(),
            shape,
            fortran,
        )?),
        (Kind::Int, _) => NpyData::Int(to_array(
            chunks::<8>(raw, big).map(i64::from_le_bytes).collect(),
            shape,
            fortran,
        )?),
        (Kind::Float, 4) => NpyData::F32(to_array(
            chunks::<4>(raw, big).map(f32::from_le_bytes).collect(),
            shape,
            fortran,
        )?),
        (Kind::Float, _) => NpyData::F64(to_array(
            chunks::<8>(raw, big).map(f64::from_le_bytes).collect(),
            shape,
            fortran,
        )?),
        (Kind::Complex, 8) => {
            let parts: Vec<f32> = chunks::<4>(raw, big).map(f32::from_le_bytes).collect();
            let values = parts
                .chunks_exact(2)
                .map(|p| Complex32::new(p[0], p[1]))
                .collect();
            NpyData::C64(to_array(values, shape, fortran)?)
        }
        (Kind::Complex, _) => {
            let parts: Vec<f64> = chunks::<8>(raw, big).map(f64::from_le_bytes).collect();
            let values = parts
                .chunks_exact(2)
                .map(|p| Complex64::new(p[0], p[1]))
                .collect();
            NpyData::C128(to_array(values, shape, fortran)?)
        }
        (Kind::Unicode, width) => {
            let values = if width == 0 {
                vec![String::new(); count]
            } else {
                raw.chunks_exact(width)
                    .map(|item| {
                        chunks::<4>(item, big)
                            .map(u32::from_le_bytes)
                            .take_while(|&c| c != 0)
                            .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
                            .collect()
                    })
                    .collect()
            };
            NpyData::Str(to_array(values, shape, fortran)?)
        }
    })
}

/// Element types that can be written to `.npy`.
pub trait NpyElement: Copy {
    /// NumPy's little-endian dtype descriptor.
    const DESCR: &'static str;
    /// Appends the element's little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! npy_element {
    ($t:ty, $descr:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
npy_element!(f32, "<f4");
npy_element!(f64, "<f8");
npy_element!(i64, "<i8");
npy_element!(u16, "<u2");
npy_element!(u8, "|u1");

impl NpyElement for bool {
    const DESCR: &'static str = "|b1";
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
}
impl NpyElement for Complex32 {
    const DESCR: &'static str = "<c8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.re.to_le_bytes());
        out.extend_from_slice(&self.im.to_le_bytes());
    }
}
impl NpyElement for Complex64 {
    const DESCR: &'static str = "<c16";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.re.to_le_bytes());
        out.extend_from_slice(&self.im.to_le_bytes());
    }
}

/// Builds a version-1.0 header padded (with spaces and a newline) to a multiple of 64 bytes, as
/// NumPy does.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [] => "()".to_owned(),
        [one] => format!("({one},)"),
        many => format!(
            "({})",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    let padding = (64 - unpadded % 64) % 64;
    dict.push_str(&" ".repeat(padding));
    dict.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    // The header of an array we write is far below 64 KiB.
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Encodes an array (any layout; written in C order) as `.npy` bytes.
pub fn encode<T: NpyElement, D: ndarray::Dimension>(array: &ndarray::ArrayRef<T, D>) -> Vec<u8> {
    let mut out = header_bytes(T::DESCR, array.shape());
    out.reserve(array.len() * std::mem::size_of::<T>());
    for &v in array.iter() {
        v.put(&mut out);
    }
    out
}

/// Encodes a 0-d unicode string array (`<U<n>`), as ptychodus writes `name` and `comments`.
pub fn encode_str(text: &str) -> Vec<u8> {
    let chars: Vec<char> = text.chars().collect();
    let width = chars.len().max(1);
    let mut out = header_bytes(&format!("<U{width}"), &[]);
    for i in 0..width {
        let code = chars.get(i).map_or(0, |&c| c as u32);
        out.extend_from_slice(&code.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
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
