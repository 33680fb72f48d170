//! Which Burn device runs the network: the CPU (`flex`) or a GPU (`wgpu`). One enum shared by the
//! command line (`--device cpu|wgpu`) and, later, the window.

use std::sync::OnceLock;

use burn::prelude::*;

/// Where the network runs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// Burn's pure-Rust CPU backend (`flex`): always available; tests and CI use it.
    #[default]
    Cpu,
    /// The default wgpu adapter (Vulkan, Metal or DX12): a real GPU.
    Wgpu,
}

impl DeviceChoice {
    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        }
    }
}

/// Errors building a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No wgpu adapter could be opened.
    #[error("no GPU adapter for wgpu ({0}); use --device cpu, or install a Vulkan driver")]
    NoAdapter(String),
    /// Only a software adapter (e.g. lavapipe) exists.
    #[error(
        "wgpu found only a software adapter ({0}), which is slower than --device cpu; use --device cpu"
    )]
    SoftwareOnly(String),
}

/// Builds the device for `choice`. For wgpu this opens the adapter now, so a machine without a GPU
/// gets an error here rather than a panic at the first tensor operation. With `allow_software`,
/// a CPU-emulated adapter (lavapipe) is accepted (tests under Xvfb use it).
pub fn build_device(choice: DeviceChoice, allow_software: bool) -> Result<Device, DeviceError> {
    build_device_on(choice, allow_software, None)
}

/// [`build_device`], with wgpu on the `discrete_gpu`-th discrete GPU when given (one per MPI
/// rank on a node with several) instead of the default adapter. The first call in a process
/// decides the adapter.
pub fn build_device_on(
    choice: DeviceChoice,
    allow_software: bool,
    discrete_gpu: Option<usize>,
) -> Result<Device, DeviceError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::flex()),
        DeviceChoice::Wgpu => {
            // wgpu registers once per process; later calls reuse the first answer.
            static WGPU: OnceLock<Result<(Device, String, bool), String>> = OnceLock::new();
            let opened = WGPU.get_or_init(|| {
                let options = Device::wgpu_options();
                let options = match discrete_gpu {
                    Some(index) => {
                        options.device_kind(burn::tensor::DeviceKind::DiscreteGpu(index))
                    }
                    None => options,
                };
                let (device, setup) = options.init_with_setup().map_err(|e| e.to_string())?;
                let info = setup.adapter.get_info();
                let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
                tracing::info!("wgpu adapter: {} ({:?})", info.name, info.backend);
                Ok((device, info.name, software))
            });
            match opened {
                Err(message) => Err(DeviceError::NoAdapter(message.clone())),
                Ok((_, name, true)) if !allow_software => {
                    Err(DeviceError::SoftwareOnly(name.clone()))
                }
                Ok((device, ..)) => Ok(device.clone()),
            }
        }
    }
}

/// A short name of `device` for people (logs, model directories, reports): "CPU (Burn flex)",
/// "GPU (Burn wgpu)", or Burn's own description of anything else.
pub fn describe(device: &Device) -> String {
    let debug = format!("{device:?}");
    if debug.contains("Flex") {
        "CPU (Burn flex)".into()
    } else if debug.contains("Wgpu") {
        "GPU (Burn wgpu)".into()
    } else {
        debug
    }
}
