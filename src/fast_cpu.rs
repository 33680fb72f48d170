//! The switch for our own CPU kernels (the 3×3 convolutions of `model::conv` and the
//! translations of `physics::translate_cpu`), which replace Burn's generic Flex operations where
//! they apply. On by default; `bench --burn-kernels` and the agreement tests turn it off to
//! compare both in one process. wgpu always runs Burn's operations.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::DispatchDevice;
use burn::prelude::Device;

static ENABLED: AtomicBool = AtomicBool::new(true);
static WINOGRAD: AtomicBool = AtomicBool::new(true);

/// Turns our CPU kernels on or off for the whole process.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether our CPU kernels are on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether a tensor on `device` should take our CPU kernels: they are on and it is Flex.
pub fn applies_to(device: &Device) -> bool {
    enabled()
        && matches!(
            device.clone().inner().as_dispatch(),
            DispatchDevice::Flex(_)
        )
}

/// Turns the Winograd path of the 3×3 convolutions on or off for the whole process (off: every
/// convolution by im2col; `bench --no-winograd` and the agreement tests compare both).
pub fn set_winograd(enabled: bool) {
    WINOGRAD.store(enabled, Ordering::Relaxed);
}

/// Whether the 3×3 convolutions may take the Winograd path (on by default).
pub fn winograd() -> bool {
    WINOGRAD.load(Ordering::Relaxed)
}
