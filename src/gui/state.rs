//! What the window remembers between runs (eframe storage, `#[serde(default)]` so older or
//! partial settings still load): the pane, recent files, training settings and view options.
//! Datasets, models and textures live in [`super::Session`] and are never persisted.

use std::path::{Path, PathBuf};

use crate::device::DeviceChoice;
use crate::train::TrainConfig;

/// The panes of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Pane {
    /// What was loaded; patterns and positions.
    #[default]
    Dataset,
    /// The probe.
    Probe,
    /// Settings, progress, loss curves, live preview.
    Training,
    /// The reconstructed object, comparisons, metrics, export.
    Reconstruction,
}

impl Pane {
    /// All panes in tab order.
    pub const ALL: [Self; 4] = [
        Self::Dataset,
        Self::Probe,
        Self::Training,
        Self::Reconstruction,
    ];

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Dataset => "Dataset",
            Self::Probe => "Probe",
            Self::Training => "Training",
            Self::Reconstruction => "Reconstruction",
        }
    }

    /// Parses a label (case-insensitive), for the `--pane` flag.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.label().eq_ignore_ascii_case(text))
    }
}

/// How the probe is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum ProbeView {
    /// |P| in viridis.
    Amplitude,
    /// arg P in the cyclic map.
    Phase,
    /// Domain colouring: hue = phase, brightness = amplitude.
    #[default]
    Complex,
}

/// View options that persist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ViewOptions {
    /// Patterns on a log scale.
    pub log_patterns: bool,
    /// Remove the least-squares phase plane before showing a reconstruction's phase.
    pub remove_phase_ramp: bool,
    /// Draw a reconstruction's phase on ±π (off: the scale fits the data).
    pub full_phase_range: bool,
    /// Probe view.
    pub probe_view: ProbeView,
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self {
            log_patterns: true,
            remove_phase_ramp: false,
            full_phase_range: false,
            probe_view: ProbeView::Complex,
        }
    }
}

/// Everything persisted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AppState {
    /// [`AppState::TRAIN_SETTINGS_VERSION`] when the training settings were stored; 0 for
    /// settings stored before versions were kept.
    #[serde(default)]
    pub train_settings_version: u32,
    /// The pane shown.
    pub pane: Pane,
    /// Most recent first, at most [`AppState::MAX_RECENT`].
    pub recent_files: Vec<PathBuf>,
    /// Training settings (N is taken from the dataset at Start).
    pub train: TrainConfig,
    /// Where the network runs (a GPU choice falls back to the CPU with a note when there is none).
    pub device: DeviceChoice,
    /// Preview the stitched object every this many epochs.
    pub preview_every: usize,
    /// Where training runs write their model directories (default: the app's data directory).
    pub runs_dir: Option<PathBuf>,
    /// ePIE sweeps for the comparison.
    pub epie_iterations: usize,
    /// Let ePIE refine the scan positions (drawn over the given ones in the dataset pane).
    pub epie_correct_positions: bool,
    /// View options.
    pub view: ViewOptions,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            train_settings_version: Self::TRAIN_SETTINGS_VERSION,
            pane: Pane::Dataset,
            recent_files: Vec::new(),
            train: TrainConfig {
                nepochs: 30,
                ..TrainConfig::default()
            },
            device: DeviceChoice::Wgpu,
            preview_every: 1,
            runs_dir: None,
            epie_iterations: 20,
            epie_correct_positions: false,
            view: ViewOptions::default(),
        }
    }
}

impl AppState {
    /// How many recent files are kept.
    pub const MAX_RECENT: usize = 8;
    /// The eframe storage key.
    pub const STORAGE_KEY: &'static str = "ptychostudio.state";
    /// Raised when a training default changes in a way stored settings must not hide. A field
    /// missing from stored settings reads as a model's `config.json` reads it (what a model
    /// trained before the field existed used: no amplitude target, the probe fixed), which is
    /// right for a model and wrong for the window's next run. 1: the amplitude target and the
    /// trained probe (2026-12); 2: the probe checked by ePIE before training (2026-12-08).
    pub const TRAIN_SETTINGS_VERSION: u32 = 2;

    /// Settings restored from storage, with the training settings replaced by the defaults
    /// when they were stored under an older [`Self::TRAIN_SETTINGS_VERSION`]. Says whether
    /// they were replaced.
    pub fn upgraded(mut self) -> (Self, bool) {
        if self.train_settings_version >= Self::TRAIN_SETTINGS_VERSION {
            return (self, false);
        }
        self.train = Self::default().train;
        self.train_settings_version = Self::TRAIN_SETTINGS_VERSION;
        (self, true)
    }

    /// Puts `path` first in the recent files.
    pub fn remember(&mut self, path: &Path) {
        self.recent_files.retain(|p| p != path);
        self.recent_files.insert(0, path.to_owned());
        self.recent_files.truncate(Self::MAX_RECENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_files_are_unique_newest_first_and_bounded() {
        let mut state = AppState::default();
        for i in 0..12 {
            state.remember(Path::new(&format!("/data/{i}.npz")));
        }
        state.remember(Path::new("/data/5.npz"));
        assert_eq!(state.recent_files.len(), AppState::MAX_RECENT);
        assert_eq!(state.recent_files[0], Path::new("/data/5.npz"));
        assert_eq!(
            state
                .recent_files
                .iter()
                .filter(|p| p.ends_with("5.npz"))
                .count(),
            1
        );
    }

    #[test]
    fn settings_round_trip_and_partial_settings_load() {
        let mut state = AppState::default();
        state.train.nepochs = 7;
        state.view.log_patterns = false;
        let text = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<AppState>(&text).unwrap(), state);
        let partial: AppState = serde_json::from_str(r#"{"pane": "Training"}"#).unwrap();
        assert_eq!(partial.pane, Pane::Training);
        assert_eq!(partial.epie_iterations, 20);
        assert_eq!(Pane::parse("reconstruction"), Some(Pane::Reconstruction));
    }

    #[test]
    fn training_settings_stored_before_versions_take_todays_defaults() {
        // As a window stored them before the amplitude target existed: no version, no target.
        let stored: AppState =
            serde_json::from_str(r#"{"pane": "Training", "train": {"nepochs": 12}}"#).unwrap();
        assert_eq!(stored.train.amplitude_target, None);
        let (upgraded, replaced) = stored.upgraded();
        assert!(replaced);
        assert_eq!(upgraded.train, AppState::default().train);
        assert_eq!(upgraded.pane, Pane::Training);
        // Stored under version 1, before the probe check: the check comes on.
        let v1: AppState = serde_json::from_str(
            r#"{"train_settings_version": 1, "train": {"probe_from_epie": 0}}"#,
        )
        .unwrap();
        let (upgraded, replaced) = v1.upgraded();
        assert!(replaced);
        assert_eq!(
            upgraded.train.probe_from_epie,
            crate::epie::probe_choice::DEFAULT_CHECK_SWEEPS
        );
        // Current settings are kept as the user left them.
        let mut current = AppState::default();
        current.train.nepochs = 12;
        current.train.amplitude_target = None;
        let text = serde_json::to_string(&current).unwrap();
        let (kept, replaced) = serde_json::from_str::<AppState>(&text).unwrap().upgraded();
        assert!(!replaced);
        assert_eq!(kept, current);
    }
}
