//! Inference: running a trained network over a scan in streamed batches and stitching its
//! patches into one object (physics.md §6). Uses `model` and `data`; knows nothing of training.

pub mod overlap;
pub mod positions;
pub mod predict;
pub mod stitch;

pub use predict::{InferError, InferOptions, Stitched, predict_patches, reconstruct};
pub use stitch::Stitcher;
