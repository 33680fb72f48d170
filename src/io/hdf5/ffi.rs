//! Registers the bitshuffle (32008) and LZ4 (32004) decoders of [`super::filters`] with the
//! HDF5 library, so that every read (plain, external link, virtual dataset) decodes them.
//!
//! This is the program's one use of `unsafe`: HDF5 calls a filter through a C function pointer
//! with a buffer it owns. The shim copies the chunk into a slice, decodes it with the safe
//! functions, and hands back a buffer from `H5allocate_memory` (HDF5 frees the old one and, in
//! time, the new one). Only decoding is offered: writing such files is not our business.
#![allow(unsafe_code)]

use std::ffi::{c_uint, c_void};
use std::sync::LazyLock;

use hdf5_metno_sys::h5::{H5allocate_memory, H5free_memory};
use hdf5_metno_sys::h5z::{H5Z_CLASS_T_VERS, H5Z_FLAG_REVERSE, H5Z_class2_t, H5Zregister};

use super::filters::{self, BITSHUFFLE_ID, LZ4_ID};

const BITSHUFFLE_NAME: &[u8] = b"bitshuffle (PtychoStudio decoder)\0";
const LZ4_NAME: &[u8] = b"lz4 (PtychoStudio decoder)\0";

const BITSHUFFLE_CLASS: &H5Z_class2_t = &H5Z_class2_t {
    version: H5Z_CLASS_T_VERS as _,
    id: BITSHUFFLE_ID,
    encoder_present: 0,
    decoder_present: 1,
    name: BITSHUFFLE_NAME.as_ptr().cast(),
    can_apply: None,
    set_local: None,
    filter: Some(bitshuffle_filter),
};

const LZ4_CLASS: &H5Z_class2_t = &H5Z_class2_t {
    version: H5Z_CLASS_T_VERS as _,
    id: LZ4_ID,
    encoder_present: 0,
    decoder_present: 1,
    name: LZ4_NAME.as_ptr().cast(),
    can_apply: None,
    set_local: None,
    filter: Some(lz4_filter),
};

static REGISTERED: LazyLock<Result<(), String>> = LazyLock::new(|| {
    hdf5_metno::sync::sync(|| {
        for (class, name) in [(BITSHUFFLE_CLASS, "bitshuffle"), (LZ4_CLASS, "LZ4")] {
            // SAFETY: the class is a constant with a static name and a valid function pointer;
            // HDF5 copies what it needs, under the crate's global lock.
            let status = unsafe { H5Zregister(std::ptr::from_ref(class).cast()) };
            if status < 0 {
                return Err(format!("cannot register the {name} decoder with HDF5"));
            }
        }
        Ok(())
    })
});

/// Registers the decoders once per process (later calls return the first answer).
pub fn register() -> Result<(), String> {
    REGISTERED.clone()
}

/// Replaces HDF5's buffer with `decoded`; returns its length, or 0 (HDF5's failure) when no
/// memory could be had.
///
/// SAFETY: `buf` and `buf_size` are the pointers HDF5 passed to the filter.
unsafe fn hand_back(decoded: &[u8], buf_size: *mut usize, buf: *mut *mut c_void) -> usize {
    // SAFETY: allocation through HDF5's own allocator, as it frees filter buffers with it.
    let out = unsafe { H5allocate_memory(decoded.len().max(1), 0) };
    if out.is_null() {
        return 0;
    }
    // SAFETY: `out` has room for `decoded.len()` bytes; `*buf` is HDF5's buffer, freed once
    // and replaced, as the filter interface asks.
    unsafe {
        std::ptr::copy_nonoverlapping(decoded.as_ptr(), out.cast::<u8>(), decoded.len());
        H5free_memory(*buf);
        *buf = out;
        *buf_size = decoded.len().max(1);
    }
    decoded.len()
}

/// The common part of both filters: checks the direction, views the input, decodes.
///
/// SAFETY: the arguments are those HDF5 passes to a filter function.
unsafe fn run_filter(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
    decode: impl Fn(&[u8], &[c_uint]) -> Result<Vec<u8>, filters::FilterError>,
) -> usize {
    if flags & H5Z_FLAG_REVERSE == 0 || buf.is_null() {
        return 0; // encoding is not offered
    }
    // SAFETY: HDF5 passes `cd_nelmts` values at `cd_values` and `nbytes` valid bytes at `*buf`.
    let (params, input) = unsafe {
        let params = if cd_values.is_null() || cd_nelmts == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(cd_values, cd_nelmts)
        };
        if (*buf).is_null() {
            return 0;
        }
        (
            params,
            std::slice::from_raw_parts((*buf).cast::<u8>(), nbytes),
        )
    };
    match decode(input, params) {
        // SAFETY: the pointers are HDF5's, as above.
        Ok(decoded) => unsafe { hand_back(&decoded, buf_size, buf) },
        Err(_) => 0,
    }
}

unsafe extern "C" fn bitshuffle_filter(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
) -> usize {
    // SAFETY: called by HDF5 with a filter's arguments.
    unsafe {
        run_filter(
            flags,
            cd_nelmts,
            cd_values,
            nbytes,
            buf_size,
            buf,
            |input, p| {
                let elem_size = p.get(2).copied().unwrap_or(0) as usize;
                let block = p.get(3).copied().unwrap_or(0) as usize;
                let compression = p.get(4).copied().unwrap_or(filters::BITSHUFFLE_NONE);
                filters::bitshuffle_decode(input, elem_size, compression, block)
            },
        )
    }
}

unsafe extern "C" fn lz4_filter(
    flags: c_uint,
    cd_nelmts: usize,
    cd_values: *const c_uint,
    nbytes: usize,
    buf_size: *mut usize,
    buf: *mut *mut c_void,
) -> usize {
    // SAFETY: called by HDF5 with a filter's arguments.
    unsafe {
        run_filter(
            flags,
            cd_nelmts,
            cd_values,
            nbytes,
            buf_size,
            buf,
            |input, _| filters::lz4_decode(input),
        )
    }
}
