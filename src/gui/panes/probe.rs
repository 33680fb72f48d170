//! The probe pane: amplitude, phase or complex (hue = phase, brightness = amplitude) with a colour
//! bar, a scale bar when the pixel size is known, the value under the pointer, and a mode
//! selector for mode stacks (mode 0 is what training uses).

use eframe::egui::{self, ColorImage, RichText, vec2};
use num_complex::Complex32;

use super::PaneCtx;
use crate::gui::state::ProbeView;
use crate::gui::widgets::colormap::{complex_image, real_image};
use crate::gui::widgets::image_view::{BarKind, ColorBar, ImageView};
use crate::io::png::{ColorMap, finite_range};

/// The probe pane's own view state.
#[derive(Debug)]
pub struct ProbePane {
    /// The mode shown.
    pub mode: usize,
    image: ImageView,
    bar: Option<ColorBar>,
}

impl Default for ProbePane {
    fn default() -> Self {
        Self {
            mode: 0,
            image: ImageView::new("probe"),
            bar: None,
        }
    }
}

impl ProbePane {
    /// Draws the pane.
    pub fn ui(&mut self, ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
        let Some(view) = &pane.session.dataset else {
            ui.label("Open a scan to see its probe.");
            return;
        };
        let modes = &view.probe_modes;
        self.mode = self.mode.min(modes.len().saturating_sub(1));
        ui.horizontal(|ui| {
            ui.heading("Illumination");
            ui.separator();
            let v = &mut pane.state.view.probe_view;
            ui.selectable_value(v, ProbeView::Amplitude, "Amplitude");
            ui.selectable_value(v, ProbeView::Phase, "Phase");
            ui.selectable_value(v, ProbeView::Complex, "Complex")
                .on_hover_text("Hue = phase, brightness = amplitude");
            if modes.len() > 1 {
                ui.separator();
                egui::ComboBox::from_label("mode")
                    .selected_text(format!("mode {}", self.mode))
                    .show_ui(ui, |ui| {
                        for m in 0..modes.len() {
                            let label = if m == 0 {
                                "mode 0 (used for training)".to_owned()
                            } else {
                                format!("mode {m}")
                            };
                            ui.selectable_value(&mut self.mode, m, label);
                        }
                    });
            }
        });
        let Some(probe) = modes.get(self.mode) else {
            return;
        };
        let kind = pane.state.view.probe_view;
        let key = (view.version * 64 + self.mode as u64, kind as u64);
        let mut bar = self.bar.clone();
        self.image.update(ui.ctx(), key, || {
            let (image, colour_bar) = probe_image(kind, probe);
            bar = Some(colour_bar);
            image
        });
        self.bar = bar;
        let side = ui
            .available_width()
            .min(ui.available_height() - 60.0)
            .max(160.0);
        let pixel_size = view.dataset.physical.pixel_size_m;
        let hovered = self
            .image
            .show(ui, vec2(side, side - 74.0), self.bar.as_ref(), pixel_size);
        let energy: f32 = probe.iter().map(Complex32::norm_sqr).sum();
        ui.label(format!(
            "{} × {} px, Σ|P|² = {energy:.4e}{}",
            probe.ncols(),
            probe.nrows(),
            pixel_size.map_or_else(
                || " (no pixel size in the file: no scale bar)".into(),
                |p| format!(", pixel {:.2} nm", p * 1e9)
            )
        ));
        if let Some([c, r]) = hovered {
            let z = probe[[r as usize, c as usize]];
            ui.label(
                RichText::new(format!(
                    "pixel ({}, {}): |P| {:.4}, arg P {:+.3} rad",
                    c as usize,
                    r as usize,
                    z.norm(),
                    z.arg()
                ))
                .monospace(),
            );
        }
    }
}

/// The probe drawn as `kind` asks, with its colour bar.
fn probe_image(kind: ProbeView, probe: &ndarray::Array2<Complex32>) -> (ColorImage, ColorBar) {
    let pi = std::f32::consts::PI;
    match kind {
        ProbeView::Amplitude => {
            let values = probe.mapv(Complex32::norm);
            let range = finite_range(&values);
            let bar = ColorBar {
                kind: BarKind::Linear(ColorMap::Viridis),
                range,
                title: "|P|".into(),
            };
            (real_image(&values, ColorMap::Viridis, range), bar)
        }
        ProbeView::Phase => {
            let bar = ColorBar {
                kind: BarKind::Phase,
                range: (-pi, pi),
                title: "arg P (rad)".into(),
            };
            let image = real_image(
                &probe.mapv(Complex32::arg),
                ColorMap::PhaseCyclic,
                (-pi, pi),
            );
            (image, bar)
        }
        ProbeView::Complex => {
            let bar = ColorBar {
                kind: BarKind::Complex,
                range: (-pi, pi),
                title: "hue = phase".into(),
            };
            (complex_image(probe), bar)
        }
    }
}
