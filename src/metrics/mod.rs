//! Comparing a reconstruction with a ground truth (physics.md §7).
//!
//! Plain arrays (and the CPU FFT): knows nothing of Burn or egui.

pub mod align;
pub mod evaluate;
pub mod frc;
pub mod noise_floor;
pub mod region;
pub mod register;
pub mod residual;
pub mod ssim;
pub mod stats;
pub mod trust;

pub use align::{AlignedPair, align, align_over, crop_to_scan, scan_box};
pub use evaluate::{ChannelScores, Evaluation, evaluate};
pub use stats::pearson;
