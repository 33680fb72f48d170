//! The reconstruction pane: the model (loaded or just trained), Reconstruct with the object
//! filling in live, amplitude (perceptual map) and phase (its scale fitted to the data on a
//! diverging map, or ±π on the cyclic one) with colour bars and a hover readout, a phase-ramp removal toggle, the ePIE result or the true object side
//! by side, the §7 metrics, and Export.

use eframe::egui::{self, RichText, vec2};
use num_complex::Complex32;

use super::PaneCtx;
use crate::gui::command::Command;
use crate::gui::session::{ObjectView, Session, Versioned};
use crate::gui::widgets::colormap::real_image;
use crate::gui::widgets::image_view::{BarKind, ColorBar, ImageView};
use crate::io::png::{ColorMap, finite_range, fitted_phase_range};
use crate::metrics::align::display_phase;
use crate::metrics::evaluate::ChannelScores;
use crate::metrics::region::unlit_as_nan;

/// Amplitude and phase views of one object.
#[derive(Debug)]
struct ObjectPair {
    amplitude: ImageView,
    phase: ImageView,
    range: (f32, f32),
    /// The phase colour scale, radians (fitted to the data, or ±π).
    phase_range: (f32, f32),
    /// The phase as shown (mean rotated, ramp removed if asked), for the hover readout.
    shown_phase: Option<ndarray::Array2<f32>>,
}

impl ObjectPair {
    fn new(name: &str) -> Self {
        Self {
            amplitude: ImageView::new(format!("{name} amplitude")),
            phase: ImageView::new(format!("{name} phase")),
            range: (0.0, 1.0),
            phase_range: (-std::f32::consts::PI, std::f32::consts::PI),
            shown_phase: None,
        }
    }

    /// Draws both maps side by side in `width`; returns the readout of the hovered pixel.
    /// `lit`: the pixels a probe lit (from the checks, on the object's canvas); the others are
    /// drawn grey, as nothing reconstructed them.
    fn ui(
        &mut self,
        ui: &mut egui::Ui,
        (object, lit): (
            &Versioned<Option<ObjectView>>,
            Option<&ndarray::Array2<bool>>,
        ),
        (remove_ramp, full_phase_range): (bool, bool),
        (width, max_height): (f32, f32),
        pixel_size_m: Option<f64>,
    ) -> Option<String> {
        let Some(view) = &object.value else {
            self.amplitude.clear();
            self.phase.clear();
            self.shown_phase = None;
            return None;
        };
        let lit = lit.filter(|l| l.dim() == view.object.dim());
        let key = (
            object.version,
            u64::from(remove_ramp)
                | (u64::from(full_phase_range) << 1)
                | (u64::from(lit.is_some()) << 2),
        );
        let mask = |values: ndarray::Array2<f32>| match lit {
            Some(lit) => unlit_as_nan(values, lit),
            None => values,
        };
        let mut range = self.range;
        self.amplitude.update(ui.ctx(), key, || {
            let a = mask(view.object.mapv(Complex32::norm));
            range = finite_range(&a);
            real_image(&a, ColorMap::Viridis, range)
        });
        self.range = range;
        let pi = std::f32::consts::PI;
        let mut phase_range = self.phase_range;
        let mut shown = None;
        self.phase.update(ui.ctx(), key, || {
            let phase = mask(display_phase(&view.object, remove_ramp));
            phase_range = if full_phase_range {
                (-pi, pi)
            } else {
                fitted_phase_range(&phase)
            };
            let map = if full_phase_range {
                ColorMap::PhaseCyclic
            } else {
                ColorMap::PhaseDiverging
            };
            let image = real_image(&phase, map, phase_range);
            shown = Some(phase);
            image
        });
        self.phase_range = phase_range;
        if shown.is_some() {
            self.shown_phase = shown;
        }
        let (h, w) = view.object.dim();
        let aspect = w.max(1) as f32 / h.max(1) as f32;
        let widest = (width / 2.0 - 6.0).max(120.0);
        let image_h = ((widest - 74.0) / aspect).clamp(80.0, max_height.max(80.0));
        // The colour bar sits beside the picture, not at the far end of half the pane.
        let each = (image_h * aspect + 74.0).min(widest);
        let mut hovered = None;
        ui.horizontal_top(|ui| {
            let bar = ColorBar {
                kind: BarKind::Linear(ColorMap::Viridis),
                range,
                title: "amplitude".into(),
            };
            hovered = self
                .amplitude
                .show(ui, vec2(each, image_h), Some(&bar), pixel_size_m);
            let bar = ColorBar {
                kind: if full_phase_range {
                    BarKind::Phase
                } else {
                    BarKind::Linear(ColorMap::PhaseDiverging)
                },
                range: self.phase_range,
                title: "phase (rad)".into(),
            };
            hovered =
                hovered.or(self
                    .phase
                    .show(ui, vec2(each, image_h), Some(&bar), pixel_size_m));
        });
        let [c, r] = hovered?;
        let (c, r) = (c as usize, r as usize);
        let z = view.object.get((r, c))?;
        let phase = self
            .shown_phase
            .as_ref()
            .and_then(|p| p.get((r, c)).copied())
            .unwrap_or_else(|| z.arg());
        Some(format!(
            "x {:.1}, y {:.1} px: amplitude {:.4}, phase {:+.3} rad (as shown)",
            view.origin_px[0] + c as f64,
            view.origin_px[1] + r as f64,
            z.norm(),
            phase
        ))
    }
}

impl ReconstructionPane {
    /// The data-fit map under the checks: where on the sample the model does not explain the
    /// measured patterns (grey: not lit).
    fn residual_ui(
        &mut self,
        ui: &mut egui::Ui,
        checks: &crate::metrics::trust::TrustChecks,
        version: u64,
        (width, height): (f32, f32),
        pixel_size_m: Option<f64>,
    ) {
        let Some((fit, map)) = checks
            .data_fit
            .as_ref()
            .and_then(|f| f.map.as_ref().map(|m| (f, m)))
        else {
            self.residual.clear();
            return;
        };
        let mut range = self.residual_range;
        let key = (version, fit.poisson_deviance_per_pixel.to_bits());
        self.residual.update(ui.ctx(), key, || {
            range = finite_range(map);
            real_image(map, ColorMap::Viridis, range)
        });
        self.residual_range = range;
        let (h, w) = map.dim();
        let aspect = w.max(1) as f32 / h.max(1) as f32;
        let image_h = height.clamp(80.0, 400.0);
        let size = vec2((image_h * aspect + 74.0).min(width / 2.0), image_h);
        let bar = ColorBar {
            kind: BarKind::Linear(ColorMap::Viridis),
            range,
            title: "deviance / px".into(),
        };
        ui.label("Poisson deviance per detector pixel, per scan position, over the object:");
        self.residual.show(ui, size, Some(&bar), pixel_size_m);
    }
}

/// The reconstruction pane's own view state.
#[derive(Debug)]
pub struct ReconstructionPane {
    network: ObjectPair,
    comparison: ObjectPair,
    /// The data-fit map: Poisson deviance per scan position over the object.
    residual: ImageView,
    residual_range: (f32, f32),
}

impl Default for ReconstructionPane {
    fn default() -> Self {
        Self {
            network: ObjectPair::new("reconstruction"),
            comparison: ObjectPair::new("comparison"),
            residual: ImageView::new("data fit"),
            residual_range: (0.0, 1.0),
        }
    }
}

fn scores_row(ui: &mut egui::Ui, name: &str, s: &ChannelScores) {
    let opt = |v: Option<f64>| v.map_or_else(|| "–".into(), |v| format!("{v:.3}"));
    ui.label(RichText::new(name).strong());
    ui.label(opt(s.pearson));
    ui.label(opt(s.ssim));
    ui.label(format!("{:.4}", s.mae));
    ui.label(format!("{:.1}", s.psnr_db));
    ui.label(opt(s.frc50));
    ui.label(opt(s.frc_half_bit));
    ui.end_row();
}

/// Which model is in use, and a warning when it does not fit the scan.
fn model_status_ui(ui: &mut egui::Ui, s: &Session) {
    match &s.model {
        Some(m) => {
            let c = &m.bundle.manifest.config;
            ui.label(format!(
                "model: {} · N {} · gridsize {} · {} epochs",
                m.source,
                c.n,
                c.gridsize,
                m.bundle.history.len()
            ));
            if let Some(d) = &s.dataset
                && d.dataset.n() != c.n
            {
                ui.colored_label(
                    egui::Color32::from_rgb(230, 170, 40),
                    format!(
                        "This model is for N = {}; the scan has N = {}: load a model trained on N = {} patterns.",
                        c.n,
                        d.dataset.n(),
                        d.dataset.n()
                    ),
                );
            }
        }
        None => {
            ui.label("No model yet: train one in the Training pane, or load a model directory.");
        }
    }
}

/// ePIE's sweeps, position correction and the two buttons (from scratch, seeded).
fn epie_controls_ui(ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
    let s: &Session = pane.session;
    ui.add(
        egui::DragValue::new(&mut pane.state.epie_iterations)
            .range(1..=500)
            .suffix(" sweeps"),
    );
    ui.checkbox(&mut pane.state.epie_correct_positions, "correct positions")
        .on_hover_text(
            "ePIE refines the scan positions as it goes (whole-pixel search for the worst \
             fitting, sub-pixel steps for all); the dataset pane draws them over the given \
             ones",
        );
    if s.epie.is_some() {
        if ui.button("Stop ePIE").clicked() {
            pane.commands.push(Command::StopEpie);
        }
    } else if ui
        .add_enabled(s.dataset.is_some(), egui::Button::new("Run ePIE"))
        .on_hover_text("The iterative baseline (CPU), shown beside the network's result")
        .clicked()
    {
        pane.commands.push(Command::RunEpie);
    }
    if s.epie.is_none()
        && ui
            .add_enabled(
                s.reconstruction.value.is_some() && s.model.is_some(),
                egui::Button::new("Refine with ePIE"),
            )
            .on_hover_text(
                "Run the sweeps of ePIE starting from the network's object and probe (the \
                 network gives a good picture early; ePIE polishes it), shown beside it",
            )
            .clicked()
    {
        pane.commands.push(Command::RefineWithEpie);
    }
}

fn toolbar_ui(ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
    let s: &Session = pane.session;
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Load model…")
            .on_hover_text("A model directory written by training")
            .clicked()
        {
            pane.commands.push(Command::BrowseLoadModel);
        }
        if ui
            .add_enabled(
                s.training.trained.is_some(),
                egui::Button::new("Use trained model"),
            )
            .clicked()
        {
            pane.commands.push(Command::UseTrainedModel);
        }
        let mismatch = match (&s.model, &s.dataset) {
            (Some(m), Some(d)) if m.bundle.manifest.config.n != d.dataset.n() => Some(format!(
                "The model is for N = {}, the scan has N = {}",
                m.bundle.manifest.config.n,
                d.dataset.n()
            )),
            _ => None,
        };
        let can = s.model.is_some()
            && s.dataset.is_some()
            && s.reconstructing.is_none()
            && mismatch.is_none();
        let button = ui
            .add_enabled(can, egui::Button::new("Reconstruct"))
            .on_hover_text("Run the model over every pattern of the loaded scan and stitch");
        let button = match &mismatch {
            Some(why) => button.on_disabled_hover_text(why),
            None => button,
        };
        if button.clicked() {
            pane.commands.push(Command::Reconstruct);
        }
        if s.reconstructing.is_some() && ui.button("Stop").clicked() {
            pane.commands.push(Command::StopReconstruction);
        }
        ui.separator();
        epie_controls_ui(ui, pane);
        ui.separator();
        ui.checkbox(&mut pane.state.view.remove_phase_ramp, "remove phase ramp")
            .on_hover_text("Subtract the least-squares plane from the phase (display only)");
        ui.checkbox(&mut pane.state.view.full_phase_range, "phase ±π")
            .on_hover_text(
                "Draw the phase on the full ±π scale (off: the scale fits the data, ± the 99th \
                 percentile of |phase|)",
            );
        ui.separator();
        if ui
            .add_enabled(
                s.dataset.is_some() && s.exporting.is_none(),
                egui::Button::new("Export report…"),
            )
            .on_hover_text(
                "A PNG report (images, probe, loss curves, metrics, settings), the product (NPZ and \
                 ptychodus HDF5) and float TIFFs of amplitude and phase",
            )
            .clicked()
        {
            pane.commands.push(Command::BrowseExport);
        }
    });
    model_status_ui(ui, s);
}

impl ReconstructionPane {
    /// Draws the pane.
    pub fn ui(&mut self, ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
        toolbar_ui(ui, pane);
        let s = pane.session;
        if let Some(run) = &s.reconstructing {
            ui.add(
                egui::ProgressBar::new(run.done as f32 / run.total.max(1) as f32).text(format!(
                    "reconstructing: {} / {} groups",
                    run.done, run.total
                )),
            );
        }
        if let Some(run) = &s.epie {
            ui.add(
                egui::ProgressBar::new(run.done as f32 / run.total.max(1) as f32)
                    .text(format!("ePIE: sweep {} / {}", run.done, run.total)),
            );
        }
        let remove = (
            pane.state.view.remove_phase_ramp,
            pane.state.view.full_phase_range,
        );
        let pixel = s
            .dataset
            .as_ref()
            .and_then(|d| d.dataset.physical.pixel_size_m);
        // Once a reconstruction has its checks, the pixels no probe lit are grey.
        let lit = s.checks.as_ref().and_then(|c| c.lit.as_ref());
        let width = ui.available_width();
        // Both rows fit the pane without scrolling (captions, readouts, metrics: ~190 px).
        let metrics_h = if s.metrics.is_some() { 90.0 } else { 0.0 };
        let row_h = ((ui.available_height() - 100.0 - metrics_h) / 2.0).max(120.0);
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.label(RichText::new("PtychoPINN").strong());
            if let Some(text) = self.network.ui(ui, (&s.reconstruction, lit), remove, (width, row_h), pixel) {
                ui.label(RichText::new(text).monospace());
            }
            if let Some(cmp) = &s.comparison.value {
                ui.label(RichText::new(&cmp.label).strong());
            }
            if let Some(text) = self.comparison.ui(ui, (&s.comparison, None), remove, (width, row_h), pixel) {
                ui.label(RichText::new(text).monospace());
            }
            if let Some(checks) = &s.checks {
                ui.add_space(6.0);
                ui.label(RichText::new("How far to trust it (no ground truth needed)").strong());
                // A warning's wrapped lines (indented) keep its colour.
                let mut warning = false;
                for line in crate::report::checks_lines(checks) {
                    warning = line.starts_with("warning") || (warning && line.starts_with("  "));
                    if warning {
                        ui.colored_label(ui.visuals().warn_fg_color, line);
                    } else {
                        ui.label(line);
                    }
                }
                self.residual_ui(ui, checks, s.reconstruction.version, (width, row_h), pixel);
            }
            if let Some(m) = &s.metrics {
                ui.add_space(6.0);
                ui.label(RichText::new("Against the true object (§7: scanned region, phase plane removed, amplitude scaled, registered)").strong());
                egui::Grid::new("metrics").striped(true).show(ui, |ui| {
                    for h in ["", "Pearson", "SSIM", "MAE", "PSNR (dB, peak = data range)", "FRC50", "FRC ½-bit"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    scores_row(ui, "amplitude", &m.amplitude);
                    scores_row(ui, "phase", &m.phase);
                });
                ui.label(format!(
                    "region {} × {} px, registration shift ({:.2}, {:.2}) px",
                    m.region_px[0], m.region_px[1], m.shift_px[0], m.shift_px[1]
                ));
            }
        });
    }
}
