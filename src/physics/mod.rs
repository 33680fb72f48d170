//! The differentiable PtychoPINN forward model (physics.md §3) as Burn tensor functions.
//!
//! Complex values are carried as (real, imaginary) pairs ([`CTensor`]); the 2-D DFT is two real
//! matrix products per side ([`Dft2`]); translation is bilinear with zero fill, written as
//! products with banded matrices built on the host ([`translate`]), or on the CPU as direct
//! two-tap passes ([`translate_cpu`]); the gridsize > 1 merge is
//! per sample ([`merge`]). Knows Burn; knows nothing of egui.

pub mod complex;
pub mod dft;
pub mod forward;
pub mod loss;
pub mod merge;
pub mod probe;
pub mod translate;
pub mod translate_cpu;

pub use complex::CTensor;
pub use dft::Dft2;
pub use forward::{ForwardModel, MergeMode};
pub use probe::probe_tensor;
