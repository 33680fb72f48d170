//! The training pane: the settings with what each does, Start / Stop / Save model, progress
//! (epoch, batch, time left, patterns/s), the loss curves on a log scale, the learning rate, and
//! the stitched amplitude and phase previewed every few epochs.

use eframe::egui::{self, RichText, vec2};

use super::PaneCtx;
use crate::device::DeviceChoice;
use crate::gui::command::Command;
use crate::gui::session::TrainingView;
use crate::gui::widgets::colormap::real_image;
use crate::gui::widgets::image_view::{BarKind, ColorBar, ImageView};
use crate::gui::widgets::loss_plot::loss_plot_ui;
use crate::io::png::{ColorMap, finite_range};
use crate::train::TrainConfig;

/// The training pane's own view state.
#[derive(Debug)]
pub struct TrainingPane {
    /// Start from the loaded model's weights (fine-tune) instead of from scratch.
    fine_tune: bool,
    amplitude: ImageView,
    phase: ImageView,
    amplitude_range: (f32, f32),
}

impl Default for TrainingPane {
    fn default() -> Self {
        Self {
            fine_tune: false,
            amplitude: ImageView::new("preview amplitude"),
            phase: ImageView::new("preview phase"),
            amplitude_range: (0.0, 1.0),
        }
    }
}

fn setting<T: egui::emath::Numeric>(
    ui: &mut egui::Ui,
    label: &str,
    tip: &str,
    value: &mut T,
    range: std::ops::RangeInclusive<T>,
    speed: f64,
) {
    ui.label(label).on_hover_text(tip);
    ui.add(egui::DragValue::new(value).range(range).speed(speed))
        .on_hover_text(tip);
    ui.end_row();
}

/// Why the window trains at gridsize 1 only.
const GRIDSIZE_TIP: &str = "g: patterns per group side. The window trains at 1 (each pattern \
    predicted alone, in overlap groups). Gridsize 2 (groups of 4 neighbours predicted together) \
    is on the command line only (train --gridsize 2): at the same pattern budget it did not learn \
    the Siemens star in 30 epochs (phase Pearson 0.232 against ePIE, gridsize 1: 0.90) and lags \
    on the simulated lines (0.72 / 0.75 against 0.95 / 0.94)";

/// The settings grid (disabled while a run goes).
fn settings_ui(
    ui: &mut egui::Ui,
    config: &mut TrainConfig,
    device: &mut DeviceChoice,
    preview_every: &mut usize,
    n: Option<usize>,
) {
    egui::Grid::new("train_settings").num_columns(2).striped(true).show(ui, |ui| {
        ui.label("N").on_hover_text("Pattern size, taken from the loaded scan");
        ui.label(n.map_or_else(|| "– (open a scan)".into(), |n| n.to_string()));
        ui.end_row();
        // Gridsize 2 is withdrawn from the window: at the same pattern budget it did not learn
        // the star (phase 0.232 against ePIE after 30 epochs) and lags on the lines
        // (docs/quality.md). A setting restored from an older session is brought back to 1.
        config.gridsize = 1;
        ui.label("gridsize").on_hover_text(GRIDSIZE_TIP);
        ui.label("1").on_hover_text(GRIDSIZE_TIP);
        ui.end_row();
        ui.label("overlap groups").on_hover_text(
            "Train on groups of 4 neighbouring patterns, each predicted alone, whose patches \
             are merged before diffraction, so overlapping patches must agree. A single \
             pattern cannot tell the object from its twin when the probe is real and \
             symmetric; overlapping ones can. The model still reconstructs pattern by pattern. \
             Groups and batch size then count groups of 4",
        );
        ui.checkbox(&mut config.overlap_groups, "");
        ui.end_row();
        setting(ui, "epochs", "Passes over the training groups (early stopping may end sooner)", &mut config.nepochs, 1..=1000, 0.2);
        ui.label("batch size").on_hover_text("Groups per optimiser step (a power of two; the reference uses 16)");
        egui::ComboBox::from_id_salt("batch")
            .selected_text(config.batch_size.to_string())
            .show_ui(ui, |ui| {
                for b in [4, 8, 16, 32, 64, 128] {
                    ui.selectable_value(&mut config.batch_size, b, b.to_string());
                }
            });
        ui.end_row();
        setting(ui, "learning rate", "Adam's starting step size; halved when the validation loss stalls for 2 epochs (floor 1e-4)", &mut config.learning_rate, 1e-6..=1e-1, 1e-5);
        setting(ui, "groups", "Groups drawn for training (all patterns when larger than the scan); 5 % are held out for validation", &mut config.n_groups, 1..=1_000_000, 4.0);
        setting(ui, "photons", "nphotons: sets the intensity scale s = √nphotons / (N/2) of the Poisson loss", &mut config.nphotons, 1.0..=1e12, 1e6);
        setting(ui, "NLL weight", "Weight of the Poisson negative log-likelihood of the measured counts", &mut config.loss.nll, 0.0..=10.0, 0.01);
        setting(ui, "MAE weight", "Weight of the mean absolute error on amplitudes (0 = off)", &mut config.loss.mae, 0.0..=10.0, 0.01);
        setting(ui, "filters ×", "n_filters_scale: multiplies every layer's filter count (2 = the reference's 2.33 M parameters at N = 64)", &mut config.n_filters_scale, 1..=4, 0.05);
        setting(ui, "early stop", "Stop after this many epochs without a training-loss improvement (0 = never)", &mut config.early_stopping_patience, 0..=100, 0.1);
        setting(ui, "seed", "Seed of the weights, grouping, split and batch order: the same seed gives the same run on the CPU", &mut config.seed, 0..=u64::MAX, 1.0);
        ui.label("probe mask").on_hover_text(
            "Normalise the probe over the central disk of radius N/4 (§3.3) before the \
             amplitude target sets its scale",
        );
        ui.checkbox(&mut config.probe_mask, "");
        ui.end_row();
        let target_tip = "The rms object amplitude the probe's scale is set for. The network's \
            amplitude is a sigmoid (at most 1): the probe is scaled so that an object of this rms \
            explains the data's energy, with room for brighter pixels. Unticked: §3.3's \
            normalisation alone, which asks a wide measured probe for amplitudes above 1";
        ui.label("amplitude target").on_hover_text(target_tip);
        let mut targeted = config.amplitude_target.is_some();
        ui.horizontal(|ui| {
            if ui.checkbox(&mut targeted, "").on_hover_text(target_tip).changed() {
                config.amplitude_target =
                    targeted.then_some(crate::train::config::DEFAULT_AMPLITUDE_TARGET);
            }
            if let Some(target) = config.amplitude_target.as_mut() {
                ui.add(egui::DragValue::new(target).range(0.05..=0.95).speed(0.01))
                    .on_hover_text(target_tip);
            }
        });
        ui.end_row();
        probe_start_row(ui, config);
        ui.label("train the probe").on_hover_text(
            "Optimise the probe jointly with the network, through the same loss (its \
             normalisation is kept, so only its shape and phase are learned). The learned probe \
             is saved with the model",
        );
        ui.checkbox(&mut config.train_probe, "");
        ui.end_row();
        setting(ui, "preview every", "Stitch and show the object every this many epochs", preview_every, 1..=100, 0.1);
        ui.label("device").on_hover_text("GPU: the window's own GPU (wgpu); falls back to the CPU with a note when there is none");
        ui.horizontal(|ui| {
            ui.selectable_value(device, DeviceChoice::Wgpu, "GPU");
            ui.selectable_value(device, DeviceChoice::Cpu, "CPU");
        });
        ui.end_row();
    });
}

fn progress_ui(ui: &mut egui::Ui, t: &TrainingView) {
    let Some(info) = &t.info else {
        if t.running() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("preparing (grouping, normalising)…");
            });
        }
        return;
    };
    let epochs = info.last_epoch + 1 - info.first_epoch;
    let total_steps = (epochs * info.batches_per_epoch).max(1);
    let fraction = t.steps_done as f32 / total_steps as f32;
    let (epoch, batch, batches) = t
        .batch
        .unwrap_or((info.first_epoch, 0, info.batches_per_epoch));
    let left = t.seconds_left().map_or_else(
        || "–".into(),
        |s| format!("{:.0} min {:02.0} s", (s / 60.0).floor(), s % 60.0),
    );
    let rate = t
        .patterns_per_s()
        .map_or_else(|| "–".into(), |r| format!("{r:.1}"));
    ui.add(
        egui::ProgressBar::new(fraction.min(1.0))
            .show_percentage()
            .text(format!(
                "epoch {epoch}/{} · batch {batch}/{batches} · {left} left · {rate} patterns/s",
                info.last_epoch
            )),
    );
    if let Some(last) = t.history.last() {
        ui.label(format!(
            "learning rate {:.2e} · last epoch {:.1} s · {} training / {} validation groups · {} parameters",
            last.learning_rate, last.duration_secs, info.train_groups, info.val_groups, info.parameters
        ));
    }
}

impl TrainingPane {
    /// Draws the pane.
    pub fn ui(&mut self, ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
        let t = &pane.session.training;
        let running = t.running();
        let n = pane.session.dataset.as_ref().map(|d| d.dataset.n());
        egui::Panel::left("training_settings")
            .resizable(false)
            .default_size(330.0)
            .show(ui, |ui| {
                ui.heading("Settings");
                ui.add_enabled_ui(!running, |ui| {
                    settings_ui(ui, &mut pane.state.train, &mut pane.state.device, &mut pane.state.preview_every, n);
                });
                ui.label(RichText::new(&pane.device_note).small());
                ui.add_space(8.0);
                let model = pane.session.model.as_ref();
                self.fine_tune &= model.is_some();
                if let Some(model) = model {
                    ui.add_enabled(!running, egui::Checkbox::new(&mut self.fine_tune, "Start from the loaded model"))
                        .on_hover_text(format!(
                            "Fine-tune the model {} on this scan: its weights, a fresh optimiser and schedule, the settings above \
                             and its network shape. On a sample of another kind, training from scratch measured better \
                             (docs/reuse.md).",
                            model.source
                        ));
                }
                ui.horizontal(|ui| {
                    let can_start = !running && pane.session.dataset.is_some();
                    if ui
                        .add_enabled(can_start, egui::Button::new("Start training"))
                        .on_hover_text("Train on the loaded scan (self-supervised)")
                        .clicked()
                    {
                        pane.commands.push(if self.fine_tune {
                            Command::FineTuneTraining
                        } else {
                            Command::StartTraining
                        });
                    }
                    let stopping = t.job.as_ref().is_some_and(super::super::jobs::StreamingJob::stopping);
                    if ui
                        .add_enabled(running && !stopping, egui::Button::new("Stop"))
                        .on_hover_text("Stop after the current batch; the model is saved")
                        .clicked()
                    {
                        pane.commands.push(Command::StopTraining);
                    }
                    if ui
                        .add_enabled(pane.session.model.is_some(), egui::Button::new("Save model…"))
                        .on_hover_text("Save the model directory (config.json, weights, probe, history) into a folder")
                        .clicked()
                    {
                        pane.commands.push(Command::BrowseSaveModel);
                    }
                });
                if let Some(dir) = &t.run_dir {
                    ui.label(RichText::new(format!("run: {}", dir.display())).small());
                }
                if let Some(reason) = t.last_reason
                    && !running
                {
                    ui.label(format!("last run: {reason:?}"));
                }
            });
        ui.vertical(|ui| {
            progress_ui(ui, t);
            let plot_h = (ui.available_height() * 0.45).max(140.0);
            loss_plot_ui(ui, &t.history, &t.batch_losses, plot_h);
            self.preview_ui(ui, t);
        });
    }

    fn preview_ui(&mut self, ui: &mut egui::Ui, t: &TrainingView) {
        let Some(crate::gui::session::PreviewImages {
            epoch,
            batch,
            amplitude,
            phase,
        }) = &t.preview.value
        else {
            ui.label(
                "The stitched object appears here within the first minute, then after each \
                 preview epoch.",
            );
            return;
        };
        let version = t.preview.version;
        let mut range = self.amplitude_range;
        self.amplitude.update(ui.ctx(), (version, 0), || {
            range = finite_range(amplitude);
            real_image(amplitude, ColorMap::Viridis, range)
        });
        self.amplitude_range = range;
        let pi = std::f32::consts::PI;
        self.phase.update(ui.ctx(), (version, 0), || {
            real_image(phase, ColorMap::PhaseCyclic, (-pi, pi))
        });
        let when = match batch {
            Some((b, n)) => format!("during epoch {epoch}, batch {b}/{n}"),
            None => format!("after epoch {epoch}"),
        };
        ui.label(RichText::new(format!("Preview {when} (central groups)")).strong());
        let w = (ui.available_width() / 2.0 - 8.0).max(120.0);
        let side = w.min(ui.available_height() - 8.0).max(120.0);
        ui.horizontal_top(|ui| {
            let bar = ColorBar {
                kind: BarKind::Linear(ColorMap::Viridis),
                range,
                title: "amplitude".into(),
            };
            self.amplitude
                .show(ui, vec2(side, side - 74.0), Some(&bar), None);
            let bar = ColorBar {
                kind: BarKind::Phase,
                range: (-pi, pi),
                title: "phase (rad)".into(),
            };
            self.phase
                .show(ui, vec2(side, side - 74.0), Some(&bar), None);
        });
    }
}

/// The starting probe: the file's, ePIE's refined probe when it fits the scan clearly better
/// (the default), or ePIE's always; with the sweeps of ePIE's check.
fn probe_start_row(ui: &mut egui::Ui, config: &mut TrainConfig) {
    let tip = "Before training, sweeps of ePIE check the file's probe on this scan, once held \
        and once refined. \"if it fits better\" (the default) trains with ePIE's refined probe \
        when it explains the scan at least 2× better than the file's (a measured probe guess, \
        as the Siemens star's: 6.7×) and keeps the file's otherwise (an exact, simulated probe); \
        \"ePIE's\" always uses the refined one; \"file's\" skips the check";
    ui.label("starting probe").on_hover_text(tip);
    #[derive(PartialEq, Clone, Copy)]
    enum Choice {
        File,
        IfBetter,
        Epie,
    }
    let mut choice = match (config.probe_from_epie, config.probe_from_epie_always) {
        (0, _) => Choice::File,
        (_, false) => Choice::IfBetter,
        (_, true) => Choice::Epie,
    };
    let before = choice;
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("probe start")
            .selected_text(match choice {
                Choice::File => "file's",
                Choice::IfBetter => "ePIE's if it fits better",
                Choice::Epie => "ePIE's",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut choice, Choice::IfBetter, "ePIE's if it fits better");
                ui.selectable_value(&mut choice, Choice::Epie, "ePIE's");
                ui.selectable_value(&mut choice, Choice::File, "file's");
            })
            .response
            .on_hover_text(tip);
        if choice != before {
            match choice {
                Choice::File => config.probe_from_epie = 0,
                Choice::IfBetter | Choice::Epie => {
                    if config.probe_from_epie == 0 {
                        config.probe_from_epie = crate::epie::probe_choice::DEFAULT_CHECK_SWEEPS;
                    }
                    config.probe_from_epie_always = choice == Choice::Epie;
                }
            }
        }
        if config.probe_from_epie > 0 {
            ui.add(
                egui::DragValue::new(&mut config.probe_from_epie)
                    .range(1..=200)
                    .suffix(" sweeps"),
            )
            .on_hover_text(tip);
        }
    });
    ui.end_row();
}
