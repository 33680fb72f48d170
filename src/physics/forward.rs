//! The forward model of one batch: object patches → (merge) → exit wave → far-field intensity.

use burn::prelude::*;

use super::merge::{MergeWeights, central_box, merge_and_extract};
use super::{CTensor, Dft2};

/// Whether and how channels are merged before diffraction (gridsize > 1, `object_big`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MergeMode {
    /// Each channel diffracts its own patch (gridsize 1, or object_big off).
    Off,
    /// Channels are merged per sample and re-extracted, with these weights.
    On(MergeWeights),
}

/// The intensity scale s = √nphotons / (N/2) (physics.md §3.5): counts = (s · amplitude)².
pub fn intensity_scale(nphotons: f64, n: usize) -> f64 {
    nphotons.sqrt() / (n as f64 / 2.0)
}

/// Everything fixed for one dataset: the DFT, the (normalised) probe, the scale, the merge.
#[derive(Debug, Clone)]
pub struct ForwardModel {
    dft: Dft2,
    /// `[1, 1, n, n]`
    probe: CTensor<4>,
    intensity_scale: f32,
    merge: MergeMode,
    /// `[n, n]` merge weights (unused when the merge is off).
    weights: Tensor<2>,
    gridsize: usize,
}

impl ForwardModel {
    /// Sets up the model for `probe` (`[n, n]`, used as given: normalise it first with
    /// [`super::probe::normalize_probe`] where the method asks for it).
    pub fn new(
        probe: &CTensor<2>,
        intensity_scale: f64,
        merge: MergeMode,
        gridsize: usize,
    ) -> Self {
        let [n, _] = probe.dims();
        let device = probe.re.device();
        let weights = match merge {
            MergeMode::On(MergeWeights::ProbeIntensity) => probe.abs_sq(),
            _ => central_box(n, &device),
        };
        Self {
            dft: Dft2::new(n, &device),
            probe: probe.map_to(|t| t.reshape([1, 1, n, n])),
            intensity_scale: intensity_scale as f32,
            merge,
            weights,
            gridsize,
        }
    }

    /// The same model with another probe (`[n, n]`, e.g. a trainable one, used as given); the
    /// merge weights stay those of the probe the model was set up with.
    pub fn with_probe(&self, probe: &CTensor<2>) -> Self {
        let n = self.n();
        Self {
            probe: probe.map_to(|t| t.reshape([1, 1, n, n])),
            ..self.clone()
        }
    }

    /// The same model with the merge off: each channel diffracts its own patch.
    pub fn unmerged(&self) -> Self {
        Self {
            merge: MergeMode::Off,
            ..self.clone()
        }
    }

    /// Whether channels are merged before diffraction.
    pub fn merges(&self) -> bool {
        self.merge != MergeMode::Off
    }

    /// Pattern size N.
    pub fn n(&self) -> usize {
        self.dft.n()
    }

    /// The intensity scale s.
    pub fn intensity_scale(&self) -> f32 {
        self.intensity_scale
    }

    /// The object patches that diffract: merged and re-extracted when the merge is on.
    ///
    /// # Shapes
    /// - object: `[b, c, n, n]`; coords_relative: `b·c` entries `[x, y]` → `[b, c, n, n]`
    pub fn patches(&self, object: &CTensor<4>, coords_relative: &[[f64; 2]]) -> CTensor<4> {
        match self.merge {
            MergeMode::Off => object.clone(),
            MergeMode::On(kind) => {
                merge_and_extract(object, coords_relative, &self.weights, kind, self.gridsize)
            }
        }
    }

    /// The far field `fftshift(fft2(P · O)) / N`.
    ///
    /// # Shapes
    /// - object: `[b, c, n, n]` → `[b, c, n, n]`
    pub fn far_field(&self, object: &CTensor<4>, coords_relative: &[[f64; 2]]) -> CTensor<4> {
        let exit_wave = self.probe.mul(&self.patches(object, coords_relative));
        self.dft.forward(&exit_wave)
    }

    /// Predicted counts λ = (s · |fftshift(fft2(P · O))| / N)².
    ///
    /// # Shapes
    /// - object: `[b, c, n, n]` → `[b, c, n, n]`
    pub fn intensity(&self, object: &CTensor<4>, coords_relative: &[[f64; 2]]) -> Tensor<4> {
        let s2 = self.intensity_scale * self.intensity_scale;
        self.far_field(object, coords_relative)
            .abs_sq()
            .mul_scalar(s2)
    }

    /// Predicted amplitude Â = |fftshift(fft2(P · O))| / N (unscaled; a 1e-12 floor inside the
    /// square root keeps the gradient finite at zero).
    pub fn amplitude(&self, object: &CTensor<4>, coords_relative: &[[f64; 2]]) -> Tensor<4> {
        self.far_field(object, coords_relative)
            .abs_sq()
            .add_scalar(1e-12)
            .sqrt()
    }
}
