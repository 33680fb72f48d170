//! The demo scan the window opens when it is started without a file: the §9 "lines" case at
//! N = 64 on a smaller object (256², 512 random positions, 1e9 photons), written once as a
//! PtychoPINN NPZ with its true object so the metrics and the comparison have a ground truth.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::data::save::save_pinn;
use crate::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};

/// The demo file's name.
pub const DEMO_FILE: &str = "demo_lines_n64.npz";

/// The demo's simulation settings.
pub fn demo_config() -> SimulationConfig {
    SimulationConfig {
        n: 64,
        object_size: 256,
        nphotons: 1e9,
        seed: 7,
        ..SimulationConfig::default()
    }
}

/// Writes the demo scan into `dir` (once: an existing file is reused) and returns its path.
pub fn write_demo_dataset(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(DEMO_FILE);
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = demo_config();
    let mut scan = simulate_lines_scan(&config, ScanPattern::Random { count: 512 }, config.seed)?;
    scan.dataset.metadata = Some(
        serde_json::json!({
            "generator": "ptychostudio window (demo scan)",
            "version": env!("CARGO_PKG_VERSION"),
            "config": config,
            "positions": "512 uniformly random",
        })
        .to_string(),
    );
    save_pinn(&scan.dataset, &path, None)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
