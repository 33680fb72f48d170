//! The reference CNN of physics.md §4: a shared encoder, amplitude and phase decoders, the
//! "probe.big" border branch; Burn Module + Config pairs. Knows Burn; knows nothing of egui.

pub mod blocks;
pub mod conv;
pub mod network;

pub use network::{PinnNet, PinnNetConfig};
