//! The exported report's content, composed from a scan, a model and a reconstruction: the same
//! page from the window's Export and from `ptychostudio report`. [`crate::io::report`] draws it.
//! Also the window's reconstruction settings and metrics, so both front ends compute the same
//! object and the same figures.

use std::time::SystemTime;

use ndarray::Array2;
use num_complex::Complex32;

use crate::data::Dataset;
use crate::data::regime::photon_quantum;
use crate::infer::Stitched;
use crate::infer::stitch::StitchWeights;
use crate::io::report::{LossCurve, Report, ReportImage, ReportMap, utc_timestamp};
use crate::metrics::align::display_phase;
use crate::metrics::evaluate::{ChannelScores, Evaluation, evaluate};
use crate::metrics::noise_floor::fourier_noise_floor;
use crate::metrics::region::{COVERED_FRACTION, unlit_as_nan};
use crate::metrics::residual::{data_fit_read, nearest_pixel_positions, residual_map};
use crate::metrics::trust::{TrustChecks, trust_checks};
use crate::train::{EpochRecord, ModelBundle};

/// The report's file name inside an export directory.
pub const REPORT_FILE: &str = "ptychostudio_report.png";

/// The label of the network's reconstruction (window and report).
pub const NETWORK_LABEL: &str = "PtychoPINN";

/// The label of a scan's own true object (`objectGuess`), shown beside a reconstruction.
pub const TRUE_OBJECT_LABEL: &str = "true object (objectGuess)";

/// The §7 metrics the window shows for a reconstruction, when the scan holds its true object
/// (none for a stopped, partial one): over the illuminated region, with registration.
pub fn reconstruction_metrics(stitched: &Stitched, dataset: &Dataset) -> Option<Evaluation> {
    if stitched.stopped {
        return None;
    }
    object_metrics(&stitched.object, stitched.origin_px, dataset)
}

/// [`reconstruction_metrics`] of any object whose pixel (0, 0) sits at `origin_px`.
pub fn object_metrics(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    dataset: &Dataset,
) -> Option<Evaluation> {
    evaluate(
        object,
        origin_px,
        dataset.object()?,
        dataset.positions_px(),
        true,
        Some(&StitchWeights::Illumination.patch_weights(dataset.probe())),
    )
}

/// Which method made an object: the checks treat their amplitudes and patch placement as the
/// method does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The network: amplitude bounded by a sigmoid, patches stitched at fractional positions.
    Network,
    /// ePIE (alone or seeded): amplitude unbounded, each patch at the nearest canvas pixel.
    Epie,
}

/// The checks that need no ground truth ([`crate::metrics::trust`]) of an object whose pixel
/// (0, 0) sits at `origin_px`, over the pixels `dataset`'s probe lights at its positions (the
/// positions the object was made at), and with `probe` its data fit per scan position
/// ([`crate::metrics::residual`]).
pub fn object_checks(
    object: &Array2<Complex32>,
    origin_px: [f64; 2],
    probe: Option<&Array2<Complex32>>,
    dataset: &Dataset,
    method: Method,
) -> Option<TrustChecks> {
    let weights = StitchWeights::Illumination.patch_weights(dataset.probe());
    let mut checks = trust_checks(
        object,
        origin_px,
        dataset.positions_px(),
        &weights,
        method == Method::Network,
    )?;
    checks.data_fit = probe.and_then(|probe| {
        let positions = match method {
            Method::Network => dataset.positions_px().to_vec(),
            Method::Epie => nearest_pixel_positions(dataset.positions_px(), origin_px, dataset.n()),
        };
        let mut fit = data_fit_read(object, origin_px, &positions, probe, dataset.n(), |j| {
            dataset.pattern(j).ok().map(|p| p.into_owned())
        })?;
        fit.fourier_error_noise_floor = photon_quantum(dataset).and_then(|quantum| {
            fourier_noise_floor(
                object,
                origin_px,
                &positions,
                probe,
                fit.intensity_scale,
                quantum,
            )
        });
        fit.map = Some(residual_map(
            &fit.position_deviance,
            &positions,
            &weights,
            origin_px,
            object.dim(),
            COVERED_FRACTION,
        ));
        Some(fit)
    });
    Some(checks)
}

/// The report's lines for `checks`.
pub fn checks_lines(checks: &TrustChecks) -> Vec<String> {
    let mut lines = vec![
        format!(
            "over {} lit pixels: phase {:.3} rad RMS (ramp removed; flat below {} rad)",
            checks.lit_pixels,
            checks.phase_std_rad,
            crate::metrics::trust::FLAT_PHASE_STD_RAD,
        ),
        format!(
            "amplitude spread {:.1} % of its mean{}",
            100.0 * checks.amplitude_relative_std,
            checks
                .amplitude_at_bound
                .map_or_else(String::new, |s| format!(
                    ", {:.1} % at the network's bound",
                    100.0 * s
                ))
        ),
    ];
    if let Some(fit) = &checks.data_fit {
        lines.push(format!(
            "data fit: Poisson deviance {:.3} per detector pixel (median position {:.3}),",
            fit.poisson_deviance_per_pixel,
            fit.median_position_deviance(),
        ));
        lines.push(format!(
            "  Fourier error {:.3e}{}; about 1 where counts are large and explained to their noise",
            fit.fourier_error,
            fit.fourier_error_noise_floor
                .map_or_else(String::new, |f| format!(" (photon noise alone: {f:.3e})"))
        ));
    }
    if checks.warnings.is_empty() {
        lines.push("no warnings".into());
    }
    for warning in &checks.warnings {
        lines.extend(wrapped(&format!("warning: {warning}"), LINE_CHARS));
    }
    lines
}

/// The longest line of the report's text sections, characters.
const LINE_CHARS: usize = 88;

/// `text` broken at spaces into lines of at most `width` characters (a longer word stays whole);
/// continuation lines are indented by two spaces.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        }
        if !line.is_empty() && !line.ends_with("  ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
}

/// An object on the page: what made it and its values.
#[derive(Debug, Clone, Copy)]
pub struct ShownObject<'a> {
    /// "PtychoPINN", "ePIE, 20 sweeps".
    pub label: &'a str,
    /// `[h, w]` the object.
    pub object: &'a Array2<Complex32>,
}

/// A model on the page: the bundle and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct ShownModel<'a> {
    /// The model.
    pub bundle: &'a ModelBundle,
    /// Its directory, or "trained in this session".
    pub source: &'a str,
}

/// Everything a report page shows.
#[derive(Debug, Clone, Copy)]
pub struct ReportInputs<'a> {
    /// The network's (or another method's) reconstruction.
    pub reconstruction: Option<ShownObject<'a>>,
    /// A second object beside it (ePIE).
    pub comparison: Option<ShownObject<'a>>,
    /// The scan's probe.
    pub probe: Option<&'a Array2<Complex32>>,
    /// The scan's facts ([`crate::data::summary::dataset_summary`]).
    pub dataset_summary: &'a [String],
    /// The model's settings and loss curves.
    pub model: Option<ShownModel<'a>>,
    /// Loss curves of a run without a model yet (the model's own history wins).
    pub history: &'a [EpochRecord],
    /// Metrics against the true object.
    pub metrics: Option<&'a Evaluation>,
    /// The reconstruction's checks without a ground truth.
    pub checks: Option<&'a TrustChecks>,
    /// Draw the phase with its best plane removed.
    pub remove_phase_ramp: bool,
    /// Draw the objects' phase on ±π (off: on a scale fitted to each).
    pub full_phase_range: bool,
    /// The date on the page.
    pub created: SystemTime,
}

/// The probe's phase is drawn only where |P| reaches this fraction of its peak: elsewhere it is
/// the phase of noise.
pub const PROBE_PHASE_FLOOR: f32 = 0.05;

/// arg P where |P| ≥ [`PROBE_PHASE_FLOOR`] · max |P|, NaN (drawn grey) elsewhere.
pub fn masked_probe_phase(probe: &Array2<Complex32>) -> Array2<f32> {
    let peak = probe.iter().map(|p| p.norm()).fold(0.0f32, f32::max);
    let floor = PROBE_PHASE_FLOOR * peak;
    probe.mapv(|p| if p.norm() >= floor { p.arg() } else { f32::NAN })
}

/// The date a report carries: `SOURCE_DATE_EPOCH` (seconds since 1970, the reproducible-builds
/// convention) when set, else now.
pub fn report_time() -> SystemTime {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or_else(SystemTime::now, |secs| {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
        })
}

/// The data-fit map of `checks`, when it has one.
fn residual_image(checks: &TrustChecks) -> Option<ReportImage> {
    let map = checks.data_fit.as_ref()?.map.as_ref()?;
    Some(ReportImage {
        title: "data fit: Poisson deviance per detector pixel, per scan position (grey: not lit)"
            .into(),
        values: map.clone(),
        map: ReportMap::Amplitude,
    })
}

/// The probe's amplitude and its phase (grey where the amplitude is negligible).
fn probe_images(probe: &Array2<Complex32>) -> [ReportImage; 2] {
    [
        ReportImage {
            title: "probe: amplitude".into(),
            values: probe.mapv(Complex32::norm),
            map: ReportMap::Amplitude,
        },
        ReportImage {
            title: format!(
                "probe: phase (grey: |P| under {:.0} % of its peak)",
                100.0 * PROBE_PHASE_FLOOR
            ),
            values: masked_probe_phase(probe),
            map: ReportMap::Phase,
        },
    ]
}

/// The page.
pub fn compose(inputs: &ReportInputs<'_>) -> Report {
    let mut report = Report {
        title: "PtychoStudio reconstruction report".into(),
        subtitle: format!(
            "{} · PtychoStudio {}",
            utc_timestamp(inputs.created),
            env!("CARGO_PKG_VERSION")
        ),
        ..Report::default()
    };
    let ramp = if inputs.remove_phase_ramp {
        ", phase ramp removed"
    } else {
        ""
    };
    let (phase_map, scale) = if inputs.full_phase_range {
        (ReportMap::Phase, "")
    } else {
        (ReportMap::PhaseFitted, ", scale fitted")
    };
    if let Some(recon) = inputs.reconstruction {
        // Pixels no probe lit (under 10 % of a peak) are grey: nothing reconstructed them.
        let lit = inputs
            .checks
            .and_then(|c| c.lit.as_ref())
            .filter(|lit| lit.dim() == recon.object.dim());
        let unlit = if lit.is_some() { ", grey: not lit" } else { "" };
        let mask = |values: Array2<f32>| match lit {
            Some(lit) => unlit_as_nan(values, lit),
            None => values,
        };
        report.images.push(ReportImage {
            title: format!("{}: amplitude{unlit}", recon.label),
            values: mask(recon.object.mapv(Complex32::norm)),
            map: ReportMap::Amplitude,
        });
        report.images.push(ReportImage {
            title: format!("{}: phase (mean removed{ramp}{scale}{unlit})", recon.label),
            values: mask(display_phase(recon.object, inputs.remove_phase_ramp)),
            map: phase_map,
        });
    }
    if let Some(cmp) = inputs.comparison {
        report.images.push(ReportImage {
            title: format!("{}: phase{scale}", cmp.label),
            values: display_phase(cmp.object, inputs.remove_phase_ramp),
            map: phase_map,
        });
    }
    report.images.extend(inputs.checks.and_then(residual_image));
    if let Some(probe) = inputs.probe {
        report.images.extend(probe_images(probe));
    }
    if !inputs.dataset_summary.is_empty() {
        report
            .sections
            .push(("Dataset".into(), inputs.dataset_summary.to_vec()));
    }
    let history = inputs
        .model
        .map_or(inputs.history, |m| m.bundle.history.as_slice());
    if !history.is_empty() {
        report.curves = loss_curves(history);
    }
    if let Some(model) = inputs.model {
        report
            .sections
            .push(("Model and training".into(), model_lines(model)));
    }
    if let Some(checks) = inputs.checks {
        report.sections.push((
            "How far to trust it (no ground truth needed)".into(),
            checks_lines(checks),
        ));
    }
    if let Some(m) = inputs.metrics {
        report.sections.push((
            "Metrics against the true object (§7 alignment)".into(),
            vec![
                scores_line("amplitude", &m.amplitude),
                scores_line("phase", &m.phase),
                format!(
                    "region {} × {} px, registration shift ({:.2}, {:.2}) px",
                    m.region_px[0], m.region_px[1], m.shift_px[0], m.shift_px[1]
                ),
            ],
        ));
    }
    report
}

fn loss_curves(history: &[EpochRecord]) -> Vec<LossCurve> {
    vec![
        LossCurve {
            label: "training".into(),
            points: history
                .iter()
                .map(|h| (h.epoch as f64, h.train_loss))
                .collect(),
        },
        LossCurve {
            label: "validation".into(),
            points: history
                .iter()
                .map(|h| (h.epoch as f64, h.val_loss))
                .collect(),
        },
    ]
}

fn scores_line(name: &str, s: &ChannelScores) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.3}"));
    format!(
        "{name}: Pearson {}, SSIM {}, MAE {:.4}, PSNR {:.1} dB, FRC50 {}",
        opt(s.pearson),
        opt(s.ssim),
        s.mae,
        s.psnr_db,
        opt(s.frc50)
    )
}

fn model_lines(model: ShownModel<'_>) -> Vec<String> {
    let manifest = &model.bundle.manifest;
    let c = &manifest.config;
    vec![
        format!("model: {}", model.source),
        format!(
            "{}, {} parameters{}",
            c.architecture_label(),
            manifest.parameters,
            if c.gridsize == 1 && c.overlap_groups {
                ", trained on overlap groups"
            } else {
                ""
            }
        ),
        format!(
            "epochs {} (of {}), batch {}, lr {:.1e}, seed {}",
            model.bundle.history.len(),
            c.nepochs,
            c.batch_size,
            c.learning_rate,
            c.seed
        ),
        format!(
            "nphotons {:.1e}, loss weights NLL {} / MAE {}, probe mask {}, amplitude target {} \
             (probe × {:.3})",
            c.nphotons,
            c.loss.nll,
            c.loss.mae,
            c.probe_mask,
            c.amplitude_target
                .map_or_else(|| "off".to_owned(), |t| format!("{t:.2}")),
            manifest.probe_gain
        ),
        format!(
            "trained on: {}",
            manifest.trained_on.as_deref().unwrap_or("not recorded")
        ),
        manifest.probe_check.map_or_else(
            || "starting probe: the file's (no check)".to_owned(),
            |c| {
                format!(
                    "starting probe: {} (ePIE, {} sweeps: Fourier error {:.2e} with the file's \
                     held, {:.2e} refined)",
                    if c.refined_used {
                        "ePIE's refined"
                    } else {
                        "the file's"
                    },
                    c.sweeps,
                    c.error_held,
                    c.error_refined
                )
            },
        ),
    ]
}

/// The reconstruction of `dataset` by `bundle` as the window makes it, with its metrics.
///
/// # Errors
/// When the network cannot run on the scan (N mismatch, device).
pub fn reconstruct_like_the_window(
    bundle: &ModelBundle,
    dataset: &Dataset,
    device: &burn::prelude::Device,
) -> Result<(Stitched, Option<Evaluation>), crate::infer::predict::InferError> {
    use burn::module::Module;
    let network = bundle.network.valid();
    // The scan the model refined positions on is stitched at them.
    let refined = bundle.at_refined_positions(dataset);
    let dataset = refined.as_ref().unwrap_or(dataset);
    let stitched = crate::infer::reconstruct(
        &network,
        dataset,
        &bundle.reconstruction_options(),
        device,
        |_, _, _| true,
    )?;
    let metrics = reconstruction_metrics(&stitched, dataset);
    Ok((stitched, metrics))
}
