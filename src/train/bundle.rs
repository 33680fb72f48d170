//! The model directory: `config.json` (the training configuration, the normalisation factor, the
//! schedule), `model.bpk` (the network's Burn record), `probe.npz`, `history.json` and
//! `optimizer.bpk` (Adam's moments, for `--resume`). Written to a temporary sibling directory and
//! renamed into place, so a crash leaves the old model or the new one, never half of one: a
//! process killed between moving the old directory aside and moving the new one in leaves the
//! old one beside it, where loading finds it and the next save moves it back.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use ndarray::Array2;
use num_complex::Complex32;

use super::config::{ConfigError, TrainConfig};
use super::events::EpochRecord;
use super::positions::{self as scan_positions, ScanPositions};
use super::schedule::Schedule;
use crate::infer::InferOptions;
use crate::io::{NpzError, NpzReader, NpzWriter};
use crate::model::PinnNet;

/// Identifies our model directories.
pub const FORMAT_NAME: &str = "ptychostudio-model";
/// Version of the directory layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const CONFIG_FILE: &str = "config.json";
const MODEL_FILE: &str = "model.bpk";
const PROBE_FILE: &str = "probe.npz";
const HISTORY_FILE: &str = "history.json";
const OPTIMIZER_FILE: &str = "optimizer.bpk";

/// `config.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The program version that wrote it.
    pub app_version: String,
    /// The whole training configuration (N, gridsize, seed, …).
    pub config: TrainConfig,
    /// The training data's normalisation factor (physics.md §2). Inference normalises each scan
    /// with its own factor; this one records what the model saw.
    pub normalization_factor: f64,
    /// s = √nphotons / (N/2).
    pub intensity_scale: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// The training file, when known.
    pub training_data: Option<String>,
    /// Learning rate and counters, for resuming.
    pub schedule: Schedule,
    /// The device that trained it (absent in directories written before it was recorded).
    #[serde(default)]
    pub trained_on: Option<String>,
    /// How well the finished model explains its own training scan (absent in directories
    /// written before it was recorded): what a new scan's fit is compared with.
    #[serde(default)]
    pub training_fit: Option<TrainingFit>,
    /// The constant the §3.3-normalised probe was multiplied by in the forward model
    /// ([`TrainConfig::amplitude_target`]); 1 in directories written before it existed.
    #[serde(default = "no_probe_gain")]
    pub probe_gain: f64,
    /// How the run's starting probe was chosen by ePIE's check
    /// ([`TrainConfig::probe_from_epie`]); absent when no check ran.
    #[serde(default)]
    pub probe_check: Option<ProbeCheckRecord>,
}

/// The outcome of the probe check before training
/// ([`crate::epie::probe_choice::compare_probes`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProbeCheckRecord {
    /// Sweeps of each ePIE run.
    pub sweeps: usize,
    /// ePIE's Fourier error with the scan's probe held fixed.
    pub error_held: f64,
    /// ePIE's Fourier error with the probe refined.
    pub error_refined: f64,
    /// Whether training started from the refined probe.
    pub refined_used: bool,
}

/// [`Manifest::probe_gain`] of a model written before it existed.
fn no_probe_gain() -> f64 {
    1.0
}

/// The data fit of a model's reconstruction of its training scan (see
/// [`crate::metrics::residual::DataFit`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingFit {
    /// Poisson deviance per detector pixel.
    pub poisson_deviance_per_pixel: f64,
    /// Σ(√s·|F| − a)² / Σa².
    pub fourier_error: f64,
    /// The Fourier error photon noise alone gives an exact model of that scan, when its photon
    /// quantum is known (`metrics::noise_floor::fourier_noise_floor`); absent in older models.
    #[serde(default)]
    pub fourier_error_noise_floor: Option<f64>,
}

/// A trained network with everything needed to use it or to continue training it.
#[derive(Debug, Clone)]
pub struct ModelBundle {
    /// `config.json`.
    pub manifest: Manifest,
    /// The network (on the device it was loaded to or trained on).
    pub network: PinnNet,
    /// `[n, n]` the probe it was trained with (as given, before §3.3 normalisation).
    pub probe: Array2<Complex32>,
    /// Per-epoch figures.
    pub history: Vec<EpochRecord>,
    /// Adam's state as a burnpack buffer (absent in bundles that were never trained here).
    pub optimizer: Option<Vec<u8>>,
    /// The training scan's positions as refined (`train_positions`; `positions.json`).
    pub positions: Option<ScanPositions>,
}

/// Errors saving or loading a model directory.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a model directory.
    #[error("{0} is not a PtychoStudio model directory (no config.json in it or in its model/)")]
    NotAModel(PathBuf),
    /// `config.json` unreadable.
    #[error("{path}: damaged config.json: {message}")]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Written by a newer program.
    #[error("{path}: model format version {found}; this build reads version {expected}")]
    Version {
        /// The file.
        path: PathBuf,
        /// In the file.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// The configuration is invalid.
    #[error("{path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The bad setting.
        source: ConfigError,
    },
    /// The weights do not fit the network the configuration describes, or are damaged.
    #[error(
        "{path}: the weights do not match the configuration (N {n}, gridsize {gridsize}, n_filters_scale {nfs}): {message}"
    )]
    Weights {
        /// The file.
        path: PathBuf,
        /// N of the configuration.
        n: usize,
        /// Its gridsize.
        gridsize: usize,
        /// Its filter scale.
        nfs: usize,
        /// What Burn said.
        message: String,
    },
    /// The probe file.
    #[error("{path}: {source}")]
    Probe {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: NpzError,
    },
    /// The probe has the wrong shape.
    #[error("{path}: probe shape {found:?}, expected [{n}, {n}] (N of the configuration)")]
    ProbeShape {
        /// The file.
        path: PathBuf,
        /// Its shape.
        found: Vec<usize>,
        /// N.
        n: usize,
    },
    /// `history.json` damaged.
    #[error("{path}: damaged history.json: {message}")]
    BadHistory {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Serialising the record.
    #[error("cannot serialise the weights: {0}")]
    Record(String),
    /// `positions.json` unreadable.
    #[error("{0}")]
    Positions(String),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The model directory at `path`: `path` itself when it holds `config.json`, else `path/model`
/// (a training run's output directory). When a save was killed between moving the old model
/// aside and moving the new one in, the old one (the last complete model) is found where it
/// was moved.
pub fn resolve_model_dir(path: &Path) -> Result<PathBuf, BundleError> {
    if path.join(CONFIG_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join("model").join(CONFIG_FILE).is_file() {
        return Ok(path.join("model"));
    }
    [path.to_path_buf(), path.join("model")]
        .iter()
        .find_map(|dir| retired_copy(dir))
        .ok_or_else(|| BundleError::NotAModel(path.to_path_buf()))
}

/// The sibling directories a save of `dir` works in: `.<name>.tmp-<pid>` (the new model being
/// written) and `.<name>.old-<pid>` (the old one moved aside), for every process id.
fn save_siblings(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (Some(name), Some(parent)) = (dir.file_name(), dir.parent()) else {
        return (Vec::new(), Vec::new());
    };
    let name = name.to_string_lossy();
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let (staging, retired) = (format!(".{name}.tmp-"), format!(".{name}.old-"));
    let mut found = (Vec::new(), Vec::new());
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&staging) {
            found.0.push(entry.path());
        } else if file.starts_with(&retired) {
            found.1.push(entry.path());
        }
    }
    found
}

/// The old model an interrupted save of `dir` moved aside, when `dir` itself is gone.
fn retired_copy(dir: &Path) -> Option<PathBuf> {
    if dir.exists() {
        return None;
    }
    save_siblings(dir)
        .1
        .into_iter()
        .find(|old| old.join(CONFIG_FILE).is_file())
}

/// Undoes what a killed save of `dir` left: the old model moves back when the new one never
/// arrived, and every staging or retired sibling goes.
fn recover_interrupted_save(dir: &Path) -> Result<(), BundleError> {
    if let Some(old) = retired_copy(dir) {
        fs::rename(&old, dir).map_err(io_error(dir))?;
    }
    let (staging, retired) = save_siblings(dir);
    for leftover in staging.into_iter().chain(retired) {
        fs::remove_dir_all(&leftover).map_err(io_error(&leftover))?;
    }
    Ok(())
}

fn pretty_json(value: &impl serde::Serialize) -> Result<String, BundleError> {
    serde_json::to_string_pretty(value).map_err(|e| BundleError::Record(e.to_string()))
}

impl ModelBundle {
    /// How a scan is reconstructed with this model (the window, `report`, and the fit to the
    /// training scan): every pattern, in batches of 64, grouped as the model was trained.
    pub fn reconstruction_options(&self) -> InferOptions {
        let config = &self.manifest.config;
        InferOptions {
            batch_size: 64,
            gridsize: config.gridsize,
            neighbor_count: config.neighbor_count,
            seed: config.seed,
            crop: None,
            overlap_pass: false,
        }
    }

    /// `dataset` at the positions this model refined, when it is the scan they were refined on
    /// (`None` otherwise: the scan's own positions stand).
    pub fn at_refined_positions(
        &self,
        dataset: &crate::data::Dataset,
    ) -> Option<crate::data::Dataset> {
        let refined = self.positions.as_ref()?.for_scan(dataset)?;
        dataset.with_positions(refined.to_vec()).ok()
    }

    /// Writes the directory `dir` (replacing an existing model there) through a temporary sibling.
    pub fn save(&self, dir: &Path) -> Result<(), BundleError> {
        let name = dir
            .file_name()
            .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
        let parent = dir.parent().unwrap_or(Path::new("."));
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        fs::create_dir_all(parent).map_err(io_error(parent))?;
        recover_interrupted_save(dir)?;
        let pid = std::process::id();
        let staging = parent.join(format!(".{name}.tmp-{pid}"));
        let retired = parent.join(format!(".{name}.old-{pid}"));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        }
        fs::create_dir_all(&staging).map_err(io_error(&staging))?;
        if let Err(e) = self.write_files(&staging) {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        // Swap: the old model moves aside, the new one moves in, the old one goes.
        let had_old = dir.exists();
        if had_old {
            if retired.exists() {
                fs::remove_dir_all(&retired).map_err(io_error(&retired))?;
            }
            fs::rename(dir, &retired).map_err(io_error(dir))?;
        }
        if let Err(e) = fs::rename(&staging, dir) {
            if had_old {
                let _ = fs::rename(&retired, dir);
            }
            let _ = fs::remove_dir_all(&staging);
            return Err(BundleError::Io {
                path: dir.to_path_buf(),
                source: e,
            });
        }
        if had_old {
            fs::remove_dir_all(&retired).map_err(io_error(&retired))?;
        }
        Ok(())
    }

    fn write_files(&self, dir: &Path) -> Result<(), BundleError> {
        let write = |file: &str, bytes: &[u8]| {
            let path = dir.join(file);
            fs::write(&path, bytes).map_err(io_error(&path))
        };
        write(CONFIG_FILE, pretty_json(&self.manifest)?.as_bytes())?;
        write(HISTORY_FILE, pretty_json(&self.history)?.as_bytes())?;
        let record = self
            .network
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| BundleError::Record(e.to_string()))?;
        write(MODEL_FILE, &record)?;
        if let Some(optimizer) = &self.optimizer {
            write(OPTIMIZER_FILE, optimizer)?;
        }
        if let Some(positions) = &self.positions {
            let text =
                serde_json::to_string(positions).map_err(|e| BundleError::Record(e.to_string()))?;
            write(scan_positions::FILE, text.as_bytes())?;
        }
        let probe_path = dir.join(PROBE_FILE);
        let probe_error = |source| BundleError::Probe {
            path: probe_path.clone(),
            source,
        };
        let mut npz = NpzWriter::create(&probe_path).map_err(probe_error)?;
        npz.add("probeGuess", &self.probe).map_err(probe_error)?;
        npz.finish().map_err(probe_error)?;
        Ok(())
    }

    /// Loads the model directory at `path` (or `path/model`) onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self, BundleError> {
        let dir = resolve_model_dir(path)?;
        let config_path = dir.join(CONFIG_FILE);
        let text = fs::read_to_string(&config_path).map_err(io_error(&config_path))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| BundleError::BadConfig {
                path: config_path.clone(),
                message: e.to_string(),
            })?;
        if value.get("format").and_then(serde_json::Value::as_str) != Some(FORMAT_NAME) {
            return Err(BundleError::BadConfig {
                path: config_path,
                message: format!("\"format\" is not \"{FORMAT_NAME}\""),
            });
        }
        let found = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(FORMAT_VERSION) {
            return Err(BundleError::Version {
                path: config_path,
                found: u32::try_from(found).unwrap_or(u32::MAX),
                expected: FORMAT_VERSION,
            });
        }
        let manifest: Manifest =
            serde_json::from_value(value).map_err(|e| BundleError::BadConfig {
                path: config_path.clone(),
                message: e.to_string(),
            })?;
        manifest
            .config
            .validate()
            .map_err(|source| BundleError::Config {
                path: config_path.clone(),
                source,
            })?;
        let config = &manifest.config;
        let model_path = dir.join(MODEL_FILE);
        let bytes = fs::read(&model_path).map_err(io_error(&model_path))?;
        let weights_error = |message: String| BundleError::Weights {
            path: model_path.clone(),
            n: config.n,
            gridsize: config.gridsize,
            nfs: config.n_filters_scale,
            message,
        };
        let record = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|e| weights_error(e.to_string()))?;
        let network = config
            .network()
            .init(device)
            .try_load_record(record)
            .map_err(|e| weights_error(e.to_string()))?;
        let probe_path = dir.join(PROBE_FILE);
        let probe_error = |source| BundleError::Probe {
            path: probe_path.clone(),
            source,
        };
        let mut npz = NpzReader::open(&probe_path).map_err(probe_error)?;
        let array = npz.read("probeGuess").map_err(probe_error)?;
        let shape = array.shape().to_vec();
        let probe = array
            .to_c32()
            .and_then(|a| a.into_dimensionality::<ndarray::Ix2>().ok())
            .filter(|p| p.dim() == (config.n, config.n))
            .ok_or_else(|| BundleError::ProbeShape {
                path: probe_path.clone(),
                found: shape,
                n: config.n,
            })?;
        let history_path = dir.join(HISTORY_FILE);
        let history = match fs::read_to_string(&history_path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| BundleError::BadHistory {
                path: history_path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&history_path)(e)),
        };
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        let optimizer = match fs::read(&optimizer_path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&optimizer_path)(e)),
        };
        let positions = ScanPositions::read(&dir).map_err(BundleError::Positions)?;
        Ok(Self {
            manifest,
            network,
            probe,
            history,
            optimizer,
            positions,
        })
    }
}
