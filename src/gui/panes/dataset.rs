//! The dataset pane: what was loaded (layout, N, patterns, scan extent, photon counts), the
//! loader's notes and errors in place, a pattern browser (index slider, log scale, colour bar,
//! hover value) and the scan positions with the current pattern highlighted.

use std::path::PathBuf;

use eframe::egui::{self, Color32, RichText, vec2};
use egui_plot::{Arrows, Legend, MarkerShape, Plot, PlotPoints, Points};

use super::PaneCtx;
use super::hdf5_form::Hdf5Form;
use crate::gui::command::Command;
use crate::gui::session::{DatasetView, OpenFailure, OpenFix, Session};
use crate::gui::widgets::colormap::{log1p10, real_image};
use crate::gui::widgets::image_view::{BarKind, ColorBar, ImageView};
use crate::io::png::{ColorMap, finite_range};

/// A pattern read for the pane: (dataset version, index) and its values or the read error.
type ShownPattern = ((u64, usize), Result<ndarray::Array2<f32>, String>);

/// The dataset pane's own view state.
#[derive(Debug)]
pub struct DatasetPane {
    /// The pattern shown.
    pub index: usize,
    pattern: ImageView,
    bar: Option<ColorBar>,
    /// The pattern shown, read once per (dataset version, index): a spilled scan is read
    /// from disk.
    shown: Option<ShownPattern>,
    /// The HDF5 settings form of the last refused file, when it is an HDF5 file (`None`
    /// inside: it is not).
    hdf5_form: Option<(PathBuf, Option<Hdf5Form>)>,
}

impl Default for DatasetPane {
    fn default() -> Self {
        Self {
            index: 0,
            pattern: ImageView::new("pattern"),
            bar: None,
            shown: None,
            hdf5_form: None,
        }
    }
}

/// The welcome text and the ways to open a scan.
pub fn open_prompt_ui(ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
    ui.add_space(12.0);
    ui.heading("Open a scan");
    ui.label(
        "Drop a scan anywhere on the window, use File > Open, or start with the generated demo \
         scan. PtychoPINN (diff3d / diffraction) and ptychodus NPZ files are read, and HDF5: \
         CXI, Eiger/NeXus masters with their data files, or a stack of frames.",
    );
    ui.horizontal(|ui| {
        if ui.button("Open…").clicked() {
            pane.commands.push(Command::BrowseDataset);
        }
        if ui.button("Open demo scan").clicked() {
            pane.commands.push(Command::OpenDemo);
        }
    });
    if !pane.state.recent_files.is_empty() {
        ui.add_space(8.0);
        ui.label(RichText::new("Recent files").strong());
        for path in pane.state.recent_files.clone() {
            if ui.link(path.display().to_string()).clicked() {
                pane.commands.push(Command::OpenDataset(path));
            }
        }
    }
}

/// The error of the last open in a red frame, with the conversions that would let the file load
/// (the window stays usable either way).
pub fn error_ui(ui: &mut egui::Ui, failure: &OpenFailure, commands: &mut Vec<Command>) {
    egui::Frame::group(ui.style())
        .fill(ui.visuals().extreme_bg_color)
        .stroke(egui::Stroke::new(1.5, Color32::from_rgb(200, 60, 60)))
        .show(ui, |ui| {
            ui.label(
                RichText::new("Could not open the file")
                    .strong()
                    .color(Color32::from_rgb(220, 80, 80)),
            );
            ui.label(&failure.message);
            ui.horizontal_wrapped(|ui| {
                for fix in &failure.fixes {
                    if ui.button(fix.label()).clicked() {
                        let mut options = failure.options.clone();
                        let path = failure.path.clone();
                        commands.push(match *fix {
                            OpenFix::Sqrt(yes) => {
                                options.sqrt = Some(yes);
                                Command::OpenDatasetWith(path, options)
                            }
                            OpenFix::Fftshift(yes) => {
                                options.fftshift = Some(yes);
                                Command::OpenDatasetWith(path, options)
                            }
                            OpenFix::Product => Command::BrowseProduct(path, options),
                            OpenFix::Positions => Command::BrowsePositions(path, options),
                        });
                    }
                }
            });
            ui.label("Nothing else was changed; the loaded scan (if any) is still here.");
        });
}

impl DatasetPane {
    /// Draws the pane.
    pub fn ui(&mut self, ui: &mut egui::Ui, pane: &mut PaneCtx<'_>) {
        let session = pane.session;
        if let Some(job) = &session.loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("{}…", job.label));
            });
        }
        if session.generating_demo.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("generating the demo scan…");
            });
        }
        if let Some(failure) = &session.failed_open {
            error_ui(ui, failure, pane.commands);
            if self.hdf5_form.as_ref().map(|f| &f.0) != Some(&failure.path) {
                let form = failure
                    .hdf5_candidates
                    .is_some()
                    .then(|| Hdf5Form::new(failure));
                self.hdf5_form = Some((failure.path.clone(), form));
            }
            if let Some((_, Some(form))) = &mut self.hdf5_form {
                form.ui(ui, failure, pane.commands);
            }
        }
        let Some(view) = &session.dataset else {
            open_prompt_ui(ui, pane);
            return;
        };
        let n_patterns = view.dataset.len();
        self.index = self.index.min(n_patterns.saturating_sub(1));
        ui.columns(2, |cols| {
            summary_ui(&mut cols[0], view);
            cols[0].add_space(8.0);
            let refined = refined_positions(pane.session, view);
            positions_ui(&mut cols[0], view, self.index, refined);
            self.browser_ui(
                &mut cols[1],
                view,
                pane.state.view.log_patterns,
                &mut pane.state.view.log_patterns,
            );
        });
    }

    fn browser_ui(
        &mut self,
        ui: &mut egui::Ui,
        view: &DatasetView,
        log: bool,
        log_toggle: &mut bool,
    ) {
        let dataset = &view.dataset;
        ui.heading("Patterns");
        ui.horizontal(|ui| {
            ui.add(
                egui::Slider::new(&mut self.index, 0..=dataset.len().saturating_sub(1))
                    .text("pattern"),
            );
            ui.checkbox(log_toggle, "log scale")
                .on_hover_text("Show log10(1 + amplitude): the pattern's range spans decades");
        });
        let index = self.index;
        if self.shown.as_ref().map(|s| s.0) != Some((view.version, index)) {
            let read = dataset
                .pattern(index)
                .map(ndarray::CowArray::into_owned)
                .map_err(|e| e.to_string());
            self.shown = Some(((view.version, index), read));
        }
        let pattern = match self.shown.as_ref().map(|s| &s.1) {
            Some(Ok(pattern)) => pattern,
            Some(Err(e)) => {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("pattern {index} cannot be read: {e}"),
                );
                return;
            }
            None => return,
        };
        let key = (
            view.version.wrapping_mul(1_000_003) + index as u64,
            u64::from(log),
        );
        let mut bar = self.bar.clone();
        self.pattern.update(ui.ctx(), key, || {
            let values = if log {
                log1p10(pattern)
            } else {
                pattern.to_owned()
            };
            let range = finite_range(&values);
            bar = Some(ColorBar {
                kind: if log {
                    BarKind::Log(ColorMap::Viridis)
                } else {
                    BarKind::Linear(ColorMap::Viridis)
                },
                range,
                title: "amplitude".into(),
            });
            real_image(&values, ColorMap::Viridis, range)
        });
        self.bar = bar;
        let side = ui
            .available_width()
            .min(ui.available_height() - 40.0)
            .max(160.0);
        let hovered = self
            .pattern
            .show(ui, vec2(side, side - 74.0), self.bar.as_ref(), None);
        let [x, y] = dataset.positions_px()[index];
        let text = match hovered {
            Some([c, r]) => {
                let (r, c) = (r as usize, c as usize);
                let a = pattern[[r, c]];
                format!("pixel ({c}, {r}): amplitude {a:.4}, counts {:.1}", a * a)
            }
            None => "hover the pattern for values; drag to pan, Ctrl+scroll to zoom".into(),
        };
        ui.label(format!("pattern {index} at x {x:.2}, y {y:.2} px"));
        ui.label(RichText::new(text).monospace());
    }
}

fn summary_ui(ui: &mut egui::Ui, view: &DatasetView) {
    ui.heading("Scan");
    egui::Grid::new("dataset_summary")
        .striped(true)
        .show(ui, |ui| {
            for line in &view.summary {
                let (key, value) = line.split_once(": ").unwrap_or((line.as_str(), ""));
                ui.label(RichText::new(key).strong());
                ui.label(value);
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    let (colour, method) = if view.regime.network_favoured {
        (Color32::from_rgb(90, 190, 110), "Network")
    } else {
        (Color32::from_rgb(120, 170, 230), "ePIE")
    };
    ui.label(
        RichText::new(format!("Suggested method: {method}"))
            .strong()
            .color(colour),
    )
    .on_hover_text(
        "From the measured regimes (docs/regimes.md): the network is ahead of ePIE at low \
             photon counts and sparse overlap, ePIE at dense overlap and high counts.",
    );
    ui.label(&view.regime.text);
    if !view.notes.is_empty() {
        ui.add_space(6.0);
        ui.label(RichText::new("Loader notes").strong());
        for note in &view.notes {
            ui.label(RichText::new(format!("! {note}")).color(Color32::from_rgb(230, 170, 40)));
        }
    }
}

/// The positions refined on this scan, with who refined them: ePIE's last correction, else the
/// model's own (borrowed: this runs every frame).
fn refined_positions<'a>(
    session: &'a Session,
    view: &DatasetView,
) -> Option<(&'a str, &'a [[f64; 2]])> {
    if let Some(r) = &session.refined_positions {
        return Some((r.label.as_str(), r.positions_px.as_slice()));
    }
    let refined = session.model.as_ref()?.bundle.positions.as_ref()?;
    Some(("the model's training", refined.for_scan(&view.dataset)?))
}

/// The scan positions (y down, as in the images), the current pattern's marked; refined
/// positions, when a method refined them, drawn over the given ones with an arrow from each
/// given position to its refined one.
fn positions_ui(
    ui: &mut egui::Ui,
    view: &DatasetView,
    current: usize,
    refined: Option<(&str, &[[f64; 2]])>,
) {
    let positions = view.dataset.positions_px();
    let flip = |p: &[f64; 2]| [p[0], -p[1]];
    let all: Vec<[f64; 2]> = positions.iter().map(flip).collect();
    let here = positions
        .get(current)
        .map(|p| vec![flip(p)])
        .unwrap_or_default();
    ui.label(RichText::new("Scan positions (object pixels, y down)").strong());
    let refined = refined.filter(|(_, r)| r.len() == positions.len());
    if let Some((label, r)) = refined {
        let stats = crate::positions::error_stats(r, positions);
        ui.label(format!(
            "refined by {label}: moved {:.2} px RMS, largest {:.1} px (mean shift removed)",
            stats.rms_px, stats.max_px
        ));
    }
    let refined_colour = Color32::from_rgb(250, 160, 40);
    Plot::new("positions")
        .data_aspect(1.0)
        .height(ui.available_height().clamp(160.0, 420.0))
        .y_axis_formatter(|mark, _| format!("{:.0}", -mark.value))
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.points(Points::new("given", PlotPoints::from(all)).radius(1.5));
            if let Some((_, r)) = refined {
                let from: Vec<[f64; 2]> = positions.iter().map(flip).collect();
                let to: Vec<[f64; 2]> = r.iter().map(flip).collect();
                plot.arrows(
                    Arrows::new("moves", PlotPoints::from(from), PlotPoints::from(to))
                        .color(refined_colour.gamma_multiply(0.7))
                        .tip_length(4.0),
                );
                let points: Vec<[f64; 2]> = r.iter().map(flip).collect();
                plot.points(
                    Points::new("refined", PlotPoints::from(points))
                        .radius(1.5)
                        .color(refined_colour),
                );
            }
            plot.points(
                Points::new("current pattern", PlotPoints::from(here))
                    .radius(6.0)
                    .shape(MarkerShape::Circle)
                    .color(Color32::from_rgb(240, 80, 60)),
            );
        });
}
