//! What the panes ask for. `ui` code only reads state and pushes commands; `logic` applies them
//! (Rerun's viewer habit), so every action is one place to test.

use std::path::PathBuf;

use super::state::Pane;
use crate::data::LoadOptions;

/// One request from the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Load a scan (File > Open, drag-and-drop, recent files, the command line).
    OpenDataset(PathBuf),
    /// Load a scan with conventions set by the user (√ of counts, fftshift, a product file), as
    /// offered when a plain open refused the file.
    OpenDatasetWith(PathBuf, LoadOptions),
    /// Ask for the ptychodus product file that goes with this diffraction file, then open both.
    BrowseProduct(PathBuf, LoadOptions),
    /// Choose a positions file for this HDF5 scan, then open it with these options.
    BrowsePositions(PathBuf, LoadOptions),
    /// Generate and load the demo dataset (the §9 case, smaller).
    OpenDemo,
    /// Show a pane.
    ShowPane(Pane),
    /// Ask for a file to open (a native dialog on a worker thread).
    BrowseDataset,
    /// Train on the loaded dataset with the current settings.
    StartTraining,
    /// Train on the loaded dataset starting from the loaded model's weights (fine-tuning: a
    /// fresh optimiser and schedule, the current settings, the model's network shape).
    FineTuneTraining,
    /// Stop training after the current batch; the model is kept.
    StopTraining,
    /// Ask where to save the current model.
    BrowseSaveModel,
    /// Save the current model directory to this folder.
    SaveModel(PathBuf),
    /// Ask for a model directory to load.
    BrowseLoadModel,
    /// Load a model directory.
    LoadModel(PathBuf),
    /// Use the model just trained.
    UseTrainedModel,
    /// Run the current model over the loaded dataset.
    Reconstruct,
    /// Stop a running reconstruction.
    StopReconstruction,
    /// Run ePIE on the loaded dataset for the side-by-side comparison.
    RunEpie,
    /// Run ePIE started from the network's reconstruction and probe (seeded), beside it.
    RefineWithEpie,
    /// Stop ePIE.
    StopEpie,
    /// Ask where to export the report.
    BrowseExport,
    /// Write `<dir>/ptychostudio_report.png` and the product NPZ.
    ExportReport(PathBuf),
}
