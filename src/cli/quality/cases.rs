//! The named quality cases: their data (files, a simulation, or the star with ePIE's
//! reference reconstruction) and default budgets.

use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;

use crate::data::reconstruction::Reconstruction;
use crate::data::regime::{linear_overlap, probe_diameter_px, raster_step_px};
use crate::data::simulate::{
    ScanPattern, SimulationConfig, default_probe, scan_positions, simulate_lines_scan,
};
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
    /// The §9 lines object under 512 random positions at `--photons` per pattern (default
    /// 1e4), the network told the dose: trained and reconstructed on the scan itself, ePIE on
    /// the same scan, both against the truth.
    #[value(name = "lines-dose")]
    #[serde(rename = "lines-dose")]
    LinesDose,
    /// A lines object of the §9 line density on a 228-px square, scanned by a raster of linear
    /// overlap `--overlap` (default 0.3; see `data::regime`) or by `--scan random` positions at
    /// the raster's density, at `--photons` (default 1e9): trained (512 × 30 patterns in all,
    /// whatever the scan's size) and reconstructed on itself, ePIE on the same scan.
    #[value(name = "lines-overlap")]
    #[serde(rename = "lines-overlap")]
    LinesOverlap,
}

/// How `lines-overlap` places its positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanKind {
    /// A square raster.
    Raster,
    /// Uniformly random positions, as many as the raster's.
    Random,
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
    /// The true positions of the test scan, when the case knows them (exact or displaced).
    pub true_positions: Option<Vec<[f64; 2]>>,
    /// Training patterns in all (groups × channels × epochs) the epochs are sized to when the
    /// scan's size varies (`lines-overlap`), so each run gets the same budget.
    pub pattern_budget: Option<usize>,
    /// What the case's scan is, for the report (photons, overlap, positions).
    pub scan_facts: Option<ScanFacts>,
}

/// The regime of a simulated scan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanFacts {
    /// Mean photons per pattern of the simulation.
    pub photons: f64,
    /// "raster" or "random".
    pub scan: String,
    /// Number of positions.
    pub positions: usize,
    /// The raster step (or the step of the raster whose density random positions have), px.
    pub step_px: Option<f64>,
    /// The probe's diameter (`data::regime::probe_diameter_px`), px.
    pub probe_diameter_px: Option<f64>,
    /// The linear overlap 1 − d/D, d the median nearest-neighbour distance.
    pub linear_overlap: Option<f64>,
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
    /// `lines-dose` and `lines-overlap`: photons per pattern [default: the case's].
    pub photons: Option<f64>,
    /// `lines-overlap`: the raster's linear overlap.
    pub overlap: f64,
    /// `lines-overlap`: raster or random positions.
    pub scan: ScanKind,
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
            pattern_budget: None,
            scan_facts: None,
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
        QualityCase::LinesDose => dose_case(args, &base),
        QualityCase::LinesOverlap => overlap_case(args, &base),
        QualityCase::Lines512 => from_reference(1),
        QualityCase::LinesG2 => from_reference(2),
        QualityCase::Lines2048 => lines_2048_case(args, &base),
        QualityCase::Star => star_case(args, &base),
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
        pattern_budget: None,
        scan_facts: None,
        config: TrainConfig {
            n_groups: 512,
            nepochs: 30,
            ..base.clone()
        },
    })
}

/// A simulated scan trained and reconstructed on itself, its exact positions known (so ePIE
/// runs beside the network and both are scored against the truth).
fn self_supervised(
    scan: Dataset,
    name: String,
    facts: ScanFacts,
    config: TrainConfig,
    pattern_budget: Option<usize>,
) -> CaseData {
    CaseData {
        true_positions: Some(scan.positions_px().to_vec()),
        train: scan.clone(),
        test: scan,
        train_name: name.clone(),
        test_name: name,
        reference: None,
        pattern_budget,
        scan_facts: Some(facts),
        config,
    }
}

/// `lines-dose`: the §9 object, 512 random positions, `photons` per pattern.
fn dose_case(args: &CaseOptions<'_>, base: &TrainConfig) -> anyhow::Result<CaseData> {
    let photons = args.photons.unwrap_or(1e4);
    let sim = SimulationConfig {
        seed: args.seed,
        nphotons: photons,
        ..SimulationConfig::default()
    };
    let scan = simulate_lines_scan(&sim, ScanPattern::Random { count: 512 }, args.seed)?.dataset;
    let facts = ScanFacts {
        photons,
        scan: "random".into(),
        positions: scan.len(),
        step_px: None,
        probe_diameter_px: probe_diameter_px(scan.probe()),
        linear_overlap: linear_overlap(scan.positions_px(), scan.probe()),
    };
    let name = format!(
        "simulated §9, 512 random positions, {photons:.0e} photons, seed {}",
        args.seed
    );
    let config = TrainConfig {
        n_groups: 512,
        nepochs: 30,
        nphotons: photons,
        ..base.clone()
    };
    Ok(self_supervised(scan, name, facts, config, None))
}

/// Side of `lines-overlap`'s object: a 160-px scanned square at N = 64.
const OVERLAP_OBJECT_PX: usize = 228;

/// `lines-overlap`: a raster of linear overlap `args.overlap`, or random positions at its
/// density.
fn overlap_case(args: &CaseOptions<'_>, base: &TrainConfig) -> anyhow::Result<CaseData> {
    let photons = args.photons.unwrap_or(1e9);
    let standard = SimulationConfig::default();
    let ratio = OVERLAP_OBJECT_PX as f64 / standard.object_size as f64;
    let sim = SimulationConfig {
        seed: args.seed,
        nphotons: photons,
        object_size: OVERLAP_OBJECT_PX,
        // The §9 density of lines per pixel.
        n_lines: (standard.n_lines as f64 * ratio * ratio).round() as usize,
        ..standard
    };
    let probe = default_probe(sim.n);
    let diameter = probe_diameter_px(&probe).context("the default probe is empty")?;
    let step_px = raster_step_px(args.overlap, diameter);
    if step_px.is_nan() || step_px < 1.0 {
        anyhow::bail!(
            "--overlap {} gives a raster step of {step_px:.2} px; it must be at least 1 px",
            args.overlap
        );
    }
    let raster = ScanPattern::Raster { step_px };
    let pattern = match args.scan {
        ScanKind::Raster => raster,
        ScanKind::Random => ScanPattern::Random {
            count: scan_positions(raster, sim.n, sim.object_size, args.seed).len(),
        },
    };
    let scan = simulate_lines_scan(&sim, pattern, args.seed)?.dataset;
    let kind = match args.scan {
        ScanKind::Raster => "raster",
        ScanKind::Random => "random",
    };
    let facts = ScanFacts {
        photons,
        scan: kind.into(),
        positions: scan.len(),
        step_px: Some(step_px),
        probe_diameter_px: Some(diameter),
        linear_overlap: linear_overlap(scan.positions_px(), scan.probe()),
    };
    let name = format!(
        "simulated lines {OVERLAP_OBJECT_PX}², {kind} at the density of a {step_px:.1}-px raster \
         ({} positions, raster overlap {:.0} %), {photons:.0e} photons, seed {}",
        scan.len(),
        100.0 * args.overlap,
        args.seed
    );
    let config = TrainConfig {
        n_groups: 512,
        nepochs: 30,
        nphotons: photons,
        ..base.clone()
    };
    Ok(self_supervised(scan, name, facts, config, Some(512 * 30)))
}

/// `lines-2048`: our own §9 simulation, 2 048 training and 512 test positions.
fn lines_2048_case(args: &CaseOptions<'_>, base: &TrainConfig) -> anyhow::Result<CaseData> {
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
        pattern_budget: None,
        scan_facts: None,
        config: TrainConfig {
            n_groups: 2048,
            nepochs: 60,
            ..base.clone()
        },
    })
}

/// `star`: the real Siemens star against ePIE's reconstruction of it.
fn star_case(args: &CaseOptions<'_>, base: &TrainConfig) -> anyhow::Result<CaseData> {
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
        pattern_budget: None,
        scan_facts: None,
        reference: Some((
            reference,
            format!("{} sweeps of ePIE (probe refined)", args.epie_iterations),
        )),
        config: TrainConfig {
            n: 128,
            n_groups: 516,
            nepochs: 30,
            n_filters_scale: 1,
            ..base.clone()
        },
    })
}
