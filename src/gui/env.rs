//! What every action and job starter needs besides the session: the settings, the GPU, the
//! egui context, the data directory, and the names used in messages.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use eframe::egui;

use super::gpu::GpuStatus;
use super::jobs::compute_threads;
use super::session::{Level, Session};
use super::state::AppState;
use crate::device::DeviceChoice;

/// What an action needs besides the session: settings, the GPU and the egui context.
pub struct Env<'a> {
    /// Persisted settings.
    pub state: &'a mut AppState,
    /// The window's GPU as Burn sees it.
    pub gpu: &'a GpuStatus,
    /// For repaints from worker threads.
    pub ctx: &'a egui::Context,
    /// `--runs-dir` for this session only (not persisted).
    pub runs_dir_override: Option<&'a Path>,
    /// The date exported reports carry, when fixed ([`super::LaunchOptions::report_time`]).
    pub report_time: Option<std::time::SystemTime>,
}

impl Env<'_> {
    /// The device the network runs on and a note when the choice had to fall back.
    pub fn compute_device(&self) -> (Device, String) {
        match (self.state.device, self.gpu.device()) {
            (DeviceChoice::Wgpu, Some(device)) => (device.clone(), self.gpu.describe()),
            (DeviceChoice::Wgpu, None) => (
                Device::flex(),
                format!(
                    "CPU, {} (no GPU for the network: {})",
                    threads_label(),
                    self.gpu.describe()
                ),
            ),
            (DeviceChoice::Cpu, _) => (Device::flex(), format!("CPU, {}", threads_label())),
        }
    }

    /// Where training runs are written.
    pub fn runs_dir(&self) -> PathBuf {
        self.runs_dir_override
            .map(Path::to_owned)
            .or_else(|| self.state.runs_dir.clone())
            .unwrap_or_else(default_data_dir)
    }
}

fn threads_label() -> String {
    match compute_threads() {
        1 => "1 thread".into(),
        n => format!("{n} threads"),
    }
}

/// The app's data directory (`~/.local/share/ptychostudio` on Linux), or a temporary one.
pub fn default_data_dir() -> PathBuf {
    eframe::storage_dir(super::APP_ID)
        .unwrap_or_else(|| std::env::temp_dir().join("ptychostudio"))
        .join("runs")
}

/// The file name for messages.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The file name without its extension, for run directories (`scan` when there is none).
pub fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "scan".into(), |n| n.to_string_lossy().into_owned())
}

/// Logs that `what` is already running and returns true when `running`, so a second click
/// tells the user instead of doing nothing in silence.
pub fn already_running(session: &mut Session, running: bool, what: &str) -> bool {
    if running {
        session.log(
            Level::Warn,
            format!("{what} is already running: wait for it, or stop it first"),
        );
    }
    running
}
