//! One GPU device for drawing and computing (architecture.md §3): eframe creates its wgpu device
//! with everything the adapter offers (Burn plans its kernels from the adapter's features and
//! limits, and fails on eframe's default, feature-less device), and Burn's wgpu runtime is
//! registered on that same device and queue.

use std::sync::Arc;

use burn::prelude::Device;
use eframe::egui_wgpu::{self, WgpuSetup, WgpuSetupCreateNew, wgpu};

/// eframe's wgpu configuration: a new device that requests the adapter's features (less
/// `MAPPABLE_PRIMARY_BUFFERS`, which costs speed on discrete GPUs) and its full limits.
pub fn wgpu_configuration() -> egui_wgpu::WgpuConfiguration {
    let mut create = WgpuSetupCreateNew::without_display_handle();
    create.device_descriptor = Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
        label: Some("ptychostudio device (window and network)"),
        required_features: adapter.features() - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
        required_limits: adapter.limits(),
        ..Default::default()
    });
    egui_wgpu::WgpuConfiguration {
        wgpu_setup: WgpuSetup::CreateNew(create),
        ..Default::default()
    }
}

/// The window's GPU as Burn sees it.
#[derive(Debug, Clone)]
pub enum GpuStatus {
    /// The window runs without wgpu (tests, the glow fallback): no GPU for the network.
    NoWindowGpu,
    /// The adapter is emulated on the CPU (lavapipe): slower than the CPU back end, not used.
    SoftwareOnly(String),
    /// Burn could not use the window's device.
    Failed(String),
    /// Burn runs on the window's device.
    Shared {
        /// The Burn device (its runtime holds eframe's device and queue).
        device: Device,
        /// The adapter's name and API.
        adapter: String,
    },
}

impl GpuStatus {
    /// Registers Burn on eframe's device, when there is one and it is a real GPU (or any
    /// adapter, software ones included, with `allow_software`: a check of the sharing recipe on
    /// machines without a GPU).
    pub fn from_render_state(
        render_state: Option<&egui_wgpu::RenderState>,
        allow_software: bool,
    ) -> Self {
        let Some(rs) = render_state else {
            return Self::NoWindowGpu;
        };
        let info = rs.adapter.get_info();
        let adapter = format!("{} ({:?})", info.name, info.backend);
        if info.device_type == wgpu::DeviceType::Cpu && !allow_software {
            return Self::SoftwareOnly(adapter);
        }
        let setup = burn::tensor::wgpu::WgpuSetup {
            instance: rs.instance.clone(),
            adapter: rs.adapter.clone(),
            device: rs.device.clone(),
            queue: rs.queue.clone(),
            backend: info.backend,
        };
        match Device::wgpu_options().setup(setup).init() {
            Ok(device) => {
                tracing::info!("training and inference share the window's GPU: {adapter}");
                Self::Shared { device, adapter }
            }
            Err(e) => Self::Failed(format!("{adapter}: {e}")),
        }
    }

    /// The GPU device, when Burn can use one.
    pub fn device(&self) -> Option<&Device> {
        match self {
            Self::Shared { device, .. } => Some(device),
            _ => None,
        }
    }

    /// One line for the status bar and the fallback note.
    pub fn describe(&self) -> String {
        match self {
            Self::NoWindowGpu => "no GPU: the window draws without wgpu".into(),
            Self::SoftwareOnly(name) => {
                format!("only a software GPU ({name}), slower than the CPU back end")
            }
            Self::Failed(why) => format!("the GPU cannot run the network: {why}"),
            Self::Shared { adapter, .. } => format!("GPU {adapter}, shared with the window"),
        }
    }
}
