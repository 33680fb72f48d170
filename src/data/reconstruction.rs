//! A reconstructed object (from ePIE or the network) and the files it is written to.

use std::path::{Path, PathBuf};

use ndarray::Array1;
use num_complex::Complex32;

use crate::io::png::{PngError, write_amplitude_phase};
use crate::io::product::Product;
use crate::io::{NpzError, NpzWriter};
use crate::metrics::region::{COVERED_FRACTION, illumination, unlit_as_nan};

use super::{Dataset, PhysicalInfo};

/// Geometry written into product files when the data give none (PtychoPINN NPZ files carry no
/// pixel size): 10 nm pixels, 10 keV, 1 m. Stated in the product's `comments`.
pub const ASSUMED_GEOMETRY: PhysicalInfo = PhysicalInfo {
    pixel_size_m: Some(1e-8),
    photon_energy_ev: Some(10_000.0),
    detector_distance_m: Some(1.0),
};

/// An object on its own canvas with the probe it was reconstructed with.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// `[h, w]` complex object.
    pub object: ndarray::Array2<Complex32>,
    /// `[n, n]` probe.
    pub probe: ndarray::Array2<Complex32>,
    /// Object coordinates `[x, y]` (the dataset's pixel frame) of canvas pixel (0, 0).
    pub origin_px: [f64; 2],
    /// Cost per iteration or epoch.
    pub costs: Vec<f64>,
    /// Which method made it ("ePIE", "PtychoPINN").
    pub method: String,
    /// The scan positions `[x, y]` (object pixels) as refined by the method, when it refined
    /// them (else the dataset's positions were used as given).
    pub refined_positions_px: Option<Vec<[f64; 2]>>,
}

/// The files [`Reconstruction::write_all`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WrittenFiles {
    /// `<prefix>_reconstruction.npz`
    pub npz: PathBuf,
    /// `<prefix>_product.npz`
    pub product: PathBuf,
    /// `<prefix>_product.h5`: the same product in ptychodus's HDF5 layout.
    pub product_h5: PathBuf,
    /// `<prefix>_amplitude.png`
    pub amplitude_png: PathBuf,
    /// `<prefix>_phase.png`
    pub phase_png: PathBuf,
    /// `<prefix>_amplitude.tiff`: |object|, 32-bit float, every pixel of the NPZ's object.
    pub amplitude_tiff: PathBuf,
    /// `<prefix>_phase.tiff`: arg(object), radians, 32-bit float.
    pub phase_tiff: PathBuf,
}

/// Errors writing a reconstruction.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// NPZ.
    #[error(transparent)]
    Npz(#[from] NpzError),
    /// PNG.
    #[error(transparent)]
    Png(#[from] PngError),
    /// TIFF.
    #[error(transparent)]
    Tiff(#[from] crate::io::tiff::TiffError),
    /// HDF5.
    #[error(transparent)]
    Hdf5(#[from] crate::io::hdf5::Hdf5Error),
}

impl Reconstruction {
    /// Writes the objectGuess-compatible NPZ: `objectGuess` (complex64), `probeGuess`,
    /// `origin_x_px`, `origin_y_px` (0-d: object coordinates of pixel (0, 0)), `costs`, and with
    /// refined positions `refined_xcoords`, `refined_ycoords` (object pixels, the scan's order).
    pub fn write_npz(&self, path: &Path) -> Result<(), NpzError> {
        self.write_npz_with(path, None)
    }

    /// [`Reconstruction::write_npz`], with the `illumination` map (float32, the canvas's shape:
    /// the probe intensity summed over the positions, 1 = one probe's peak) when given.
    fn write_npz_with(
        &self,
        path: &Path,
        illumination: Option<&ndarray::Array2<f32>>,
    ) -> Result<(), NpzError> {
        let mut w = NpzWriter::create(path)?;
        if let Some(map) = illumination {
            w.add("illumination", map)?;
        }
        w.add("objectGuess", &self.object)?;
        w.add("probeGuess", &self.probe)?;
        w.add_scalar("origin_x_px", self.origin_px[0])?;
        w.add_scalar("origin_y_px", self.origin_px[1])?;
        w.add("costs", &Array1::from(self.costs.clone()))?;
        w.add_str("method", &self.method)?;
        if let Some(positions) = &self.refined_positions_px {
            w.add(
                "refined_xcoords",
                &positions.iter().map(|p| p[0]).collect::<Array1<f64>>(),
            )?;
            w.add(
                "refined_ycoords",
                &positions.iter().map(|p| p[1]).collect::<Array1<f64>>(),
            )?;
        }
        w.finish()
    }

    /// The ptychodus product: positions (the refined ones, when there are) in metres with the
    /// object centred at (0, 0).
    pub fn to_product(&self, dataset: &Dataset, name: &str) -> Product {
        let given = dataset.physical;
        let pixel = given
            .pixel_size_m
            .or(ASSUMED_GEOMETRY.pixel_size_m)
            .unwrap_or(1e-8);
        let assumed = given.pixel_size_m.is_none();
        let (h, w) = self.object.dim();
        let positions = self
            .refined_positions_px
            .as_deref()
            .filter(|p| p.len() == dataset.len())
            .unwrap_or(dataset.positions_px())
            .iter()
            .map(|p| {
                [
                    (p[0] - self.origin_px[0] - w as f64 / 2.0) * pixel,
                    (p[1] - self.origin_px[1] - h as f64 / 2.0) * pixel,
                ]
            })
            .collect();
        Product {
            name: name.to_owned(),
            comments: format!(
                "{} reconstruction by ptychostudio {}{}",
                self.method,
                env!("CARGO_PKG_VERSION"),
                if assumed {
                    "; pixel size, energy and distance assumed (the input gave none)"
                } else {
                    ""
                }
            ),
            photon_energy_ev: given
                .photon_energy_ev
                .or(ASSUMED_GEOMETRY.photon_energy_ev)
                .unwrap_or(1e4),
            detector_object_distance_m: given
                .detector_distance_m
                .or(ASSUMED_GEOMETRY.detector_distance_m)
                .unwrap_or(1.0),
            object_pixel_width_m: pixel,
            object_pixel_height_m: pixel,
            object_center_x_m: 0.0,
            object_center_y_m: 0.0,
            probe: self.probe.clone(),
            probe_modes_in_file: 1,
            object: self.object.clone(),
            probe_position_indexes: (0..dataset.len() as i64).collect(),
            probe_positions_m: positions,
            loss_values: self.costs.clone(),
        }
    }

    /// The phase for display: the object rotated by its mean complex value, so an arbitrary
    /// global phase does not wrap the picture.
    pub fn display_phase(&self) -> ndarray::Array2<f32> {
        mean_rotated_phase(&self.object)
    }

    /// The illumination of the canvas ([`crate::metrics::region::illumination`]): this
    /// reconstruction's probe intensity summed over the positions it was made at (the refined
    /// ones when there are), 1 = one probe's peak.
    pub fn illumination(&self, dataset: &Dataset) -> ndarray::Array2<f32> {
        let positions = self
            .refined_positions_px
            .as_deref()
            .filter(|p| p.len() == dataset.len())
            .unwrap_or(dataset.positions_px());
        let weights = self.probe.mapv(|p| p.norm_sqr());
        let top_left = [
            self.origin_px[0].round() as i64,
            self.origin_px[1].round() as i64,
        ];
        illumination(positions, &weights, top_left, self.object.dim())
    }

    /// Writes the NPZ (with the illumination map), the product (NPZ and HDF5), the amplitude and phase
    /// PNGs (unlit pixels grey) and 32-bit float TIFFs (the NPZ's pixels, for ImageJ/Fiji) into
    /// `dir` as `<prefix>_…`.
    pub fn write_all(
        &self,
        dataset: &Dataset,
        dir: &Path,
        prefix: &str,
    ) -> Result<WrittenFiles, WriteError> {
        let files = WrittenFiles {
            npz: dir.join(format!("{prefix}_reconstruction.npz")),
            product: dir.join(format!("{prefix}_product.npz")),
            product_h5: dir.join(format!("{prefix}_product.h5")),
            amplitude_png: dir.join(format!("{prefix}_amplitude.png")),
            phase_png: dir.join(format!("{prefix}_phase.png")),
            amplitude_tiff: dir.join(format!("{prefix}_amplitude.tiff")),
            phase_tiff: dir.join(format!("{prefix}_phase.tiff")),
        };
        let lit = self.illumination(dataset);
        self.write_npz_with(&files.npz, Some(&lit))?;
        let product = self.to_product(dataset, prefix);
        product.write(&files.product)?;
        crate::io::hdf5::product::write_product_h5(&product, &files.product_h5)?;
        // The pictures show what was reconstructed: pixels lit under COVERED_FRACTION of a
        // probe's peak are grey, and the phase is rotated by the mean over the lit pixels.
        let lit = lit.mapv(|v| v >= COVERED_FRACTION);
        let masked = ndarray::Zip::from(&self.object)
            .and(&lit)
            .map_collect(|&o, &l| if l { o } else { Complex32::default() });
        let amplitude = unlit_as_nan(self.object.mapv(Complex32::norm), &lit);
        let phase = unlit_as_nan(mean_rotated_phase(&masked), &lit);
        write_amplitude_phase(&files.amplitude_png, &files.phase_png, &amplitude, &phase)?;
        crate::io::tiff::write_f32_tiff(&files.amplitude_tiff, &self.object.mapv(Complex32::norm))?;
        crate::io::tiff::write_f32_tiff(&files.phase_tiff, &self.object.mapv(Complex32::arg))?;
        Ok(files)
    }
}

/// The phase of `object` after rotating it by its mean complex value, so an arbitrary global
/// phase does not wrap the picture.
pub fn mean_rotated_phase(object: &ndarray::Array2<Complex32>) -> ndarray::Array2<f32> {
    let mean: Complex32 = object.iter().sum::<Complex32>() / object.len().max(1) as f32;
    let rotate = if mean.norm() > 0.0 {
        mean.conj() / mean.norm()
    } else {
        Complex32::new(1.0, 0.0)
    };
    object.mapv(|c| (c * rotate).arg())
}
