//! Flags several subcommands share: `--quiet`, how to read a scan whose conventions may be
//! off, and the values of `--amplitude-target`.

use std::path::PathBuf;

use clap::Args;

use crate::data::LoadOptions;
use crate::data::options::Hdf5Options;

/// Flags every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// No progress bars or info messages.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How to read a scan whose conventions may be off.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The patterns are counts: take their square root.
    #[arg(long, conflicts_with = "no_sqrt")]
    pub sqrt: bool,
    /// Use the patterns as amplitudes even if they look like counts.
    #[arg(long)]
    pub no_sqrt: bool,
    /// The zero frequency is at the array corner: move it to the centre.
    #[arg(long, conflicts_with = "no_fftshift")]
    pub fftshift: bool,
    /// Use the patterns as they are even if DC looks like it is at the corner.
    #[arg(long)]
    pub no_fftshift: bool,
    /// For a ptychodus diffraction file: the product file holding probe and positions.
    #[arg(long, value_name = "FILE")]
    pub product: Option<PathBuf>,
    /// HDF5: the dataset holding the frames, when the file's layout is not recognised (e.g.
    /// /exchange/data).
    #[arg(long, value_name = "PATH")]
    pub h5_data: Option<String>,
    /// HDF5: scan positions from a text file whose header names the columns and unit
    /// (x_m,y_m / x_um,y_um / x_nm,y_nm / x_px,y_px; x = columns, y = rows).
    #[arg(long, value_name = "FILE")]
    pub positions: Option<PathBuf>,
    /// HDF5: the positions from a dataset in the file, (frames, 2) in metres, x then y (e.g.
    /// /entry/sample/positions), when its layout does not say where they are.
    #[arg(long, value_name = "PATH")]
    pub h5_positions: Option<String>,
    /// HDF5: the probe from an NPY or NPZ file (complex N × N); default: the file's own, else
    /// one estimated from the mean pattern.
    #[arg(long, value_name = "FILE")]
    pub probe: Option<PathBuf>,
    /// HDF5: the pattern size N cut around the beam centre (default: the largest of 64, 128,
    /// 256 that fits the frame).
    #[arg(long, value_name = "N")]
    pub pattern_size: Option<usize>,
    /// HDF5: photon energy, eV (overrides the file's).
    #[arg(long, value_name = "EV")]
    pub energy_ev: Option<f64>,
    /// HDF5: sample-detector distance, m (overrides the file's).
    #[arg(long, value_name = "M")]
    pub distance_m: Option<f64>,
    /// HDF5: detector pixel size, m (overrides the file's).
    #[arg(long, value_name = "M")]
    pub detector_pixel_m: Option<f64>,
    /// HDF5: the memory the prepared patterns may take, MB; a larger scan is kept in a spill
    /// file and read as needed (default: half the machine's memory).
    #[arg(long, value_name = "MB")]
    pub memory_limit_mb: Option<u64>,
    /// HDF5: the folder for spill files (default: $PTYCHO_SPILL_DIR, else
    /// ~/.cache/ptychostudio).
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

impl LoadArgs {
    /// The loader options these flags mean.
    pub fn options(&self) -> LoadOptions {
        let tri = |yes: bool, no: bool| match (yes, no) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        LoadOptions {
            sqrt: tri(self.sqrt, self.no_sqrt),
            fftshift: tri(self.fftshift, self.no_fftshift),
            product: self.product.clone(),
            hdf5: Hdf5Options {
                data_path: self.h5_data.clone(),
                positions: self.positions.clone(),
                positions_path: self.h5_positions.clone(),
                probe: self.probe.clone(),
                n: self.pattern_size,
                energy_ev: self.energy_ev,
                distance_m: self.distance_m,
                detector_pixel_m: self.detector_pixel_m,
            },
            memory_limit_bytes: self.memory_limit_mb.map(|mb| mb.saturating_mul(1_000_000)),
            spill_dir: self.spill_dir.clone(),
        }
    }
}

/// `--amplitude-target`: a value, or `off` (none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmplitudeTarget(pub Option<f64>);

/// Parses `--amplitude-target`: `off`, or a number in (0, 1).
pub fn parse_amplitude_target(text: &str) -> Result<AmplitudeTarget, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(AmplitudeTarget(None));
    }
    match text.parse::<f64>() {
        Ok(value) if value > 0.0 && value < 1.0 => Ok(AmplitudeTarget(Some(value))),
        _ => Err(format!(
            "expected `off` or a number in (0, 1) (the network's amplitude is a sigmoid), got `{text}`"
        )),
    }
}
