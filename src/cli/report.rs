//! `ptychostudio report --data FILE (--model DIR | --reconstruction FILE) --output PNG`: the
//! window's exported report page, from files.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::args::{CommonArgs, LoadArgs};
use crate::data::load;
use crate::data::summary::dataset_summary;
use crate::device::{DeviceChoice, build_device};
use crate::epie::{EpieConfig, run_epie};
use crate::io::report::write_report;
use crate::report::{
    Method, NETWORK_LABEL, ReportInputs, ShownModel, ShownObject, TRUE_OBJECT_LABEL, compose,
    object_checks, object_metrics, reconstruct_like_the_window, report_time,
};
use crate::train::ModelBundle;

/// Arguments of `report`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("object").required(true).args(["model", "reconstruction"]))]
pub struct ReportArgs {
    /// The scan (NPZ): its probe and facts, and its true object for the metrics when it has one.
    #[arg(long)]
    pub data: PathBuf,
    /// A model directory (or a run directory with `model/`): the scan is reconstructed with it
    /// as the window's Reconstruct does, and the page shows its settings and loss curves.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// A reconstruction NPZ (`objectGuess`, `origin_x_px`, `origin_y_px`, as `infer`, `train`
    /// and the window's Export write them) to show instead of running a model.
    #[arg(long)]
    pub reconstruction: Option<PathBuf>,
    /// Also run this many sweeps of ePIE on the scan and show its phase beside the network's
    /// (the window's Run ePIE).
    #[arg(long, value_name = "SWEEPS")]
    pub epie: Option<usize>,
    /// Draw the phase with its best-fitting plane removed (the window's "remove phase ramp").
    #[arg(long)]
    pub remove_phase_ramp: bool,
    /// Draw the objects' phase on ±π (the window's "phase ±π") [default: a scale fitted to
    /// each].
    #[arg(long)]
    pub full_phase_range: bool,
    /// The PNG to write. The page's date is `SOURCE_DATE_EPOCH` when set, else now.
    #[arg(long)]
    pub output: PathBuf,
    /// Where the network runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What the object was made with: the probe (the model's, trained when it was, or the file's
/// `probeGuess`), the method, and the scan at the positions it was stitched at. The data fit
/// needs all three.
fn made_with(
    args: &ReportArgs,
    bundle: Option<&ModelBundle>,
    dataset: &crate::data::Dataset,
    label: &str,
) -> (
    Option<ndarray::Array2<num_complex::Complex32>>,
    Method,
    crate::data::Dataset,
) {
    let probe = match bundle {
        Some(bundle) => Some(bundle.probe.clone()),
        None => args
            .reconstruction
            .as_deref()
            .and_then(|file| crate::io::NpzReader::open(file).ok())
            .and_then(|mut npz| npz.read("probeGuess").ok())
            .and_then(|p| p.to_c32())
            .and_then(|p| p.into_dimensionality::<ndarray::Ix2>().ok()),
    };
    let method = if label == NETWORK_LABEL {
        Method::Network
    } else {
        Method::Epie
    };
    let scan = bundle
        .and_then(|b| b.at_refined_positions(dataset))
        .unwrap_or_else(|| dataset.clone());
    (probe, method, scan)
}

/// Composes and writes the page.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let loaded = load(&args.data, &args.load.options())
        .with_context(|| format!("cannot load {}", args.data.display()))?;
    let dataset = &loaded.dataset;
    let summary = dataset_summary(&args.data, dataset, loaded.layout);
    let (object, origin_px, label, metrics, bundle) = match (&args.model, &args.reconstruction) {
        (Some(dir), _) => {
            let device = build_device(args.device, false)?;
            let bundle = ModelBundle::load(dir, &device)
                .with_context(|| format!("cannot load a model from {}", dir.display()))?;
            tracing::info!("reconstructing {} patterns", dataset.len());
            let (stitched, metrics) = reconstruct_like_the_window(&bundle, dataset, &device)
                .with_context(|| format!("cannot reconstruct {}", args.data.display()))?;
            (
                stitched.object,
                stitched.origin_px,
                NETWORK_LABEL.to_owned(),
                metrics,
                Some(bundle),
            )
        }
        (None, Some(file)) => {
            let (object, origin) = super::evaluate::read_recon(file)?;
            let metrics = object_metrics(&object, origin, dataset);
            // The method the file names ("ePIE", "PtychoPINN"), when it names one.
            let label = crate::io::NpzReader::open(file)
                .and_then(|mut npz| npz.read("method"))
                .ok()
                .and_then(|m| m.as_scalar_str().map(str::to_owned))
                .unwrap_or_else(|| NETWORK_LABEL.to_owned());
            (object, origin, label, metrics, None)
        }
        (None, None) => anyhow::bail!("give --model DIR or --reconstruction FILE"),
    };
    let epie = args
        .epie
        .map(|sweeps| -> anyhow::Result<_> {
            let sweeps = sweeps.max(1);
            tracing::info!("{sweeps} sweeps of ePIE");
            let config = EpieConfig {
                iterations: sweeps,
                ..EpieConfig::default()
            };
            Ok((
                format!("ePIE, {sweeps} sweeps"),
                run_epie(dataset, config, |_| true)?,
            ))
        })
        .transpose()?;
    let (probe, method, scan) = made_with(args, bundle.as_ref(), dataset, &label);
    let checks = object_checks(&object, origin_px, probe.as_ref(), &scan, method);
    for warning in checks.iter().flat_map(|c| &c.warnings) {
        tracing::warn!("{warning}");
    }
    let source = args
        .model
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let page = compose(&ReportInputs {
        reconstruction: Some(ShownObject {
            label: &label,
            object: &object,
        }),
        // Beside it, as in the window: ePIE when it ran, else the scan's true object.
        comparison: epie
            .as_ref()
            .map(|(label, result)| ShownObject {
                label,
                object: &result.object,
            })
            .or_else(|| {
                dataset.object().map(|object| ShownObject {
                    label: TRUE_OBJECT_LABEL,
                    object,
                })
            }),
        probe: Some(probe.as_ref().unwrap_or(dataset.probe())),
        dataset_summary: &summary,
        model: bundle.as_ref().map(|bundle| ShownModel {
            bundle,
            source: &source,
        }),
        history: &[],
        metrics: metrics.as_ref(),
        checks: checks.as_ref(),
        remove_phase_ramp: args.remove_phase_ramp,
        full_phase_range: args.full_phase_range,
        created: report_time(),
    });
    if let Some(parent) = args.output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write_report(&args.output, &page)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if !args.common.quiet {
        println!("{}", args.output.display());
    }
    Ok(())
}
