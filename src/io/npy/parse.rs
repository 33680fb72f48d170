//! Parsing `.npy` bytes: header, dtype, data.

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use num_complex::{Complex32, Complex64};

use super::encode::MAGIC;
use super::{NpyArray, NpyData};
use crate::io::npz_error::NpzError;

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
        // As text a person can read on one line: a damaged header may hold any bytes.
        dtype: header.descr.escape_debug().to_string(),
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
