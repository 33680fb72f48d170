//! Flags several subcommands share: `--quiet`, and how to read a scan whose conventions may be
//! off.

use std::path::PathBuf;

use clap::Args;

use crate::data::LoadOptions;

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
        }
    }
}
