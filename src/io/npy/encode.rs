//! Encoding arrays as `.npy` bytes (version 1.0 headers, little-endian, C order).

use num_complex::{Complex32, Complex64};

/// Every `.npy` file starts with these bytes.
pub(super) const MAGIC: &[u8] = b"\x93NUMPY";

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
pub(super) fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
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
