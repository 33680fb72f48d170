//! A scan's facts in a few lines, for the dataset pane and the report.

use std::path::Path;

use super::Dataset;
use crate::io::schema::Layout;

/// The dataset's description, one fact per line ("key: value"): what the window's dataset pane
/// and every report show. Reads every pattern once (the mean counts).
pub fn dataset_summary(path: &Path, d: &Dataset, layout: Layout) -> Vec<String> {
    let [x0, x1, y0, y1] = d.scan_extent_px();
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut lines = vec![
        format!("file: {name}"),
        format!("layout: {}", layout.describe()),
        format!("{} patterns of {} × {} px", d.len(), d.n(), d.n()),
        format!(
            "scan extent: x {x0:.1} … {x1:.1}, y {y0:.1} … {y1:.1} px ({:.1} × {:.1} px)",
            x1 - x0,
            y1 - y0
        ),
        format!(
            "mean Σ amplitude² per pattern: {:.3e} (photons when the file holds √counts)",
            d.mean_counts_per_pattern()
        ),
        format!(
            "true object: {}",
            d.object().map_or_else(
                || "none".into(),
                |o| format!("{} × {}", o.nrows(), o.ncols())
            )
        ),
    ];
    if let Some(px) = d.physical.pixel_size_m {
        lines.push(format!("pixel size: {:.3} nm", px * 1e9));
    }
    lines
}
