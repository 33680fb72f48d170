//! Complex tensors as (real, imaginary) pairs.

use burn::prelude::*;

/// A complex tensor: real and imaginary parts of the same shape.
#[derive(Debug, Clone)]
pub struct CTensor<const D: usize> {
    /// Real part.
    pub re: Tensor<D>,
    /// Imaginary part.
    pub im: Tensor<D>,
}

impl<const D: usize> CTensor<D> {
    /// From parts.
    pub fn new(re: Tensor<D>, im: Tensor<D>) -> Self {
        Self { re, im }
    }

    /// Element-wise product (broadcasting as Burn does).
    pub fn mul(&self, other: &Self) -> Self {
        Self {
            re: self.re.clone() * other.re.clone() - self.im.clone() * other.im.clone(),
            im: self.re.clone() * other.im.clone() + self.im.clone() * other.re.clone(),
        }
    }

    /// Product with a real tensor.
    pub fn mul_real(&self, factor: &Tensor<D>) -> Self {
        Self {
            re: self.re.clone() * factor.clone(),
            im: self.im.clone() * factor.clone(),
        }
    }

    /// Product with a real scalar.
    pub fn scale(&self, factor: f32) -> Self {
        Self {
            re: self.re.clone().mul_scalar(factor),
            im: self.im.clone().mul_scalar(factor),
        }
    }

    /// Sum.
    pub fn add(&self, other: &Self) -> Self {
        Self {
            re: self.re.clone() + other.re.clone(),
            im: self.im.clone() + other.im.clone(),
        }
    }

    /// Complex conjugate.
    pub fn conj(&self) -> Self {
        Self {
            re: self.re.clone(),
            im: self.im.clone().neg(),
        }
    }

    /// |z|², element-wise.
    pub fn abs_sq(&self) -> Tensor<D> {
        self.re.clone().powi_scalar(2) + self.im.clone().powi_scalar(2)
    }

    /// Matrix product `self @ other` (complex, batched as Burn's matmul).
    pub fn matmul(&self, other: &Self) -> Self {
        let rr = self.re.clone().matmul(other.re.clone());
        let ii = self.im.clone().matmul(other.im.clone());
        let ri = self.re.clone().matmul(other.im.clone());
        let ir = self.im.clone().matmul(other.re.clone());
        Self {
            re: rr - ii,
            im: ri + ir,
        }
    }

    /// Applies the same real linear map to both parts.
    pub fn map(&self, f: impl Fn(Tensor<D>) -> Tensor<D>) -> Self {
        Self {
            re: f(self.re.clone()),
            im: f(self.im.clone()),
        }
    }

    /// Applies the same shape-changing map to both parts.
    pub fn map_to<const E: usize>(&self, f: impl Fn(Tensor<D>) -> Tensor<E>) -> CTensor<E> {
        CTensor {
            re: f(self.re.clone()),
            im: f(self.im.clone()),
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> [usize; D] {
        self.re.dims()
    }
}
