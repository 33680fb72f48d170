//! The desktop app (architecture.md §4): dataset, probe, training and reconstruction panes on
//! the same library calls as the command line, every heavy job on a worker thread, training and
//! inference on the GPU the window draws with when there is one.
//!
//! Uses everything below it (`data`, `train`, `infer`, `metrics`, `epie`, `io`); nothing but
//! `main` and `cli` uses it.

mod actions;
mod app;
mod command;
mod compute;
mod demo;
mod env;
mod export;
mod frame_stats;
mod gpu;
mod jobs;
mod panes;
mod poll;
mod session;
mod state;
mod widgets;

use std::path::PathBuf;

use eframe::egui;

pub use app::PtychoApp;
pub use command::Command;
pub use demo::{DEMO_FILE, write_demo_dataset};
pub use export::REPORT_FILE;
pub use frame_stats::FrameStats;
pub use session::Session;
pub use state::{AppState, Pane};

/// The name eframe stores settings under (and the window title).
pub const APP_ID: &str = "PtychoStudio";

/// How the window is started.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// A dataset to open at once (otherwise the generated demo dataset).
    pub file: Option<PathBuf>,
    /// Start training as soon as the dataset is loaded (demos, frame-time measurements).
    pub start_training: bool,
    /// The pane to show first.
    pub pane: Option<Pane>,
    /// Write frame-time statistics (JSON) here every few seconds and on exit.
    pub frame_stats: Option<PathBuf>,
    /// Save a screenshot of the window here once the dataset is shown, then close the window.
    pub screenshot: Option<PathBuf>,
    /// A model directory to load at start (and reconstruct the dataset with).
    pub model: Option<PathBuf>,
    /// Run ePIE on the dataset at start, for the side-by-side comparison.
    pub epie: bool,
    /// Seconds to wait before the screenshot (for a training run or reconstruction to show).
    pub screenshot_delay_secs: f64,
    /// Where training runs (and the demo scan) are written, instead of the app's data directory.
    pub runs_dir: Option<PathBuf>,
    /// Let the network use a software GPU (lavapipe) shared with the window: slower than the CPU
    /// back end, but it exercises the shared-device path on machines without a GPU.
    pub software_gpu: bool,
    /// The date exported reports carry (default: `SOURCE_DATE_EPOCH`, else the time of export),
    /// so a report can be reproduced byte for byte.
    pub report_time: Option<std::time::SystemTime>,
}

/// Opens the window and runs until it is closed.
pub fn run(launch: LaunchOptions) -> anyhow::Result<()> {
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png")).ok();
    let mut viewport = egui::ViewportBuilder::default()
        .with_title(APP_ID)
        .with_app_id("ptychostudio")
        .with_inner_size([1280.0, 820.0])
        .with_min_inner_size([720.0, 480.0])
        .with_drag_and_drop(true);
    if let Some(icon) = icon {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        wgpu_options: gpu::wgpu_configuration(),
        ..Default::default()
    };
    eframe::run_native(
        APP_ID,
        options,
        Box::new(move |cc| Ok(Box::new(PtychoApp::new(cc, launch)))),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open the window ({e}); without a display, work from the command line \
             (ptychostudio --help) or run the window under xvfb-run"
        )
    })
}
