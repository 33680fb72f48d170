//! Export: one click writes the PNG report (amplitude, phase, probe, loss curves, metrics,
//! dataset and training settings, date, version) and the product NPZ of the reconstruction.
//! The page is composed here from the session and rendered on a worker thread.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::Context as _;
use num_complex::Complex32;

use super::env::Env;
use super::jobs::Job;
use super::session::{Level, Session};
use crate::data::reconstruction::Reconstruction;
use crate::io::report::{LossCurve, Report, ReportImage, ReportMap, utc_timestamp, write_report};
use crate::metrics::align::display_phase;
use crate::metrics::evaluate::ChannelScores;

/// The report's file name inside the chosen directory.
pub const REPORT_FILE: &str = "ptychostudio_report.png";

/// Starts writing the report and the product into `dir`.
pub fn start_export(session: &mut Session, env: &mut Env<'_>, dir: PathBuf) {
    if session.exporting.is_some() {
        return;
    }
    let Some(view) = &session.dataset else {
        session.log(Level::Warn, "nothing to export: open a scan first");
        return;
    };
    let report = build_report(session, env);
    let reconstruction = session
        .reconstruction
        .value
        .as_ref()
        .map(|r| Reconstruction {
            object: r.object.clone(),
            probe: view.dataset.probe().clone(),
            origin_px: r.origin_px,
            costs: session
                .training
                .history
                .iter()
                .map(|h| h.train_loss)
                .collect(),
            method: "PtychoPINN".into(),
        });
    let dataset = view.dataset.clone();
    session.exporting = Some(Job::spawn("export", env.ctx, move || {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let page = dir.join(REPORT_FILE);
        write_report(&page, &report).with_context(|| format!("cannot write {}", page.display()))?;
        let mut written = vec![page];
        if let Some(recon) = reconstruction {
            let files = recon
                .write_all(&dataset, &dir, "reconstructed")
                .with_context(|| {
                    format!("cannot write the reconstruction into {}", dir.display())
                })?;
            written.extend([
                files.npz,
                files.product,
                files.amplitude_png,
                files.phase_png,
            ]);
        }
        Ok(written)
    }));
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

/// The page for the current session.
pub fn build_report(session: &Session, env: &Env<'_>) -> Report {
    let mut report = Report {
        title: "PtychoStudio reconstruction report".into(),
        subtitle: format!(
            "{} · PtychoStudio {}",
            utc_timestamp(SystemTime::now()),
            env!("CARGO_PKG_VERSION")
        ),
        ..Report::default()
    };
    if let Some(recon) = &session.reconstruction.value {
        report.images.push(ReportImage {
            title: format!("{}: amplitude", recon.label),
            values: recon.object.mapv(Complex32::norm),
            map: ReportMap::Amplitude,
        });
        report.images.push(ReportImage {
            title: format!("{}: phase (mean removed{})", recon.label, ramp_note(env)),
            values: display_phase(&recon.object, env.state.view.remove_phase_ramp),
            map: ReportMap::Phase,
        });
    }
    if let Some(cmp) = &session.comparison.value {
        report.images.push(ReportImage {
            title: format!("{}: phase", cmp.label),
            values: display_phase(&cmp.object, env.state.view.remove_phase_ramp),
            map: ReportMap::Phase,
        });
    }
    if let Some(view) = &session.dataset {
        let probe = view.dataset.probe();
        report.images.push(ReportImage {
            title: "probe: amplitude".into(),
            values: probe.mapv(Complex32::norm),
            map: ReportMap::Amplitude,
        });
        report.images.push(ReportImage {
            title: "probe: phase".into(),
            values: probe.mapv(Complex32::arg),
            map: ReportMap::Phase,
        });
        report
            .sections
            .push(("Dataset".into(), view.summary.clone()));
    }
    let history = &session.training.history;
    if !history.is_empty() {
        report.curves = vec![
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
        ];
    }
    if let Some(model) = &session.model {
        report.sections.push((
            "Model and training".into(),
            model_lines(model, &session.training.device_label),
        ));
    }
    if let Some(m) = &session.metrics {
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

fn model_lines(model: &super::session::ModelView, device: &str) -> Vec<String> {
    let c = &model.bundle.manifest.config;
    vec![
        format!("model: {}", model.source),
        format!(
            "N {}, gridsize {}, n_filters_scale {}, {} parameters",
            c.n, c.gridsize, c.n_filters_scale, model.bundle.manifest.parameters
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
            "nphotons {:.1e}, loss weights NLL {} / MAE {}, probe mask {}",
            c.nphotons, c.loss.nll, c.loss.mae, c.probe_mask
        ),
        format!("device: {device}"),
    ]
}

fn ramp_note(env: &Env<'_>) -> &'static str {
    if env.state.view.remove_phase_ramp {
        ", phase ramp removed"
    } else {
        ""
    }
}
