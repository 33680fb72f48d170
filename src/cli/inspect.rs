//! `ptychostudio inspect FILE`

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::args::{CommonArgs, LoadArgs};
use crate::data::inspect::InspectReport;

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The NPZ or HDF5 file.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn number(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4e}"))
}

/// Prints the report.
pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let report = InspectReport::build(&args.file, &args.load.options())
        .with_context(|| format!("cannot inspect {}", args.file.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("file:   {}", report.file);
    println!(
        "layout: {}",
        report.layout.as_deref().unwrap_or("unrecognised")
    );
    println!("arrays (datasets of an HDF5 file):");
    for a in &report.arrays {
        let shape = a
            .shape
            .as_ref()
            .map_or_else(|| "?".into(), |s| format!("{s:?}"));
        let dtype = a.dtype.as_deref().unwrap_or("?");
        if let Some(text) = &a.text {
            println!("  {:<22} {:<18} {:<6} {:?}", a.key, shape, dtype, text);
        } else if let Some(error) = &a.error {
            println!("  {:<22} unreadable: {error}", a.key);
        } else {
            println!(
                "  {:<22} {:<18} {:<6} min {}  max {}  mean {}",
                a.key,
                shape,
                dtype,
                number(a.min),
                number(a.max),
                number(a.mean)
            );
        }
    }
    if let Some(d) = &report.dataset {
        println!("dataset:");
        println!("  N = {}, M = {} patterns", d.n, d.patterns);
        println!(
            "  scan extent x {:.1} … {:.1}, y {:.1} … {:.1} (object pixels)",
            d.scan_extent_px[0], d.scan_extent_px[1], d.scan_extent_px[2], d.scan_extent_px[3]
        );
        println!(
            "  mean counts per pattern (Σ amplitude²) {:.4e}",
            d.mean_counts_per_pattern
        );
        println!("  probe power Σ|P|² {:.4e}", d.probe_power);
        if let Some([h, w]) = d.object_shape {
            println!("  ground-truth object {h} × {w}");
        }
        println!("  regime: {}", d.regime.text);
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    for warning in &report.warnings {
        println!("warning: {warning}");
    }
    Ok(())
}
