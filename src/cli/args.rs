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

/// `--probe-from-epie`: sweeps of ePIE's probe check (0: none) and whether its refined probe
/// is used whatever the check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeFromEpie {
    /// Sweeps of each ePIE run (0: the scan's probe, no check).
    pub sweeps: usize,
    /// Use the refined probe even when it does not fit clearly better.
    pub always: bool,
}

/// Parses `--probe-from-epie`: `auto` (the check's default sweeps, the refined probe only when
/// it fits clearly better), `auto:K` (the same with K sweeps), `off` or `0` (the scan's probe),
/// or K (the probe K sweeps refine, always).
pub fn parse_probe_from_epie(text: &str) -> Result<ProbeFromEpie, String> {
    let lower = text.to_ascii_lowercase();
    let sweeps = |k: &str| {
        k.parse::<usize>().map_err(|_| {
            format!("expected `auto`, `auto:K`, `off` or a number of sweeps K, got `{text}`")
        })
    };
    if lower == "off" {
        return Ok(ProbeFromEpie {
            sweeps: 0,
            always: false,
        });
    }
    if lower == "auto" {
        return Ok(ProbeFromEpie {
            sweeps: crate::epie::probe_choice::DEFAULT_CHECK_SWEEPS,
            always: false,
        });
    }
    if let Some(k) = lower.strip_prefix("auto:") {
        return Ok(ProbeFromEpie {
            sweeps: sweeps(k)?,
            always: false,
        });
    }
    Ok(ProbeFromEpie {
        sweeps: sweeps(&lower)?,
        always: true,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_from_epie_reads_auto_off_and_sweeps() {
        let auto = parse_probe_from_epie("auto").unwrap();
        assert_eq!(
            auto,
            ProbeFromEpie {
                sweeps: crate::epie::probe_choice::DEFAULT_CHECK_SWEEPS,
                always: false
            }
        );
        assert_eq!(
            parse_probe_from_epie("auto:8").unwrap(),
            ProbeFromEpie {
                sweeps: 8,
                always: false
            }
        );
        assert_eq!(parse_probe_from_epie("OFF").unwrap().sweeps, 0);
        assert_eq!(
            parse_probe_from_epie("30").unwrap(),
            ProbeFromEpie {
                sweeps: 30,
                always: true
            }
        );
        let error = parse_probe_from_epie("sometimes").unwrap_err();
        assert!(error.contains("`sometimes`"), "{error}");
    }
}
