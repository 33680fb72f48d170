//! One safe matrix product over `f32` slices, on the `gemm` crate (the crate and version Burn's
//! CPU back end uses; AVX-512 kernels where the processor has them, chosen at run time). It is
//! the only `unsafe` in the crate: `gemm::gemm` takes raw pointers and strides, and the checks
//! below make every element it reads or writes an element of the slices it was given.
#![allow(unsafe_code)]

/// A matrix stored in a slice: element (i, j) is `data[i·row_stride + j·col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// The `rows × cols` row-major matrix at the start of `data`.
    ///
    /// # Panics
    /// If `data` is shorter than `rows · cols`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(
            data.len() >= rows * cols,
            "matrix {rows}×{cols} in a slice of {}",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The `rows × cols` matrix whose row i starts at `data[i · row_stride]`.
    ///
    /// # Panics
    /// If `row_stride < cols` or the last row runs past the end of `data`.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            row_stride >= cols,
            "row stride {row_stride} < {cols} columns"
        );
        assert!(
            rows == 0 || (rows - 1) * row_stride + cols <= data.len(),
            "matrix {rows}×{cols} (row stride {row_stride}) in a slice of {}",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `out = a · b`, or `out += a · b` with `accumulate`, for the row-major `a.rows × b.cols`
/// matrix `out`, on the calling thread.
///
/// # Panics
/// If the sizes do not match.
pub fn matmul(out: &mut [f32], a: MatRef<'_>, b: MatRef<'_>, accumulate: bool) {
    let n = b.cols;
    matmul_into(out, n, a, b, accumulate);
}

/// [`matmul`] into the `a.rows × b.cols` matrix whose row i starts at `out[i · out_row_stride]`
/// (the elements between rows are left alone).
///
/// # Panics
/// If the sizes do not match or the last row runs past the end of `out`.
pub fn matmul_into(
    out: &mut [f32],
    out_row_stride: usize,
    a: MatRef<'_>,
    b: MatRef<'_>,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner sizes {k} and {}", b.rows);
    assert!(
        out_row_stride >= n,
        "matmul: output row stride {out_row_stride} < {n}"
    );
    assert!(
        m == 0 || (m - 1) * out_row_stride + n <= out.len(),
        "matmul: output of {} for {m}×{n} (row stride {out_row_stride})",
        out.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.chunks_mut(out_row_stride)
                .take(m)
                .for_each(|row| row[..n].fill(0.0));
        }
        return;
    }
    // Every element read is (i, j) with i < rows, j < cols, at index
    // i·row_stride + j·col_stride ≤ (rows − 1)·row_stride + (cols − 1)·col_stride, which the
    // constructors (and the transpose, which swaps both pairs) keep below the slice's length;
    // the output likewise, by the check above.
    let stride = |s: usize| isize::try_from(s).expect("a slice's stride fits isize");
    // SAFETY: the pointers come from live slices borrowed for the whole call (`out` mutably, so
    // it aliases neither input); by the construction of `MatRef` and the size checks above, every
    // offset gemm forms from (m, n, k) and these strides lies inside its slice; gemm reads `out`
    // only when `accumulate`; `f32` is one of its supported types.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            stride(out_row_stride),
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_transposes_match_the_definition() {
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2 × 3
        let b: Vec<f32> = (0..12).map(|v| (v as f32) * 0.5 - 2.0).collect(); // 3 × 4
        let mut out = vec![1.0f32; 8];
        matmul(
            &mut out,
            MatRef::row_major(&a, 2, 3),
            MatRef::row_major(&b, 3, 4),
            false,
        );
        for i in 0..2 {
            for j in 0..4 {
                let want: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum();
                assert!((out[i * 4 + j] - want).abs() < 1e-5);
            }
        }
        // (bᵀ)ᵀ aᵀ... : c = aᵀᵀ · b, accumulated onto the previous result doubles it.
        let before = out.clone();
        let at = MatRef::row_major(&a, 2, 3).t().t();
        matmul(&mut out, at, MatRef::row_major(&b, 3, 4), true);
        assert!(
            out.iter()
                .zip(&before)
                .all(|(o, b)| (o - 2.0 * b).abs() < 1e-4)
        );
        // aᵀ (3 × 2) times a (2 × 3): the Gram matrix, symmetric.
        let mut gram = vec![0.0f32; 9];
        let ar = MatRef::row_major(&a, 2, 3);
        matmul(&mut gram, ar.t(), ar, false);
        assert_eq!(gram[1], gram[3]);
        assert_eq!(gram[0], 0.0 * 0.0 + 3.0 * 3.0);
        // Into every other row of a taller buffer, from a strided view of b's middle columns.
        let mut wide = vec![7.0f32; 2 * 5];
        let middle = MatRef::strided(&b[1..], 3, 2, 4);
        matmul_into(&mut wide, 5, MatRef::row_major(&a, 2, 3), middle, false);
        for i in 0..2 {
            for j in 0..2 {
                let want: f32 = (0..3).map(|k| a[i * 3 + k] * b[k * 4 + 1 + j]).sum();
                assert!((wide[i * 5 + j] - want).abs() < 1e-5);
            }
            assert!(
                wide[i * 5 + 2..i * 5 + 5].iter().all(|&v| v == 7.0),
                "left alone"
            );
        }
    }
}
