//! What the window asks for when an HDF5 file did not open by itself: which dataset holds the
//! frames (the file's 3-D datasets, listed from its tree), the positions file, the geometry
//! (photon energy, detector distance and pixel size) and the pattern size, the same as the
//! command line's `--h5-data`, `--positions`, `--energy-ev`, `--distance-m`,
//! `--detector-pixel-m` and `--pattern-size`.

use std::path::PathBuf;

use eframe::egui::{self, RichText};

use crate::data::LoadOptions;
use crate::data::dataset::SUPPORTED_N;
use crate::gui::command::Command;
use crate::gui::session::OpenFailure;
use crate::io::hdf5::tree::{Candidates, Node};

/// One radio button per dataset, its shape and type beside it.
fn pick_ui(ui: &mut egui::Ui, picked: &mut Option<String>, sets: &[Node]) {
    for set in sets {
        ui.horizontal(|ui| {
            ui.radio_value(picked, Some(set.path.clone()), set.path.as_str());
            ui.weak(set.describe());
        });
    }
}

/// The form's state for one refused HDF5 file.
#[derive(Debug, Clone, PartialEq)]
pub struct Hdf5Form {
    /// The file.
    path: PathBuf,
    /// Its 3-D and (k, 2 or 3) datasets, or why the tree cannot be read.
    candidates: Result<Candidates, String>,
    /// The positions' dataset picked (`None`: the layout's, or a positions file).
    positions_path: Option<String>,
    /// The frames' dataset picked (`None`: let the reader decide).
    data_path: Option<String>,
    energy_ev: String,
    distance_m: String,
    detector_pixel_m: String,
    pattern_size: Option<usize>,
}

fn text_of(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_default()
}

/// A positive number, nothing (empty), or the field's problem.
fn parse_positive(name: &str, text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Some(v)),
        _ => Err(format!("{name}: '{text}' is not a positive number")),
    }
}

impl Hdf5Form {
    /// The form for `failure`'s file, filled from the options it was opened with.
    pub fn new(failure: &OpenFailure) -> Self {
        let h5 = &failure.options.hdf5;
        Self {
            path: failure.path.clone(),
            candidates: failure
                .hdf5_candidates
                .clone()
                .unwrap_or_else(|| Err("not an HDF5 file".into())),
            positions_path: h5.positions_path.clone(),
            data_path: h5.data_path.clone(),
            energy_ev: text_of(h5.energy_ev),
            distance_m: text_of(h5.distance_m),
            detector_pixel_m: text_of(h5.detector_pixel_m),
            pattern_size: h5.n,
        }
    }

    /// The options the form says, on top of `base`, or the first field's problem.
    fn options(&self, base: &LoadOptions) -> Result<LoadOptions, String> {
        let mut options = base.clone();
        let h5 = &mut options.hdf5;
        h5.data_path.clone_from(&self.data_path);
        h5.positions_path.clone_from(&self.positions_path);
        h5.energy_ev = parse_positive("photon energy", &self.energy_ev)?;
        h5.distance_m = parse_positive("detector distance", &self.distance_m)?;
        h5.detector_pixel_m = parse_positive("detector pixel size", &self.detector_pixel_m)?;
        h5.n = self.pattern_size;
        Ok(options)
    }

    /// The frames' and the positions' datasets to pick from.
    fn datasets_ui(&mut self, ui: &mut egui::Ui) {
        let candidates = match &self.candidates {
            Err(e) => {
                ui.label(format!("the file's tree cannot be read: {e}"));
                return;
            }
            Ok(c) => c,
        };
        if candidates.frames.is_empty() {
            ui.label("the file holds no 3-D dataset that could be the frames");
        } else {
            ui.label("Frames (the file's 3-D datasets):");
            ui.radio_value(&mut self.data_path, None, "as the file's layout says");
            pick_ui(ui, &mut self.data_path, &candidates.frames);
        }
        if !candidates.positions.is_empty() {
            ui.label("Positions in the file (metres, x then y):");
            ui.radio_value(
                &mut self.positions_path,
                None,
                "as the layout says, or a file",
            );
            pick_ui(ui, &mut self.positions_path, &candidates.positions);
        }
    }

    /// Draws the form; "Open with these settings" pushes the open command.
    pub fn ui(&mut self, ui: &mut egui::Ui, failure: &OpenFailure, commands: &mut Vec<Command>) {
        ui.add_space(6.0);
        ui.label(RichText::new("HDF5 settings").strong());
        self.datasets_ui(ui);
        ui.horizontal(|ui| {
            let positions = failure
                .options
                .hdf5
                .positions
                .as_ref()
                .map_or_else(|| "from the file".to_owned(), |p| p.display().to_string());
            ui.label(format!("Positions: {positions}"));
            // The error frame above offers the same button when positions are what is missing.
            let offered = failure
                .fixes
                .contains(&crate::gui::session::OpenFix::Positions);
            if !offered
                && ui.button("Choose a positions file…").clicked()
                && let Ok(options) = self.options(&failure.options)
            {
                commands.push(Command::BrowsePositions(self.path.clone(), options));
            }
        });
        egui::Grid::new("hdf5-geometry")
            .num_columns(2)
            .show(ui, |ui| {
                for (label, text, hint) in [
                    ("Photon energy (eV)", &mut self.energy_ev, "from the file"),
                    (
                        "Detector distance (m)",
                        &mut self.distance_m,
                        "from the file",
                    ),
                    (
                        "Detector pixel (m)",
                        &mut self.detector_pixel_m,
                        "from the file",
                    ),
                ] {
                    let label = ui.label(label).id;
                    ui.add(
                        egui::TextEdit::singleline(text)
                            .hint_text(hint)
                            .desired_width(120.0),
                    )
                    .labelled_by(label);
                    ui.end_row();
                }
                let label = ui.label("Pattern size N").id;
                egui::ComboBox::from_id_salt("hdf5-pattern-size")
                    .selected_text(
                        self.pattern_size
                            .map_or_else(|| "largest that fits".to_owned(), |n| n.to_string()),
                    )
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.pattern_size, None, "largest that fits");
                        for n in SUPPORTED_N {
                            ui.selectable_value(&mut self.pattern_size, Some(n), n.to_string());
                        }
                    })
                    .response
                    .labelled_by(label);
                ui.end_row();
            });
        match self.options(&failure.options) {
            Ok(options) => {
                if ui.button("Open with these settings").clicked() {
                    commands.push(Command::OpenDatasetWith(self.path.clone(), options));
                }
            }
            Err(problem) => {
                ui.colored_label(ui.visuals().error_fg_color, problem);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_options_and_bad_numbers_are_named() {
        let path = PathBuf::from("tests/fixtures/hdf5/odd_stack.h5");
        let failure = OpenFailure {
            hdf5_candidates: Some(
                crate::io::hdf5::tree::candidates(&path).map_err(|e| e.to_string()),
            ),
            path,
            options: LoadOptions::default(),
            message: String::new(),
            fixes: Vec::new(),
        };
        let mut form = Hdf5Form::new(&failure);
        let stacks = form.candidates.clone().unwrap().frames;
        assert_eq!(stacks.len(), 1, "{stacks:?}");
        form.data_path = Some(stacks[0].path.clone());
        form.energy_ev = "8000".into();
        form.distance_m = " 2.0 ".into();
        form.pattern_size = Some(64);
        let options = form.options(&failure.options).unwrap();
        assert_eq!(
            options.hdf5.data_path.as_deref(),
            Some(stacks[0].path.as_str())
        );
        assert_eq!(options.hdf5.energy_ev, Some(8000.0));
        assert_eq!(options.hdf5.distance_m, Some(2.0));
        assert_eq!(options.hdf5.detector_pixel_m, None);
        assert_eq!(options.hdf5.n, Some(64));
        form.detector_pixel_m = "-75e-6".into();
        let err = form.options(&failure.options).unwrap_err();
        assert!(err.contains("pixel") && err.contains("-75e-6"), "{err}");
    }
}
