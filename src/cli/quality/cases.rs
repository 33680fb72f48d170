//! The named quality cases: their data (files, a simulation, or the star with ePIE's
//! reference reconstruction) and default budgets.

use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;

use crate::data::reconstruction::Reconstruction;
use crate::data::simulate::{ScanPattern, SimulationConfig, simulate_lines_scan};
use crate::data::{Dataset, LoadOptions, load};
use crate::epie::{EpieConfig, run_epie};
use crate::positions::{PositionErrors, displace};
use crate::train::TrainConfig;

/// The named cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QualityCase {
    /// The reduced §9 case on the reference's own files (`reference_lines/`): 512 groups,
    /// 30 epochs, gridsize 1.
    #[value(name = "lines-512")]
    #[serde(rename = "lines-512")]
    Lines512,
    /// The full §9 case on our own simulation (2 048 training + 512 test positions): 2 048
    /// groups, 60 epochs (meant for a GPU).
    #[value(name = "lines-2048")]
    #[serde(rename = "lines-2048")]
    Lines2048,
    /// `lines-512` at gridsize 2.
    #[value(name = "lines-g2")]
    #[serde(rename = "lines-g2")]
    LinesG2,
    /// The real Siemens star: the network against ePIE, run in the same command, over the scan.
    Star,
    /// `lines-512`'s test scan (simulated at the true positions) given with position errors as
    /// measured scans have them (7 px RMS, 2 % outliers of 20–30 px, a drift): trained and
    /// reconstructed on the scan itself; ePIE with position correction runs in the same
    /// command. `--exact-positions` gives the same run at the true positions.
    #[value(name = "lines-512-positions")]
    #[serde(rename = "lines-512-positions")]
    Lines512Positions,
}

/// The data of one case.
pub(super) struct CaseData {
    pub train: Dataset,
    pub test: Dataset,
    pub train_name: String,
    pub test_name: String,
    /// The object the test reconstruction is compared with, its origin, and what it is.
    pub reference: Option<(Reconstruction, String)>,
    pub config: TrainConfig,
    /// The true positions of the test scan, when the case gives it displaced ones.
    pub true_positions: Option<Vec<[f64; 2]>>,
}

fn load_file(path: &Path) -> anyhow::Result<Dataset> {
    Ok(load(path, &LoadOptions::default())
        .with_context(|| format!("cannot load {}", path.display()))?
        .dataset)
}

/// What a case's data depend on besides its name.
pub(super) struct CaseOptions<'a> {
    /// Seed of the weights, grouping and batch order, and of a simulation.
    pub seed: u64,
    /// The folder with `reference_lines/` and `siemens_star_tike.npz`.
    pub data_dir: &'a Path,
    /// ePIE sweeps of the star's reference reconstruction.
    pub epie_iterations: usize,
    /// `lines-512-positions`: give the true positions (the baseline run).
    pub exact_positions: bool,
}

/// The case's data and its default configuration.
pub(super) fn case_data(case: QualityCase, args: &CaseOptions<'_>) -> anyhow::Result<CaseData> {
    let lines = args.data_dir.join("reference_lines");
    let base = TrainConfig {
        seed: args.seed,
        early_stopping_patience: 0,
        ..TrainConfig::default()
    };
    let from_reference = |gridsize: usize| -> anyhow::Result<CaseData> {
        let (train_path, test_path) = (lines.join("train.npz"), lines.join("test.npz"));
        Ok(CaseData {
            train: load_file(&train_path)?,
            test: load_file(&test_path)?,
            train_name: train_path.display().to_string(),
            test_name: test_path.display().to_string(),
            reference: None,
            true_positions: None,
            config: TrainConfig {
                gridsize,
                n_groups: 512,
                nepochs: 30,
                ..base.clone()
            },
        })
    };
    match case {
        QualityCase::Lines512Positions => positions_case(&lines, args.exact_positions, &base),
        QualityCase::Lines512 => from_reference(1),
        QualityCase::LinesG2 => from_reference(2),
        QualityCase::Lines2048 => {
            let sim = SimulationConfig {
                seed: args.seed,
                ..SimulationConfig::default()
            };
            let scan = |count: usize, seed: u64| -> anyhow::Result<Dataset> {
                Ok(simulate_lines_scan(&sim, ScanPattern::Random { count }, seed)?.dataset)
            };
            Ok(CaseData {
                train: scan(2048, args.seed)?,
                test: scan(512, args.seed.wrapping_add(1_000_003))?,
                train_name: format!("simulated §9, 2 048 positions, seed {}", args.seed),
                test_name: format!(
                    "simulated §9, 512 positions, seed {}",
                    args.seed + 1_000_003
                ),
                reference: None,
                true_positions: None,
                config: TrainConfig {
                    n_groups: 2048,
                    nepochs: 60,
                    ..base
                },
            })
        }
        QualityCase::Star => {
            let path = args.data_dir.join("siemens_star_tike.npz");
            let dataset = load_file(&path)?;
            tracing::info!("ePIE: {} sweeps for the reference", args.epie_iterations);
            let epie = run_epie(
                &dataset,
                EpieConfig {
                    iterations: args.epie_iterations,
                    seed: args.seed,
                    ..EpieConfig::default()
                },
                |_| true,
            )?;
            let reference = Reconstruction {
                object: epie.object,
                probe: epie.probe,
                origin_px: epie.origin_px,
                costs: epie.errors,
                method: "ePIE".into(),
                refined_positions_px: None,
            };
            Ok(CaseData {
                train: dataset.clone(),
                test: dataset,
                train_name: path.display().to_string(),
                test_name: path.display().to_string(),
                true_positions: None,
                reference: Some((
                    reference,
                    format!("{} sweeps of ePIE (probe refined)", args.epie_iterations),
                )),
                config: TrainConfig {
                    n: 128,
                    n_groups: 516,
                    nepochs: 30,
                    n_filters_scale: 1,
                    probe_mask: true,
                    ..base
                },
            })
        }
    }
}

/// `lines-512-positions`: the reference's test scan, trained and reconstructed on itself, its
/// positions given displaced ([`PositionErrors::default`]) unless `exact_positions`.
fn positions_case(
    lines: &std::path::Path,
    exact_positions: bool,
    base: &TrainConfig,
) -> anyhow::Result<CaseData> {
    let path = lines.join("test.npz");
    let truth = load_file(&path)?;
    let true_positions = truth.positions_px().to_vec();
    let (scan, what) = if exact_positions {
        (truth, "at the true positions")
    } else {
        let given = displace(&true_positions, &PositionErrors::default());
        (truth.with_positions(given)?, "with position errors")
    };
    let name = format!("{} ({what})", path.display());
    Ok(CaseData {
        train: scan.clone(),
        test: scan,
        train_name: name.clone(),
        test_name: name,
        reference: None,
        true_positions: Some(true_positions),
        config: TrainConfig {
            n_groups: 512,
            nepochs: 30,
            ..base.clone()
        },
    })
}
