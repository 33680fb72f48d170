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
