//! What `bench quality` writes to `quality.json`.

use super::cases::{CaseData, QualityCase};
use super::score::EpochFigures;
use crate::train::{ModelBundle, TrainConfig};

/// Everything `bench quality` measured.
#[derive(Debug, serde::Serialize)]
pub struct QualityReport {
    /// The case.
    pub case: QualityCase,
    /// Seed.
    pub seed: u64,
    /// "cpu" or "wgpu", and Burn's name of the device.
    pub device: String,
    /// The training data.
    pub train_data: String,
    /// The data the reconstruction is scored on.
    pub test_data: String,
    /// What the reconstruction is compared with.
    pub compared_with: String,
    /// The whole training configuration.
    pub settings: TrainConfig,
    /// Wall-clock seconds of the whole case (data, training, inference, evaluation).
    pub wall_secs: f64,
    /// Seconds spent training.
    pub train_secs: f64,
    /// Mean training patterns per second over the epochs.
    pub train_patterns_per_s: f64,
    /// Inference patterns per second on the test scan (stitching included).
    pub infer_patterns_per_s: f64,
    /// Per epoch: training and validation loss (full Poisson NLL per pixel).
    pub losses: Vec<[f64; 3]>,
    /// The evaluations, the last one after the final epoch.
    pub evaluations: Vec<EpochFigures>,
    /// How the figures were taken.
    pub notes: Vec<String>,
    /// ePIE on the same scan, when the case runs it beside the network with known true
    /// positions (`lines-512-positions`).
    pub epie: Option<super::epie_side::EpieFigures>,
    /// `--refine-epie K`: ePIE seeded by the network beside ePIE from scratch, per sweep.
    pub seeded_epie: Option<super::seeded_side::SeededFigures>,
    /// The simulated scan's regime (`lines-dose`, `lines-overlap`).
    pub scan: Option<super::cases::ScanFacts>,
}

/// Everything measured, as written to `quality.json`; `times` = [wall, training] seconds and
/// the inference patterns/s; `device_name` is "cpu" or "wgpu".
pub(super) fn make_report(
    (case, seed, device_name): (QualityCase, u64, &str),
    data: &CaseData,
    bundle: &ModelBundle,
    device: &burn::prelude::Device,
    times: [f64; 3],
    evaluations: Vec<EpochFigures>,
) -> QualityReport {
    let [wall_secs, train_secs, infer_rate] = times;
    let history = &bundle.history;
    let rate = history.iter().map(|r| r.patterns_per_s).sum::<f64>() / history.len().max(1) as f64;
    QualityReport {
        case,
        seed,
        device: format!("{device_name} ({device:?})"),
        train_data: data.train_name.clone(),
        test_data: data.test_name.clone(),
        compared_with: data.reference.as_ref().map_or_else(
            || "the test scan's true object".to_owned(),
            |(_, what)| what.clone(),
        ),
        settings: bundle.manifest.config.clone(),
        wall_secs,
        train_secs,
        train_patterns_per_s: rate,
        infer_patterns_per_s: infer_rate,
        losses: history
            .iter()
            .map(|r| [r.epoch as f64, r.train_loss, r.val_loss])
            .collect(),
        evaluations,
        notes: vec![
            "no registration: positions are exact, and a registration shift would hide a \
             misplaced object; phase planes removed and amplitude scaled by the ratio of means \
             over the compared pixels"
                .into(),
            "illuminated: patches weighted by |P|² inside the N/2 support, compared where the \
             summed weight reaches 10 % of one probe's peak"
                .into(),
            "reference_frame: central crops (N·20/64 px) with unit weights, compared over the \
             pixels they cover (the reference's figures were taken this way)"
                .into(),
            "with displaced positions (lines-512-positions): reconstructions are moved by the \
             mean position error (a global shift no method can observe) and compared over the \
             pixels lit at the true positions"
                .into(),
        ],
        epie: None,
        seeded_epie: None,
        scan: None,
    }
}
