//! Comparing a reconstruction with a ground truth (physics.md §7).
//!
//! Plain arrays only: knows nothing of Burn or egui.

pub mod align;
pub mod stats;

pub use align::{AlignedPair, align, crop_to_scan};
pub use stats::pearson;
