//! The window: `logic` collects job results and applies commands (time-boxed, never blocking),
//! `ui` draws the menu, the pane tabs, the selected pane, the log and the status bar.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui::{self, Color32, RichText};

use super::LaunchOptions;
use super::actions;
use super::command::Command;
use super::env::{self, Env};
use super::frame_stats::FrameStats;
use super::gpu::GpuStatus;
use super::panes::PaneCtx;
use super::panes::dataset::DatasetPane;
use super::panes::probe::ProbePane;
use super::panes::reconstruction::ReconstructionPane;
use super::panes::training::TrainingPane;
use super::session::{Level, Session};
use super::state::{AppState, Pane};

/// Where a `--screenshot` run stands.
#[derive(Debug, Default)]
struct ScreenshotRun {
    ready_since: Option<Instant>,
    requested: bool,
    result: Arc<Mutex<Option<Result<PathBuf, String>>>>,
}

/// The application.
pub struct PtychoApp {
    /// Persisted settings.
    pub state: AppState,
    /// Everything else.
    pub session: Session,
    commands: Vec<Command>,
    /// Commands to run once the first dataset is loaded (`--train`, `--epie`).
    after_load: Vec<Command>,
    gpu: GpuStatus,
    dataset_pane: DatasetPane,
    probe_pane: ProbePane,
    training_pane: TrainingPane,
    reconstruction_pane: ReconstructionPane,
    /// Frame times (reset when a training run starts).
    pub frames: FrameStats,
    launch: LaunchOptions,
    stats_written: Instant,
    screenshot: ScreenshotRun,
    ctx: egui::Context,
    frame_start: Option<Instant>,
    /// The status bar's frame figures, refreshed twice a second (a summary sorts 4096 values).
    frame_summary: Option<super::frame_stats::FrameSummary>,
    frame_summary_at: Instant,
}

impl PtychoApp {
    /// Builds the app: settings from eframe's storage, Burn on eframe's GPU when it has one, and
    /// the first dataset (the launch file, or the demo scan) opening in the background.
    pub fn new(cc: &eframe::CreationContext<'_>, launch: LaunchOptions) -> Self {
        let stored: Option<AppState> = cc
            .storage
            .and_then(|s| eframe::get_value(s, AppState::STORAGE_KEY));
        let (mut state, reset) = stored.map_or((AppState::default(), false), AppState::upgraded);
        if let Some(pane) = launch.pane {
            state.pane = pane;
        }
        let gpu = GpuStatus::from_render_state(cc.wgpu_render_state.as_ref(), launch.software_gpu);
        let mut session = Session::default();
        session.log(Level::Info, gpu.describe());
        if reset {
            session.log(
                Level::Info,
                "training settings reset to this version's defaults (amplitude target, probe \
                 checked by ePIE and trained); the other settings are kept",
            );
        }
        let mut commands = vec![match &launch.file {
            Some(path) => Command::OpenDataset(path.clone()),
            None => Command::OpenDemo,
        }];
        let mut after_load = Vec::new();
        if launch.start_training {
            after_load.push(Command::StartTraining);
        }
        if launch.epie {
            after_load.push(Command::RunEpie);
        }
        if let Some(model) = &launch.model {
            commands.push(Command::LoadModel(model.clone()));
            session.reconstruct_when_ready = true;
        }
        Self {
            state,
            session,
            commands,
            after_load,
            gpu,
            dataset_pane: DatasetPane::default(),
            probe_pane: ProbePane::default(),
            training_pane: TrainingPane::default(),
            reconstruction_pane: ReconstructionPane::default(),
            frames: FrameStats::default(),
            launch,
            stats_written: Instant::now(),
            screenshot: ScreenshotRun::default(),
            ctx: cc.egui_ctx.clone(),
            frame_start: None,
            frame_summary: None,
            frame_summary_at: Instant::now(),
        }
    }

    /// Queues a command (as a click would).
    pub fn push(&mut self, command: Command) {
        self.commands.push(command);
    }

    /// The pattern the dataset pane shows.
    pub fn pattern_index(&self) -> usize {
        self.dataset_pane.index
    }

    fn env(&mut self) -> (Env<'_>, &mut Session) {
        (
            Env {
                state: &mut self.state,
                gpu: &self.gpu,
                ctx: &self.ctx,
                runs_dir_override: self.launch.runs_dir.as_deref(),
                report_time: self.launch.report_time,
            },
            &mut self.session,
        )
    }

    fn run_commands(&mut self) {
        let mut commands = std::mem::take(&mut self.commands);
        {
            let (mut env, session) = self.env();
            super::poll::poll_jobs(session, &mut env, &mut commands);
        }
        let mut round = 0;
        while !commands.is_empty() && round < 4 {
            round += 1;
            for command in std::mem::take(&mut commands) {
                if matches!(command, Command::StartTraining | Command::FineTuneTraining) {
                    self.frames.reset();
                }
                let (mut env, session) = self.env();
                actions::apply(session, &mut env, command);
            }
            let (mut env, session) = self.env();
            super::poll::poll_jobs(session, &mut env, &mut commands);
        }
        self.commands.extend(commands);
        if self.session.dataset.is_some() && !self.after_load.is_empty() {
            self.commands.append(&mut self.after_load);
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.commands.push(Command::OpenDataset(path));
        }
    }

    fn write_frame_stats(&mut self) {
        let Some(path) = &self.launch.frame_stats else {
            return;
        };
        if self.stats_written.elapsed() < Duration::from_secs(2) {
            return;
        }
        self.stats_written = Instant::now();
        if let Some(summary) = self.frames.summary() {
            let record = serde_json::json!({
                "training_running": self.session.training.running(),
                "epochs_done": self.session.training.history.len(),
                "device": self.session.training.device_label,
                "frames": summary,
            });
            if let Err(e) = crate::io::atomic::write_atomic(path, record.to_string().as_bytes()) {
                self.session.log(Level::Warn, format!("frame stats: {e}"));
            }
        }
    }

    fn screenshot_step(&mut self, ctx: &egui::Context) {
        let Some(path) = self.launch.screenshot.clone() else {
            return;
        };
        if let Some(result) = self
            .screenshot
            .result
            .lock()
            .ok()
            .and_then(|mut r| r.take())
        {
            match result {
                Ok(p) => self
                    .session
                    .log(Level::Info, format!("screenshot saved to {}", p.display())),
                Err(e) => self.session.log(Level::Error, format!("screenshot: {e}")),
            }
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        if self.screenshot.requested {
            ctx.request_repaint();
            return;
        }
        let waiting_for_model = self.launch.model.is_some()
            && (self.session.reconstruction.value.is_none()
                || self.session.reconstructing.is_some());
        let waiting_for_epie = self.launch.epie
            && (self.session.epie.is_some()
                || !self
                    .session
                    .comparison
                    .value
                    .as_ref()
                    .is_some_and(|c| c.label.starts_with("ePIE")));
        // After a failure (a model that would not load, say) take the picture anyway: it shows
        // the error, and the run ends instead of waiting forever.
        let failed = self.session.log.iter().any(|l| l.level == Level::Error);
        let ready = failed
            || self.session.dataset.is_some()
                && self.after_load.is_empty()
                && !waiting_for_model
                && !waiting_for_epie
                && self.session.loading.is_none();
        if !ready {
            self.screenshot.ready_since = None;
            ctx.request_repaint_after(Duration::from_millis(100));
            return;
        }
        let since = *self.screenshot.ready_since.get_or_insert_with(Instant::now);
        let wait = self.launch.screenshot_delay_secs.max(0.5) - since.elapsed().as_secs_f64();
        if wait > 0.0 {
            // Wake when the delay is up, not every few milliseconds: a waiting screenshot must
            // not repaint a software-rendered window 20 times a second while training runs.
            ctx.request_repaint_after(Duration::from_secs_f64(wait.min(0.5)));
            return;
        }
        self.screenshot.requested = true;
        let slot = Arc::clone(&self.screenshot.result);
        ctx.request_screenshot(move |image| {
            let result = save_screenshot(&image, &path).map(|()| path.clone());
            if let Ok(mut s) = slot.lock() {
                *s = Some(result);
            }
        });
        ctx.request_repaint();
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open…").clicked() {
                    self.commands.push(Command::BrowseDataset);
                }
                if ui.button("Open demo scan").clicked() {
                    self.commands.push(Command::OpenDemo);
                }
                ui.menu_button("Recent files", |ui| {
                    if self.state.recent_files.is_empty() {
                        ui.label("none yet");
                    }
                    for path in self.state.recent_files.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            self.commands.push(Command::OpenDataset(path));
                        }
                    }
                });
                ui.separator();
                if ui.button("Load model…").clicked() {
                    self.commands.push(Command::BrowseLoadModel);
                }
                if ui.button("Export report…").clicked() {
                    self.commands.push(Command::BrowseExport);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.separator();
            for pane in Pane::ALL {
                if ui
                    .selectable_label(self.state.pane == pane, pane.label())
                    .clicked()
                {
                    self.commands.push(Command::ShowPane(pane));
                }
            }
        });
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let s = &self.session;
            // A spinner repaints every frame: for training, whose progress bar moves anyway, it
            // would keep a software-rendered window redrawing at full rate.
            if s.busy() && !s.training.running() {
                ui.spinner();
            }
            if let Some(view) = &s.dataset {
                ui.label(format!(
                    "{} · {} × {}²",
                    env::file_name(&view.path),
                    view.dataset.len(),
                    view.dataset.n()
                ));
                ui.separator();
            }
            if s.training.running() {
                // The device's short name here, the whole note (fallbacks, why) on hover: the
                // bar has room for one line.
                let label = &s.training.device_label;
                let short = label.split(" (").next().unwrap_or(label);
                ui.label(format!("training on {short}"))
                    .on_hover_text(format!("training on {label}"));
                ui.separator();
            }
            if let Some(f) = self.frame_summary {
                ui.label(format!(
                    "frames: {:.1} ms median, {:.1} ms p95 ({:.0}/s)",
                    f.p50_interval_ms, f.p95_interval_ms, f.frames_per_s
                ))
                .on_hover_text("Time between frames while the window repaints; the UI thread never runs training or inference");
            }
            // The device line takes what room is left and is cut short (whole on hover) rather
            // than drawn over the texts on its left in a narrow window.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let gpu = self.gpu.describe();
                ui.add(egui::Label::new(RichText::new(gpu.clone()).small()).truncate())
                    .on_hover_text(gpu);
            });
        });
    }

    fn log_ui(&self, ui: &mut egui::Ui) {
        egui::CollapsingHeader::new(format!("Log ({} lines)", self.session.log.len()))
            .default_open(true)
            .show(ui, |ui| {
                let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
                let log = &self.session.log;
                egui::ScrollArea::vertical()
                    .max_height(110.0)
                    .stick_to_bottom(true)
                    .show_rows(ui, row_height, log.len(), |ui, rows| {
                        // Only the visible lines are laid out.
                        for line in &log[rows] {
                            let color = match line.level {
                                Level::Info => ui.visuals().text_color(),
                                Level::Warn => Color32::from_rgb(230, 170, 40),
                                Level::Error => Color32::from_rgb(230, 80, 80),
                            };
                            ui.label(RichText::new(&line.text).color(color).monospace());
                        }
                    });
            });
    }

    fn drop_overlay(ctx: &egui::Context, ui: &egui::Ui) {
        let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
        if hovering {
            let rect = ui.max_rect();
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::NULL.with("drop_overlay"),
            ));
            painter.rect_filled(rect, 0.0, Color32::from_black_alpha(170));
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "Drop the scan (NPZ or HDF5) to open it",
                egui::FontId::proportional(28.0),
                Color32::WHITE,
            );
        }
    }
}

/// Writes an egui screenshot as PNG (atomically).
fn save_screenshot(image: &egui::ColorImage, path: &std::path::Path) -> Result<(), String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let img = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| "screenshot has the wrong size".to_owned())?;
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    crate::io::atomic::write_atomic(path, png.get_ref())
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl eframe::App for PtychoApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.frame_start = Some(Instant::now());
        self.handle_dropped_files(ctx);
        self.run_commands();
        if self.session.busy() {
            // Progress bars and the time-left estimate move even between events (which repaint
            // on their own): twice a second is enough, and costs little when the window is
            // drawn on the CPU (no GPU: every frame is software-rendered on the cores training
            // runs on).
            ctx.request_repaint_after(Duration::from_millis(500));
        }
        if self.launch.frame_stats.is_some() {
            // Measuring: redraw continuously, so the figures are the rate the window sustains.
            ctx.request_repaint();
        }
        self.write_frame_stats();
        self.screenshot_step(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| {
            self.log_ui(ui);
            self.status_ui(ui);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let device_note = match (self.state.device, self.gpu.device()) {
                (crate::device::DeviceChoice::Wgpu, None) => {
                    format!(
                        "Note: no GPU for the network, training runs on the CPU: {}",
                        self.gpu.describe()
                    )
                }
                _ => String::new(),
            };
            let mut pane = PaneCtx {
                state: &mut self.state,
                session: &self.session,
                commands: &mut self.commands,
                device_note,
            };
            match pane.state.pane {
                Pane::Dataset => self.dataset_pane.ui(ui, &mut pane),
                Pane::Probe => self.probe_pane.ui(ui, &mut pane),
                Pane::Training => self.training_pane.ui(ui, &mut pane),
                Pane::Reconstruction => self.reconstruction_pane.ui(ui, &mut pane),
            }
            Self::drop_overlay(&ctx, ui);
        });
        if let Some(start) = self.frame_start.take() {
            self.frames
                .record(start, start.elapsed().as_secs_f64() * 1e3);
        }
        if self.frame_summary_at.elapsed() >= Duration::from_millis(500) {
            self.frame_summary_at = Instant::now();
            self.frame_summary = self.frames.summary();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, AppState::STORAGE_KEY, &self.state);
    }
}
