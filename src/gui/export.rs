//! Export: one click writes the PNG report (amplitude, phase, probe, loss curves, metrics,
//! dataset and training settings, date, version) and the product NPZ of the reconstruction.
//! The page is composed by [`crate::report`] from what the session holds (as `ptychostudio
//! report` composes it from files) and rendered on a worker thread.

use std::path::PathBuf;

use anyhow::Context as _;

use super::env::Env;
use super::jobs::Job;
use super::session::ObjectView;
use super::session::{Level, Session};
use crate::data::reconstruction::Reconstruction;
use crate::io::report::{Report, write_report};
use crate::report::{ReportInputs, ShownModel, ShownObject, compose};

pub use crate::report::REPORT_FILE;

/// Starts writing the report and the product into `dir`.
pub fn start_export(session: &mut Session, env: &mut Env<'_>, dir: PathBuf) {
    if super::env::already_running(session, session.exporting.is_some(), "an export") {
        return;
    }
    let Some(view) = &session.dataset else {
        session.log(Level::Warn, "nothing to export: open a scan first");
        return;
    };
    let report = build_report(session, env);
    // The probe and positions the object was made with: the model's (trained, refined) when
    // one is loaded.
    let model = session.model.as_ref().map(|m| &m.bundle);
    let probe = model.map_or_else(|| view.dataset.probe().clone(), |b| b.probe.clone());
    let refined_positions_px = model
        .and_then(|b| b.at_refined_positions(&view.dataset))
        .map(|d| d.positions_px().to_vec());
    let reconstruction = session
        .reconstruction
        .value
        .as_ref()
        .map(|r| Reconstruction {
            object: r.object.clone(),
            probe,
            origin_px: r.origin_px,
            costs: session
                .training
                .history
                .iter()
                .map(|h| h.train_loss)
                .collect(),
            method: "PtychoPINN".into(),
            refined_positions_px,
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
                files.product_h5,
                files.amplitude_png,
                files.phase_png,
                files.amplitude_tiff,
                files.phase_tiff,
            ]);
        }
        Ok(written)
    }));
}

/// The page for the current session ([`crate::report::compose`] of what the window holds).
pub fn build_report(session: &Session, env: &Env<'_>) -> Report {
    fn shown(v: &ObjectView) -> ShownObject<'_> {
        ShownObject {
            label: &v.label,
            object: &v.object,
        }
    }
    let view = session.dataset.as_ref();
    compose(&ReportInputs {
        reconstruction: session.reconstruction.value.as_ref().map(shown),
        comparison: session.comparison.value.as_ref().map(shown),
        probe: session
            .model
            .as_ref()
            .map(|m| &m.bundle.probe)
            .or_else(|| view.map(|v| v.dataset.probe())),
        dataset_summary: view.map_or(&[], |v| v.summary.as_slice()),
        model: session.model.as_ref().map(|m| ShownModel {
            bundle: &m.bundle,
            source: &m.source,
        }),
        history: &session.training.history,
        metrics: session.metrics.as_ref(),
        checks: session.checks.as_ref(),
        remove_phase_ramp: env.state.view.remove_phase_ramp,
        full_phase_range: env.state.view.full_phase_range,
        created: env.report_time.unwrap_or_else(crate::report::report_time),
    })
}
