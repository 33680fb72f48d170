//! Reusable pieces of the panes: colour-mapped images with zoom, pan, hover, colour bar and scale
//! bar; the loss plot.

pub mod colormap;
pub mod image_view;
pub mod loss_plot;
