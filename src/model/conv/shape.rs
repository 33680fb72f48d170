//! The sizes of one 3×3 convolution, shared by the im2col ([`super::kernels`]) and Winograd
//! ([`super::winograd`]) paths.

/// Sizes of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub channels_in: usize,
    /// Output channels.
    pub channels_out: usize,
    /// Rows of every image (input and output).
    pub height: usize,
    /// Columns of every image.
    pub width: usize,
}

impl ConvShape {
    /// Pixels of one image plane.
    pub fn pixels(&self) -> usize {
        self.height * self.width
    }

    /// Length of one im2col column: `9 · c_in`.
    pub fn taps(&self) -> usize {
        9 * self.channels_in
    }

    /// The same sizes with input and output channels swapped (the input-gradient pass).
    pub fn transposed(&self) -> Self {
        Self {
            channels_in: self.channels_out,
            channels_out: self.channels_in,
            ..*self
        }
    }
}

/// How a convolution's work is cut into tasks: `images` whole images per task when they are
/// small, else one image per task cut into bands of `rows` rows (of pixels for im2col, of tiles
/// for Winograd).
#[derive(Debug, Clone, Copy)]
pub struct Tiling {
    /// Images per task.
    pub images: usize,
    /// Rows per band.
    pub rows: usize,
}

impl Tiling {
    /// Aims for `target` units (pixels or tiles) per task, over `batch` images of
    /// `rows × cols` units.
    pub fn of(batch: usize, rows: usize, cols: usize, target: usize) -> Self {
        let per_image = (rows * cols).max(1);
        if per_image >= target {
            Self {
                images: 1,
                rows: (target / cols.max(1)).clamp(1, rows.max(1)),
            }
        } else {
            Self {
                images: (target / per_image).clamp(1, batch.max(1)),
                rows,
            }
        }
    }
}
