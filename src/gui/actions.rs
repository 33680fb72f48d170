//! Applying [`Command`]s: with [`super::poll`], the only code that changes the session. Files,
//! dialogs and models are handled here; the compute jobs start in [`super::compute`]. Every
//! job runs on a worker thread and is collected by [`super::poll::poll_jobs`].

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use burn::module::Module;
use burn::prelude::Device;

use super::command::Command;
use super::env::{Env, already_running, file_name};
use super::jobs::Job;
use super::session::{
    DatasetView, DialogPurpose, Level, ModelJobResult, ModelView, OpenFailure, Session,
};
use crate::data::{LoadOptions, load};
use crate::train::ModelBundle;

/// Applies one command.
pub fn apply(session: &mut Session, env: &mut Env<'_>, command: Command) {
    match command {
        Command::OpenDataset(path) => open_dataset(session, env, &path, LoadOptions::default()),
        Command::OpenDatasetWith(path, options) => open_dataset(session, env, &path, options),
        Command::BrowseProduct(path, options) => {
            browse(session, env, DialogPurpose::Product(path, options));
        }
        Command::BrowsePositions(path, options) => {
            browse(session, env, DialogPurpose::Positions(path, options));
        }
        Command::OpenDemo => open_demo(session, env),
        Command::ShowPane(pane) => env.state.pane = pane,
        Command::BrowseDataset => browse(session, env, DialogPurpose::OpenDataset),
        Command::BrowseLoadModel => browse(session, env, DialogPurpose::LoadModel),
        Command::BrowseSaveModel => browse(session, env, DialogPurpose::SaveModel),
        Command::BrowseExport => browse(session, env, DialogPurpose::Export),
        Command::StartTraining => super::compute::start_training(session, env, false),
        Command::FineTuneTraining => super::compute::start_training(session, env, true),
        Command::StopTraining => {
            if let Some(job) = &session.training.job {
                job.request_stop();
                session.log(Level::Info, "stopping after this batch; the model is kept");
            }
        }
        Command::SaveModel(dir) => save_model(session, env, &dir),
        Command::LoadModel(dir) => load_model(session, env, dir),
        Command::UseTrainedModel => use_trained_model(session),
        Command::Reconstruct => super::compute::start_reconstruction(session, env),
        Command::StopReconstruction => {
            if let Some(run) = &session.reconstructing {
                run.job.request_stop();
            }
        }
        Command::RunEpie => super::compute::start_epie(session, env, false),
        Command::RefineWithEpie => super::compute::start_epie(session, env, true),
        Command::StopEpie => {
            if let Some(run) = &session.epie {
                run.job.request_stop();
            }
        }
        Command::ExportReport(dir) => super::export::start_export(session, env, dir),
    }
}

pub(super) fn open_dataset(
    session: &mut Session,
    env: &mut Env<'_>,
    path: &Path,
    options: LoadOptions,
) {
    if already_running(session, session.loading.is_some(), "opening a file") {
        return;
    }
    session.log(Level::Info, format!("opening {}", path.display()));
    let job_path = path.to_owned();
    session.loading = Some(Job::spawn(
        format!("open {}", file_name(path)),
        env.ctx,
        move || {
            Ok(match load(&job_path, &options) {
                Ok(loaded) => Ok(DatasetView::new(job_path, loaded)),
                Err(e) => Err(OpenFailure::new(job_path, options, &e)),
            })
        },
    ));
}

fn open_demo(session: &mut Session, env: &mut Env<'_>) {
    if already_running(session, session.generating_demo.is_some(), "the demo scan") {
        return;
    }
    let dir = env.runs_dir();
    session.log(
        Level::Info,
        "generating the demo scan (lines object, N = 64, 512 positions, 1e9 photons)",
    );
    session.generating_demo = Some(Job::spawn("demo", env.ctx, move || {
        super::demo::write_demo_dataset(&dir)
    }));
}

fn browse(session: &mut Session, env: &mut Env<'_>, purpose: DialogPurpose) {
    if already_running(session, session.dialog.is_some(), "a file dialog") {
        return;
    }
    let start = env
        .state
        .recent_files
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_owned);
    let job_purpose = purpose.clone();
    let job = Job::spawn("dialog", env.ctx, move || {
        let purpose = job_purpose;
        let mut dialog = rfd::FileDialog::new();
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        Ok(match purpose {
            DialogPurpose::Product(..) => dialog
                .add_filter("ptychodus product", &["npz"])
                .set_title("Choose the ptychodus product file (probe, positions)")
                .pick_file(),
            DialogPurpose::Positions(..) => dialog
                .add_filter("positions (x_um,y_um, …)", &["csv", "txt", "dat"])
                .set_title("Choose the scan positions file")
                .pick_file(),
            DialogPurpose::OpenDataset => dialog
                .add_filter("scan", &["npz", "h5", "hdf5", "cxi", "nxs"])
                .set_title("Open a scan")
                .pick_file(),
            DialogPurpose::LoadModel => dialog.set_title("Load a model directory").pick_folder(),
            DialogPurpose::SaveModel => dialog.set_title("Save the model into").pick_folder(),
            DialogPurpose::Export => dialog.set_title("Export the report into").pick_folder(),
        })
    });
    session.dialog = Some((job, purpose));
}

fn save_model(session: &mut Session, env: &mut Env<'_>, dir: &Path) {
    if already_running(
        session,
        session.model_job.is_some(),
        "loading or saving a model",
    ) {
        return;
    }
    let Some(model) = &session.model else {
        session.log(Level::Warn, "no model to save: train or load one first");
        return;
    };
    let bundle = model.bundle.clone();
    let target = dir.join("model");
    session.model_job = Some(Job::spawn("save model", env.ctx, move || {
        bundle
            .save(&target)
            .with_context(|| format!("cannot save the model to {}", target.display()))?;
        Ok(ModelJobResult::Saved(target))
    }));
}

fn load_model(session: &mut Session, env: &mut Env<'_>, dir: PathBuf) {
    if already_running(
        session,
        session.model_job.is_some(),
        "loading or saving a model",
    ) {
        return;
    }
    let (device, label) = env.compute_device();
    session.log(
        Level::Info,
        format!("loading the model in {} on {label}", dir.display()),
    );
    session.model_job = Some(Job::spawn("load model", env.ctx, move || {
        let bundle = ModelBundle::load(&dir, &device)
            .with_context(|| format!("cannot load a model from {}", dir.display()))?;
        Ok(ModelJobResult::Loaded(Box::new(ModelView {
            bundle,
            source: dir.display().to_string(),
            device,
        })))
    }));
}

pub(super) fn use_trained_model(session: &mut Session) {
    let Some(bundle) = session.training.trained.clone() else {
        session.log(Level::Warn, "no model was trained in this session");
        return;
    };
    let device = bundle
        .network
        .devices()
        .first()
        .cloned()
        .unwrap_or_else(Device::flex);
    let source = session.training.run_dir.as_ref().map_or_else(
        || "trained in this session".into(),
        |d| d.display().to_string(),
    );
    session.model = Some(ModelView {
        bundle,
        source,
        device,
    });
}
