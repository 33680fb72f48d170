//! Scan positions refined during training (`train --train-positions`): after each epoch from
//! `position_start_epoch` on, the network predicts every training pattern's patch and each
//! patch is registered against the object the others stitch ([`crate::infer::positions`]). The
//! overlap groups then merge at the refined positions, and the model keeps them
//! (`positions.json`) for the stitch of the same scan.

use std::path::Path;

use burn::prelude::*;
use ndarray::{Array2, s};
use num_complex::Complex32;

use super::config::TrainConfig;
use crate::data::Dataset;
use crate::infer::positions::{RegistrationOptions, RegistrationSummary, refine_positions};
use crate::infer::predict::{InferError, predict_patches};
use crate::infer::stitch::StitchWeights;
use crate::model::PinnNet;

/// The positions a model refined on its training scan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanPositions {
    /// The scan's positions as given, `[x, y]` object pixels.
    pub given: Vec<[f64; 2]>,
    /// The refined positions, same order.
    pub refined: Vec<[f64; 2]>,
}

impl ScanPositions {
    /// The refined positions when `dataset` is the scan they were refined on (the same number
    /// of positions, each within 1e-6 px of the given one).
    pub fn for_scan(&self, dataset: &Dataset) -> Option<&[[f64; 2]]> {
        let same = dataset.len() == self.given.len()
            && dataset
                .positions_px()
                .iter()
                .zip(&self.given)
                .all(|(a, b)| (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6);
        (same && self.refined.len() == self.given.len()).then_some(self.refined.as_slice())
    }

    /// Reads `positions.json` in a model directory (`None` when absent).
    pub fn read(dir: &Path) -> Result<Option<Self>, String> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: damaged: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }
}

/// The file in a model directory.
pub const FILE: &str = "positions.json";

/// The registration search of `config`: radius `position_search_px` (0: N/2).
pub fn registration_options(config: &TrainConfig) -> RegistrationOptions {
    RegistrationOptions {
        search_px: if config.position_search_px == 0 {
            config.n / 2
        } else {
            config.position_search_px
        },
        ..RegistrationOptions::default()
    }
}

/// The network's patch for every pattern of `dataset` (normalised by `factor`), in batches.
pub fn predict_all(
    network: &PinnNet,
    dataset: &Dataset,
    factor: f64,
    device: &Device,
) -> Result<Vec<Array2<Complex32>>, InferError> {
    const BATCH: usize = 64;
    let n = dataset.n();
    let mut patches = Vec::with_capacity(dataset.len());
    let indices: Vec<usize> = (0..dataset.len()).collect();
    for chunk in indices.chunks(BATCH) {
        let mut x = ndarray::Array4::<f32>::zeros((chunk.len(), 1, n, n));
        for (b, &i) in chunk.iter().enumerate() {
            x.slice_mut(s![b, 0, .., ..]).assign(&dataset.pattern(i)?);
        }
        x.mapv_inplace(|v| v * factor as f32);
        let predicted = predict_patches(network, &x, device)?;
        for b in 0..chunk.len() {
            patches.push(predicted.slice(s![b, 0, .., ..]).to_owned());
        }
    }
    Ok(patches)
}

/// One refinement of `current` (the training scan's positions so far) with `network`
/// (inference mode): every patch predicted, then registered ([`refine_positions`]); the mean
/// displacement from the scan's given positions stays zero.
pub fn refine(
    network: &PinnNet,
    dataset: &Dataset,
    factor: f64,
    current: &[[f64; 2]],
    probe: &Array2<Complex32>,
    options: &RegistrationOptions,
    device: &Device,
) -> Result<(Vec<[f64; 2]>, RegistrationSummary), InferError> {
    let patches = predict_all(network, dataset, factor, device)?;
    let weights = StitchWeights::Illumination.patch_weights(probe);
    let (mut refined, summary) = refine_positions(
        &patches,
        (current, dataset.positions_px()),
        &weights,
        options,
    );
    crate::positions::pin_mean(&mut refined, dataset.positions_px());
    Ok((refined, summary))
}
