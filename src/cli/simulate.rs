//! `ptychostudio simulate --output FILE`

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::args::CommonArgs;
use crate::data::object_families::{Contrast, mixed_object, texture_object};
use crate::data::save::save_pinn;
use crate::data::simulate::{
    ScanPattern, SimulatedScan, SimulationConfig, lines_object, simulate_object_scan, star_object,
};

/// The `--probe` file's probe, checked against N.
fn read_probe(
    args: &SimulateArgs,
) -> anyhow::Result<Option<ndarray::Array2<num_complex::Complex32>>> {
    Ok(match &args.probe {
        Some(path) => {
            let probe = crate::data::hdf5_scan::read_probe_file(path)
                .with_context(|| format!("cannot read the probe {}", path.display()))?;
            if probe.dim() != (args.n, args.n) {
                bail!(
                    "{}: the probe is {:?}, the pattern size {n} × {n}",
                    path.display(),
                    probe.dim(),
                    n = args.n
                );
            }
            Some(probe)
        }
        None => None,
    })
}

/// The object of `kind` and its description for the file's metadata.
fn object_of(
    kind: ObjectKind,
    config: &SimulationConfig,
) -> (ndarray::Array2<num_complex::Complex32>, &'static str) {
    match kind {
        ObjectKind::Lines => (
            lines_object(config),
            "lines: 400 random 1-px lines, G1 + 2 G5 + 5 G10, amplitude = img / max, phase = amplitude (rad)",
        ),
        ObjectKind::Star => (
            star_object(config),
            "star: 36 spokes to 0.45 S and 20 discs of radius 3-12 px, G1, amplitude 1 - 0.25 s, phase 0.7 s rad",
        ),
        ObjectKind::Texture => (
            texture_object(
                config,
                Contrast {
                    absorption: 0.3,
                    phase_rad: 1.0,
                },
                1,
            ),
            "texture: white noise blurred by G4, stretched to v in [0, 1], amplitude 1 - 0.3 v, phase v rad",
        ),
        ObjectKind::Mixed => (
            mixed_object(config),
            "mixed: 2 x 2 mosaic of the lines, weak lines (amplitude 0.6 + 0.4 v, phase 0.5 v), a texture (1 rad, 30 %) and a faint texture (0.3 rad, 10 %)",
        ),
    }
}

/// Which synthetic object `simulate` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectKind {
    /// Random lines, blurred (physics.md §9).
    Lines,
    /// A Siemens star with discs.
    Star,
    /// A smooth random texture (1 rad, 30 % absorption).
    Texture,
    /// A mosaic of four families (lines at two contrasts, textures at two), for a model meant
    /// to generalise; it holds no spokes or discs.
    Mixed,
}

/// Arguments of `simulate`. Defaults give the standard case of physics.md §9.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Where to write the (training) dataset.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Number of random positions.
    #[arg(long, default_value_t = 2048)]
    pub n_images: usize,
    /// Seed of every random draw (same seed ⇒ byte-identical file).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Mean photons per pattern.
    #[arg(long, default_value_t = 1e9)]
    pub nphotons: f64,
    /// Pattern size N (64, 128 or 256).
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Object side S, pixels (default: 392 for N = 64, scaled with N).
    #[arg(long)]
    pub object_size: Option<usize>,
    /// Scan a raster with this step (pixels) instead of random positions.
    #[arg(long, value_name = "PX")]
    pub raster_step: Option<f64>,
    /// Also write a test dataset (same object and probe, other positions) here.
    #[arg(long, value_name = "FILE")]
    pub test_output: Option<PathBuf>,
    /// Number of random positions of the test dataset.
    #[arg(long, default_value_t = 512)]
    pub n_test_images: usize,
    /// The object: the §9 lines, a Siemens star with discs (another kind of sample, phase 0.7 rad,
    /// amplitude contrast 25 %), a texture, or a mosaic of families.
    #[arg(long, value_enum, default_value_t = ObjectKind::Lines)]
    pub object: ObjectKind,
    /// The probe: an NPY file or an NPZ's `probe` / `probeGuess`, complex N × N (default: the
    /// §9 probe), e.g. another scan's, to simulate a new sample under the same beam.
    #[arg(long, value_name = "FILE")]
    pub probe: Option<PathBuf>,
    /// Also store the true patches as `Y` (large: M × N × N complex64).
    #[arg(long)]
    pub with_truth_patches: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Writes the dataset(s).
pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    if ![64, 128, 256].contains(&args.n) {
        bail!("--n {}: the pattern size must be 64, 128 or 256", args.n);
    }
    if !(args.nphotons > 0.0 && args.nphotons.is_finite()) {
        bail!("--nphotons {}: must be a positive number", args.nphotons);
    }
    let object_size = args.object_size.unwrap_or(392 * args.n / 64);
    if object_size < args.n + 8 {
        bail!(
            "--object-size {object_size}: must be at least N + 8 = {}",
            args.n + 8
        );
    }
    let config = SimulationConfig {
        n: args.n,
        object_size,
        nphotons: args.nphotons,
        seed: args.seed,
        ..SimulationConfig::default()
    };
    let pattern = match args.raster_step {
        Some(step) if step > 0.0 => ScanPattern::Raster { step_px: step },
        Some(step) => bail!("--raster-step {step}: must be positive"),
        None => ScanPattern::Random {
            count: args.n_images,
        },
    };
    if matches!(pattern, ScanPattern::Random { count: 0 }) {
        bail!("--n-images 0: need at least one position");
    }
    for path in std::iter::once(&args.output).chain(args.test_output.as_ref()) {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    let probe = read_probe(args)?;
    let (object, object_note) = object_of(args.object, &config);
    let write = |pattern: ScanPattern,
                 seed: u64,
                 path: &PathBuf,
                 role: &str|
     -> anyhow::Result<()> {
        let SimulatedScan {
            mut dataset,
            truth_patches,
            intensity_scale,
        } = simulate_object_scan(&object, probe.as_ref(), &config, pattern, seed)?;
        dataset.metadata = Some(serde_json::to_string(&serde_json::json!({
            "generator": "ptychostudio simulate",
            "version": env!("CARGO_PKG_VERSION"),
            "role": role,
            "config": config,
            "positions": pattern,
            "position_seed": seed,
            "intensity_scale": intensity_scale,
            "object": object_note,
            "probe": "Gaussian-window disk (sigma = N / (0.7 pi^2), > 0.5), blurred sigma 1, + 1e-9, / (4 mean|P|)",
        }))?);
        save_pinn(
            &dataset,
            path,
            args.with_truth_patches.then_some(&truth_patches),
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!(
            "wrote {} ({} patterns of {}², object {}², {:.1e} photons per pattern)",
            path.display(),
            dataset.len(),
            config.n,
            config.object_size,
            config.nphotons
        );
        Ok(())
    };
    write(pattern, args.seed, &args.output, "train")?;
    if let Some(test) = &args.test_output {
        let test_pattern = ScanPattern::Random {
            count: args.n_test_images,
        };
        write(
            test_pattern,
            args.seed.wrapping_add(1_000_003),
            test,
            "test",
        )?;
    }
    Ok(())
}
