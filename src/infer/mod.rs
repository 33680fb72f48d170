//! Inference: running a trained network over a scan and stitching its patches (physics.md §6).

pub mod stitch;

pub use stitch::Stitcher;
