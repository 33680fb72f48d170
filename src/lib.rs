//! PtychoStudio: ptychography reconstruction with a physics-informed neural network
//! (PtychoPINN), as a library under a command line and a desktop app.
//!
//! # Crate map (dependencies point one way, down this list)
//! - [`io`]: NPZ/NPY arrays, file layouts, ptychodus product files, PNG images. Depends on nothing
//!   else here.
//! - [`fft`]: orthonormal CPU 2-D FFTs (rustfft). Depends on nothing else here.
//! - [`filter`]: Gaussian blur. Depends on nothing else here.
//! - [`geometry`]: bounding boxes and bilinear sampling. Depends on nothing else here.
//! - [`positions`]: scan-position errors (simulated, compared with the truth, the mean pinned).
//!   Depends on nothing else here.
//! - [`data`]: the validated [`data::Dataset`], loading with convention checks, grouping,
//!   normalisation, synthetic data, reconstructions on disk. Uses `io`, `fft`.
//! - [`metrics`]: alignment and comparison with a ground truth, and the phase as shown. Plain
//!   arrays; uses `data`, `fft`, `filter`, `geometry`.
//! - [`epie`]: the CPU ePIE baseline. Uses `data`, `fft`.
//! - [`physics`]: the differentiable forward model in Burn (DFT, translation, merge, losses).
//!   Uses Burn only.
//! - [`model`]: the reference CNN (encoder, amplitude and phase decoders, border branch) as Burn
//!   Module + Config pairs. Uses Burn only.
//! - [`device`]: the CPU or GPU Burn device ([`device::DeviceChoice`]). Uses Burn only.
//! - [`infer`]: running a network over a scan in streamed batches and stitching its patches.
//!   Uses `data`, `model`.
//! - [`train`]: the training loop, its events and schedule, the model directory. Uses `data`,
//!   `io`, `physics`, `model`, `infer`.
//! - [`report`]: the exported report's content (the window's Export and `ptychostudio report`).
//!   Uses `data`, `infer`, `io`, `metrics`, `train`.
//! - `gui` (the `gui` feature, on by default): the desktop app (eframe/egui): the same calls on
//!   worker threads, live. Uses everything above except `cli`.
//! - [`cli`]: the command line. Uses everything above (it opens the window when given no
//!   subcommand); nothing uses it.
//!
//! `io`, `data`, `metrics` and `epie` know nothing of Burn or egui; `physics`, `model`, `infer`
//! and `train` know Burn, not egui; only `gui` knows egui.

pub mod cli;
pub mod data;
pub mod device;
pub mod epie;
pub mod fast_cpu;
pub mod fft;
pub mod filter;
pub mod geometry;
#[cfg(feature = "gui")]
pub mod gui;
pub mod infer;
pub mod io;
pub mod metrics;
pub mod model;
pub mod physics;
pub mod positions;
pub mod report;
pub mod train;
