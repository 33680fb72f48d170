//! `ptychostudio evaluate RECON TRUTH [--json]`

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use ndarray::Ix2;
use num_complex::Complex32;

use super::args::{CommonArgs, LoadArgs};
use crate::data::reconstruction::Reconstruction;
use crate::data::{Dataset, load};
use crate::infer::stitch::StitchWeights;
use crate::io::NpzReader;
use crate::metrics::{Evaluation, evaluate};

/// Arguments of `evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The reconstruction: an NPZ with `objectGuess` and, as `infer` and `epie` write them,
    /// `origin_x_px` / `origin_y_px` (the object coordinates of its pixel (0, 0); 0 when absent).
    pub recon: PathBuf,
    /// The scan with the true object (`objectGuess`); its positions define the scanned region.
    /// With `--scan`, a reference reconstruction instead (an NPZ as `epie` and `infer` write
    /// it), for real data that have no true object.
    pub truth: PathBuf,
    /// The scan whose positions define the compared region, when TRUTH is a reference
    /// reconstruction (e.g. the network against ePIE on the Siemens star).
    #[arg(long, value_name = "FILE")]
    pub scan: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Skip the sub-pixel registration.
    #[arg(long)]
    pub no_register: bool,
    /// Compare over the pixels that central M × M crops at the positions cover (the reference's
    /// stitch) instead of the pixels the probe lit.
    #[arg(long, value_name = "M")]
    pub crop: Option<usize>,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub(super) fn read_recon(path: &Path) -> anyhow::Result<(ndarray::Array2<Complex32>, [f64; 2])> {
    let mut npz =
        NpzReader::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let array = npz
        .read("objectGuess")
        .with_context(|| format!("{}: no objectGuess", path.display()))?;
    let shape = array.shape().to_vec();
    let Some(object) = array
        .to_c32()
        .and_then(|a| a.into_dimensionality::<Ix2>().ok())
    else {
        bail!(
            "{}: objectGuess has shape {shape:?}; expected a 2-D complex or real array",
            path.display()
        );
    };
    let mut origin = [0.0; 2];
    for (slot, key) in origin.iter_mut().zip(["origin_x_px", "origin_y_px"]) {
        if let Some(v) = npz.read_optional(key)? {
            *slot = v
                .as_scalar_f64()
                .with_context(|| format!("{}: {key} is not a number", path.display()))?;
        }
    }
    Ok((object, origin))
}

/// Logs the figures, one line per channel.
/// With the scan's pixel size, the FRC crossings also as half-period resolutions in nm.
pub fn log_evaluation(e: &Evaluation, pixel_size_m: Option<f64>) {
    let show = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
    for (name, c) in [("amplitude", &e.amplitude), ("phase", &e.phase)] {
        tracing::info!(
            "{name:>9}: Pearson {} SSIM {} MAE {:.4} PSNR {:.2} dB (peak = truth's data range) \
             FRC ½-bit {} FRC50 {} (fraction of Nyquist)",
            show(c.pearson),
            show(c.ssim),
            c.mae,
            c.psnr_db,
            show(c.frc_half_bit),
            show(c.frc50)
        );
        if let Some(fraction) = c.frc_half_bit.filter(|&f| f > 0.0) {
            // At Nyquist (fraction 1) the half period is one pixel.
            let half_period_px = 1.0 / fraction;
            let nm = pixel_size_m.map_or_else(String::new, |p| {
                format!(" = {:.1} nm", half_period_px * p * 1e9)
            });
            tracing::info!(
                "{name:>9}: FRC ½-bit half-period resolution {half_period_px:.2} px{nm} (rings \
                 below {} skipped: background)",
                crate::metrics::frc::FIRST_RING
            );
        }
    }
    let registration = if e.registered {
        format!(
            "registered by ({:.2}, {:.2}) px",
            e.shift_px[0], e.shift_px[1]
        )
    } else {
        "not registered".to_owned()
    };
    tracing::info!(
        "compared the illuminated {:.1} % of the scanned {} × {} px, {registration}; phase \
         planes removed, amplitude scaled by the ratio of means",
        100.0 * e.compared_fraction,
        e.region_px[0],
        e.region_px[1],
    );
}

/// When `dataset` has a true object, evaluates `recon` against it over the scanned region, logs
/// the figures and writes them to `path` as JSON. Shared by `epie`, `infer` and `train`.
pub fn evaluate_against_truth(
    recon: &Reconstruction,
    dataset: &Dataset,
    path: &Path,
) -> anyhow::Result<()> {
    let Some(truth) = dataset.object() else {
        return Ok(());
    };
    if let Some(e) = evaluate(
        &recon.object,
        recon.origin_px,
        truth,
        dataset.positions_px(),
        true,
        Some(&StitchWeights::Illumination.patch_weights(dataset.probe())),
    ) {
        log_evaluation(&e, dataset.physical.pixel_size_m);
        crate::io::atomic::write_atomic(path, serde_json::to_string_pretty(&e)?.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Compares `recon` with a reference reconstruction (each with the object coordinates of its
/// pixel (0, 0)) over the scan `positions_px`, in the reference's pixel frame, over the pixels
/// `patch_weights` light (real data have no true object: e.g. the network against ePIE).
pub fn evaluate_against_reference(
    recon: (&ndarray::Array2<Complex32>, [f64; 2]),
    reference: (&ndarray::Array2<Complex32>, [f64; 2]),
    positions_px: &[[f64; 2]],
    register: bool,
    patch_weights: &ndarray::Array2<f32>,
) -> Option<Evaluation> {
    // The reference's pixel (0, 0) becomes the origin.
    let [rx, ry] = reference.1;
    let positions: Vec<[f64; 2]> = positions_px
        .iter()
        .map(|p| [p[0] - rx, p[1] - ry])
        .collect();
    evaluate(
        recon.0,
        [recon.1[0] - rx, recon.1[1] - ry],
        reference.0,
        &positions,
        register,
        Some(patch_weights),
    )
}

/// Compares and prints.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<()> {
    let (object, origin) = read_recon(&args.recon)?;
    let region = |probe| StitchWeights::from_crop(args.crop).patch_weights(probe);
    let pixel_size_m;
    let e = match &args.scan {
        None => {
            let loaded = match load(&args.truth, &args.load.options()) {
                Ok(loaded) => loaded,
                Err(e) if read_recon(&args.truth).is_ok() => bail!(
                    "{} is a reconstruction, not a scan ({e}): to compare with it, pass the \
                     scan whose positions define the region with --scan FILE",
                    args.truth.display()
                ),
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot load {}", args.truth.display()));
                }
            };
            let Some(truth) = loaded.dataset.object() else {
                bail!(
                    "{}: no objectGuess, so there is nothing to compare with (for a reference \
                     reconstruction, pass the scan with --scan)",
                    args.truth.display()
                );
            };
            pixel_size_m = loaded.dataset.physical.pixel_size_m;
            evaluate(
                &object,
                origin,
                truth,
                loaded.dataset.positions_px(),
                !args.no_register,
                Some(&region(loaded.dataset.probe())),
            )
        }
        Some(scan) => {
            let (reference, reference_origin) = read_recon(&args.truth)?;
            let loaded = load(scan, &args.load.options())
                .with_context(|| format!("cannot load {}", scan.display()))?;
            pixel_size_m = loaded.dataset.physical.pixel_size_m;
            evaluate_against_reference(
                (&object, origin),
                (&reference, reference_origin),
                loaded.dataset.positions_px(),
                !args.no_register,
                &region(loaded.dataset.probe()),
            )
        }
    };
    let Some(e) = e else {
        bail!("the reconstruction and the scanned region of the reference do not overlap");
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        log_evaluation(&e, pixel_size_m);
    }
    Ok(())
}
