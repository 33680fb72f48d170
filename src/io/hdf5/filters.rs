//! Decoders for the compression filters detector files use and HDF5 does not ship: bitshuffle
//! (HDF5 filter 32008, its LZ4 and plain modes) and LZ4 (32004), as byte-slice functions. The
//! registration with the HDF5 library is in [`super::ffi`]; these functions know nothing of it.
//!
//! Formats, as the reference filters write a chunk:
//! - **bitshuffle**: in LZ4 mode a 12-byte header (uncompressed size in bytes, u64 big-endian;
//!   block size in bytes, u32 big-endian), then per block of `block` elements a u32 big-endian
//!   compressed length and an LZ4 block. In plain mode no header (the block size is the
//!   filter's parameter, or the default: 8 KiB of elements, a multiple of 8, at least 128), the
//!   blocks' bytes one after the other. A block's
//!   bytes are its bits transposed: bit `k` of every element, then bit `k + 1`, … The last
//!   partial block is shuffled over a multiple of 8 elements; the last `size % 8` elements
//!   follow as they are.
//! - **LZ4**: a 12-byte header (uncompressed size, u64 big-endian; block size, u32 big-endian),
//!   then per block a u32 big-endian compressed length and the LZ4 block, stored raw when the
//!   length equals the block's size.

/// The HDF5 filter id of bitshuffle.
pub const BITSHUFFLE_ID: i32 = 32008;
/// The HDF5 filter id of LZ4.
pub const LZ4_ID: i32 = 32004;
/// Bitshuffle's compression code for LZ4 (its `cd_values[4]`).
pub const BITSHUFFLE_LZ4: u32 = 2;
/// Bitshuffle's compression code for none.
pub const BITSHUFFLE_NONE: u32 = 0;

/// Why a chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The chunk ends before what its header or a block length says.
    #[error("{filter} chunk truncated: needs {needed} bytes at offset {offset}, has {len}")]
    Truncated {
        /// Which filter.
        filter: &'static str,
        /// Bytes needed from `offset`.
        needed: usize,
        /// Where.
        offset: usize,
        /// The chunk's length.
        len: usize,
    },
    /// An LZ4 block did not decode to its size.
    #[error("{filter}: LZ4 block at offset {offset} is corrupt ({why})")]
    Lz4 {
        /// Which filter.
        filter: &'static str,
        /// The block's offset in the chunk.
        offset: usize,
        /// The decoder's complaint.
        why: String,
    },
    /// A header value that cannot be right.
    #[error("{filter}: {what}")]
    BadHeader {
        /// Which filter.
        filter: &'static str,
        /// What is wrong.
        what: String,
    },
}

fn take<'a>(
    filter: &'static str,
    data: &'a [u8],
    offset: usize,
    needed: usize,
) -> Result<&'a [u8], FilterError> {
    offset
        .checked_add(needed)
        .and_then(|end| data.get(offset..end))
        .ok_or(FilterError::Truncated {
            filter,
            needed,
            offset,
            len: data.len(),
        })
}

fn be_u64(filter: &'static str, data: &[u8], offset: usize) -> Result<u64, FilterError> {
    let b = take(filter, data, offset, 8)?;
    Ok(u64::from_be_bytes([
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
    ]))
}

fn be_u32(filter: &'static str, data: &[u8], offset: usize) -> Result<u32, FilterError> {
    let b = take(filter, data, offset, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The largest chunk we agree to decode (1 GiB): a corrupt header must not ask for more.
const MAX_CHUNK_BYTES: u64 = 1 << 30;

fn checked_size(filter: &'static str, size: u64) -> Result<usize, FilterError> {
    if size > MAX_CHUNK_BYTES {
        return Err(FilterError::BadHeader {
            filter,
            what: format!("uncompressed size {size} bytes is over the 1 GiB limit"),
        });
    }
    usize::try_from(size).map_err(|_| FilterError::BadHeader {
        filter,
        what: format!("uncompressed size {size} does not fit in memory"),
    })
}

fn lz4_block(
    filter: &'static str,
    input: &[u8],
    offset: usize,
    out: &mut [u8],
) -> Result<(), FilterError> {
    let written = lz4_flex::block::decompress_into(input, out).map_err(|e| FilterError::Lz4 {
        filter,
        offset,
        why: e.to_string(),
    })?;
    if written != out.len() {
        return Err(FilterError::Lz4 {
            filter,
            offset,
            why: format!("{written} bytes decoded, {} expected", out.len()),
        });
    }
    Ok(())
}

/// Decodes one chunk written by the HDF5 LZ4 filter (32004).
pub fn lz4_decode(chunk: &[u8]) -> Result<Vec<u8>, FilterError> {
    const NAME: &str = "LZ4";
    let total = checked_size(NAME, be_u64(NAME, chunk, 0)?)?;
    let block = be_u32(NAME, chunk, 8)? as usize;
    if block == 0 && total > 0 {
        return Err(FilterError::BadHeader {
            filter: NAME,
            what: "block size 0".into(),
        });
    }
    let mut out = vec![0u8; total];
    let mut offset = 12;
    let mut done = 0;
    while done < total {
        let size = block.min(total - done);
        let compressed = be_u32(NAME, chunk, offset)? as usize;
        offset += 4;
        let input = take(NAME, chunk, offset, compressed)?;
        let dst = &mut out[done..done + size];
        if compressed == size {
            dst.copy_from_slice(input);
        } else {
            lz4_block(NAME, input, offset, dst)?;
        }
        offset += compressed;
        done += size;
    }
    Ok(out)
}

/// Bitshuffle's default block, in elements, for elements of `elem_size` bytes.
fn default_block(elem_size: usize) -> usize {
    ((8192 / elem_size) / 8 * 8).max(128)
}

/// Decodes one chunk written by the bitshuffle filter (32008) with elements of `elem_size`
/// bytes and compression `compression` ([`BITSHUFFLE_LZ4`] or [`BITSHUFFLE_NONE`]);
/// `block_elems` is the filter's block parameter (0: the default), used in plain mode only.
pub fn bitshuffle_decode(
    chunk: &[u8],
    elem_size: usize,
    compression: u32,
    block_elems: usize,
) -> Result<Vec<u8>, FilterError> {
    const NAME: &str = "bitshuffle";
    if elem_size == 0 {
        return Err(FilterError::BadHeader {
            filter: NAME,
            what: "element size 0".into(),
        });
    }
    if compression != BITSHUFFLE_LZ4 && compression != BITSHUFFLE_NONE {
        return Err(FilterError::BadHeader {
            filter: NAME,
            what: format!("compression code {compression} (only LZ4 = 2 and none = 0 are read)"),
        });
    }
    let lz4 = compression == BITSHUFFLE_LZ4;
    let (total, block, mut offset) = if lz4 {
        let total = checked_size(NAME, be_u64(NAME, chunk, 0)?)?;
        (total, be_u32(NAME, chunk, 8)? as usize / elem_size, 12)
    } else if block_elems == 0 {
        (chunk.len(), default_block(elem_size), 0)
    } else {
        (chunk.len(), block_elems, 0)
    };
    let size = total / elem_size;
    if block == 0 || !block.is_multiple_of(8) {
        return Err(FilterError::BadHeader {
            filter: NAME,
            what: format!("block of {block} elements (a positive multiple of 8 expected)"),
        });
    }
    let mut out = vec![0u8; total];
    let mut shuffled = vec![0u8; block * elem_size];
    let last_block = size % block - size % 8;
    let blocks = (0..size / block)
        .map(|b| (b * block, block))
        .chain((last_block > 0).then_some((size / block * block, last_block)));
    for (start, count) in blocks {
        let bytes = count * elem_size;
        let input = if lz4 {
            let compressed = be_u32(NAME, chunk, offset)? as usize;
            offset += 4;
            let input = take(NAME, chunk, offset, compressed)?;
            lz4_block(NAME, input, offset, &mut shuffled[..bytes])?;
            offset += compressed;
            &shuffled[..bytes]
        } else {
            let input = take(NAME, chunk, offset, bytes)?;
            offset += bytes;
            input
        };
        unshuffle_bits(
            input,
            count,
            elem_size,
            &mut out[start * elem_size..start * elem_size + bytes],
        );
    }
    // The last size % 8 elements are stored as they are.
    let rest = (size % 8) * elem_size + total % elem_size;
    if rest > 0 {
        let input = take(NAME, chunk, offset, rest)?;
        out[total - rest..].copy_from_slice(input);
    }
    Ok(out)
}

/// Inverts bitshuffle's transpose of one block of `count` elements (a multiple of 8) of
/// `elem_size` bytes: row `r` (bit `r % 8` of byte `r / 8` of every element) holds `count`
/// bits, element `i`'s at bit `i % 8` of the row's byte `i / 8`.
fn unshuffle_bits(input: &[u8], count: usize, elem_size: usize, out: &mut [u8]) {
    out.fill(0);
    let row_bytes = count / 8;
    for (r, row) in input.chunks_exact(row_bytes).enumerate() {
        let (byte, bit) = (r / 8, r % 8);
        for (g, &v) in row.iter().enumerate() {
            if v == 0 {
                continue;
            }
            for b in 0..8 {
                if (v >> b) & 1 == 1 {
                    out[(g * 8 + b) * elem_size + byte] |= 1 << bit;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bitshuffle's forward transform (for round trips here; files are checked against the
    /// reference implementation in the integration tests).
    fn shuffle_bits(input: &[u8], count: usize, elem_size: usize) -> Vec<u8> {
        let mut out = vec![0u8; input.len()];
        let row_bytes = count / 8;
        for i in 0..count {
            for r in 0..elem_size * 8 {
                let bit = (input[i * elem_size + r / 8] >> (r % 8)) & 1;
                out[r * row_bytes + i / 8] |= bit << (i % 8);
            }
        }
        out
    }

    #[test]
    fn unshuffle_inverts_the_transpose() {
        let data: Vec<u8> = (0..64u32 * 4).map(|i| (i * 37 % 251) as u8).collect();
        let shuffled = shuffle_bits(&data, 64, 4);
        let mut back = vec![0u8; data.len()];
        unshuffle_bits(&shuffled, 64, 4, &mut back);
        assert_eq!(back, data);
    }

    #[test]
    fn plain_bitshuffle_with_a_partial_block_and_a_tail() {
        // 8 + 5 elements of 2 bytes, block of 8 elements: one block, a tail of 5 as they are.
        let data: Vec<u8> = (0..26u8).map(|i| i.wrapping_mul(29)).collect();
        let mut chunk = shuffle_bits(&data[..16], 8, 2);
        chunk.extend_from_slice(&data[16..]);
        assert_eq!(
            bitshuffle_decode(&chunk, 2, BITSHUFFLE_NONE, 8).unwrap(),
            data
        );
    }

    #[test]
    fn truncated_and_corrupt_chunks_are_errors() {
        assert!(matches!(
            lz4_decode(&[0, 0, 0]),
            Err(FilterError::Truncated { .. })
        ));
        let mut chunk = Vec::new();
        chunk.extend_from_slice(&100u64.to_be_bytes());
        chunk.extend_from_slice(&100u32.to_be_bytes());
        chunk.extend_from_slice(&20u32.to_be_bytes());
        chunk.extend_from_slice(&[0xff; 20]);
        assert!(matches!(lz4_decode(&chunk), Err(FilterError::Lz4 { .. })));
        let mut huge = Vec::new();
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend_from_slice(&8u32.to_be_bytes());
        assert!(matches!(
            bitshuffle_decode(&huge, 4, BITSHUFFLE_LZ4, 0),
            Err(FilterError::BadHeader { .. })
        ));
    }
}
