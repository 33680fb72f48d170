//! The layouts: which datasets hold the frames, the geometry, the positions and the probe.
//!
//! 1. **Eiger / NeXus master**: frames at `/entry/data/data_NNNNNN` (external links, relative to
//!    the master; a link whose file is missing is skipped with a note) or `/entry/data/data`
//!    (plain or virtual); geometry at `/entry/instrument/detector/{detector_distance,
//!    x_pixel_size, y_pixel_size, beam_center_x, beam_center_y}` and
//!    `…/detectorSpecific/photon_energy` (eV); positions from a sidecar file.
//! 2. **CXI**: `/entry_1/data_1/data`, `/entry_1/instrument_1/detector_1/{distance,
//!    x_pixel_size, y_pixel_size, mask}`, `/entry_1/instrument_1/source_1/energy` (J),
//!    positions at `/entry_1/data_1/translation` or `/entry_1/sample_1/geometry_1/translation`
//!    (metres, column 0 = x = object columns, column 1 = y = rows), the probe at
//!    `…/source_1/illumination`.
//! 3. **A single 3-D stack** anywhere (`/exchange/data`, `/dp`, …), or the dataset the user
//!    names; the geometry and positions come from the user.

use std::ops::Range;
use std::path::{Path, PathBuf};

use hdf5_metno::{Dataset, File, Group};
use ndarray::{Array2, Array3, Ix2, Ix3, s};
use num_complex::Complex32;

use super::Hdf5Error;
use super::tree::{first_line, list_tree};

/// Which layout a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Hdf5Layout {
    /// An Eiger / NeXus master file.
    NexusMaster,
    /// A CXI file.
    Cxi,
    /// One 3-D stack of frames, geometry and positions given by the user.
    Stack,
}

impl Hdf5Layout {
    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NexusMaster => "Eiger / NeXus master (HDF5)",
            Self::Cxi => "CXI (HDF5)",
            Self::Stack => "HDF5 stack of frames",
        }
    }
}

/// What the file says about the experiment (each `None` when it does not say).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ScanGeometry {
    /// Photon energy, electron-volts.
    pub energy_ev: Option<f64>,
    /// Sample–detector distance, metres.
    pub distance_m: Option<f64>,
    /// Detector pixel size `[x, y]`, metres.
    pub detector_pixel_m: Option<[f64; 2]>,
    /// Beam centre `[x (column), y (row)]` on the frame, pixels.
    pub beam_center_px: Option<[f64; 2]>,
}

/// A scan as the file holds it, before any conversion. The frames stay in the file until they
/// are read, block by block ([`FrameStack::read_block`]).
#[derive(Debug)]
pub struct RawScan {
    /// The layout read.
    pub layout: Hdf5Layout,
    /// Where the frames came from (dataset paths).
    pub frames_from: Vec<String>,
    /// The `[m, rows, cols]` detector frames (counts), in the file.
    pub frames: FrameStack,
    /// Bad pixels (`true` = bad), when the file gives a mask.
    pub bad_pixels: Option<Array2<bool>>,
    /// The geometry the file states.
    pub geometry: ScanGeometry,
    /// Positions `[x, y]` in metres, when the file holds them.
    pub positions_m: Option<Vec<[f64; 2]>>,
    /// The probe on the object grid, when the file holds one.
    pub probe: Option<Array2<Complex32>>,
    /// Things worth knowing, one sentence each.
    pub notes: Vec<String>,
}

/// Reads the scan in `path`: the layout detected, or the stack at `data_path` when given.
pub fn read_scan(path: &Path, data_path: Option<&str>) -> Result<RawScan, Hdf5Error> {
    let file = super::open(path)?;
    if let Some(data) = data_path {
        return read_stack(path, &file, data, Vec::new());
    }
    if super::product::is_product(&file) {
        return Err(Hdf5Error::new(
            path,
            "/",
            "this is a ptychodus product (a reconstruction: probe, object, positions), not a \
             scan: open the diffraction file and pass this one with --product",
        ));
    }
    if file.link_exists("entry_1") {
        return read_cxi(path, &file);
    }
    if file.link_exists("entry") && file.group("entry").is_ok_and(|g| g.link_exists("data")) {
        return read_nexus(path, &file);
    }
    let stacks: Vec<String> = list_tree(&file)
        .into_iter()
        .filter(|n| n.shape.as_ref().is_some_and(|s| s.len() == 3 && s[0] > 0))
        .map(|n| n.path)
        .collect();
    match stacks.as_slice() {
        [only] => read_stack(
            path,
            &file,
            only,
            vec![format!("frames from the file's only 3-D dataset, {only}")],
        ),
        [] => Err(Hdf5Error::new(
            path,
            "/",
            "no CXI (/entry_1) or NeXus (/entry/data) layout and no 3-D dataset of frames",
        )),
        many => Err(Hdf5Error::new(
            path,
            "/",
            format!(
                "several 3-D datasets ({}): name the frames with --h5-data PATH (in the window: \
                 pick them under HDF5 settings)",
                many.join(", ")
            ),
        )),
    }
}

fn object_error(path: &Path, object: &str, e: &hdf5_metno::Error) -> Hdf5Error {
    Hdf5Error::new(path, object, first_line(&e.to_string()))
}

fn dataset(path: &Path, file: &File, object: &str) -> Result<Dataset, Hdf5Error> {
    file.dataset(object)
        .map_err(|e| object_error(path, object, &e))
}

/// The frames of a scan in the file: one or more 3-D datasets (linked data files one after
/// another), all with the same frame size, read a block of frames at a time.
#[derive(Debug)]
pub struct FrameStack {
    file: PathBuf,
    parts: Vec<StackPart>,
    rows: usize,
    cols: usize,
}

#[derive(Debug)]
struct StackPart {
    dataset: Dataset,
    object: String,
    frames: usize,
}

/// Checks that `ds` is a readable 3-D stack of frames: shape, then filters.
fn stack_part(path: &Path, ds: Dataset, object: &str) -> Result<StackPart, Hdf5Error> {
    let shape = ds.shape();
    if shape.len() != 3 || shape.contains(&0) {
        return Err(Hdf5Error::new(
            path,
            object,
            format!("shape {shape:?}, expected (frames, rows, columns)"),
        ));
    }
    check_filters(path, &ds, object)?;
    Ok(StackPart {
        dataset: ds,
        object: object.to_owned(),
        frames: shape[0],
    })
}

impl FrameStack {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| p.frames).sum()
    }

    /// Always false: a stack has at least one frame.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(rows, cols)` of one frame.
    pub fn frame_dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Frames `frames` (which may span linked files), rows `rows` and columns `cols` of each,
    /// as `f32`, `[frames.len(), rows.len(), cols.len()]`. Only the chunks that hold them are
    /// read and decoded.
    pub fn read_block(
        &self,
        frames: Range<usize>,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> Result<Array3<f32>, Hdf5Error> {
        let mut out = Array3::<f32>::zeros((frames.len(), rows.len(), cols.len()));
        let mut first = 0;
        for part in &self.parts {
            let here = first..first + part.frames;
            let (a, b) = (frames.start.max(here.start), frames.end.min(here.end));
            if a < b {
                let block = part
                    .dataset
                    .read_slice::<f32, _, Ix3>(s![a - first..b - first, rows.clone(), cols.clone()])
                    .map_err(|e| object_error(&self.file, &part.object, &e))?;
                out.slice_mut(s![a - frames.start..b - frames.start, .., ..])
                    .assign(&block);
            }
            first += part.frames;
        }
        Ok(out)
    }

    /// Every frame, whole (for small files and tests).
    pub fn read_all(&self) -> Result<Array3<f32>, Hdf5Error> {
        self.read_block(0..self.len(), 0..self.rows, 0..self.cols)
    }
}

/// Known filter names, for the error that names one we cannot decode.
fn filter_name(id: i32) -> &'static str {
    match id {
        32001 => "Blosc",
        32013 => "ZFP",
        32015 => "Zstandard",
        32017 => "SZ",
        32026 => "Blosc2",
        _ => "not one we know",
    }
}

/// Refuses, naming the filter, a dataset compressed with a filter we cannot decode (HDF5 would
/// look for a plugin and fail with a message about a directory).
fn check_filters(path: &Path, ds: &Dataset, object: &str) -> Result<(), Hdf5Error> {
    match ds.filters().iter().find(|f| !f.is_available()) {
        Some(f) => Err(Hdf5Error::new(
            path,
            object,
            format!(
                "compressed with HDF5 filter {} ({}), which this program cannot decode (it \
                 reads gzip, shuffle, szip, LZF, bitshuffle/LZ4 and LZ4): re-save it with one \
                 of those, e.g. h5repack -f GZIP=4",
                f.id(),
                filter_name(f.id())
            ),
        )),
        None => Ok(()),
    }
}

/// A scalar (or the first element of a 1-element array) as `f64`, when present and readable.
fn scalar(group: &Group, name: &str) -> Option<f64> {
    let ds = group.dataset(name).ok()?;
    if ds.ndim() == 0 {
        ds.read_scalar::<f64>().ok()
    } else {
        ds.read_raw::<f64>().ok()?.first().copied()
    }
}

fn read_cxi(path: &Path, file: &File) -> Result<RawScan, Hdf5Error> {
    let data_path = "entry_1/data_1/data";
    let frames = stack(
        path,
        vec![stack_part(
            path,
            dataset(path, file, data_path)?,
            data_path,
        )?],
    )?;
    let mut notes = Vec::new();
    let detector = file.group("entry_1/instrument_1/detector_1").ok();
    let source = file.group("entry_1/instrument_1/source_1").ok();
    let pixel = detector.as_ref().and_then(|d| {
        let x = scalar(d, "x_pixel_size")?;
        Some([x, scalar(d, "y_pixel_size").unwrap_or(x)])
    });
    let energy_j = source.as_ref().and_then(|s| scalar(s, "energy"));
    let geometry = ScanGeometry {
        energy_ev: energy_j.map(|j| j / 1.602_176_634e-19),
        distance_m: detector.as_ref().and_then(|d| scalar(d, "distance")),
        detector_pixel_m: pixel,
        beam_center_px: None,
    };
    let bad_pixels = match detector.as_ref().and_then(|d| d.dataset("mask").ok()) {
        Some(ds) => {
            let mask = ds
                .read::<u32, Ix2>()
                .map_err(|e| object_error(path, "entry_1/instrument_1/detector_1/mask", &e))?;
            Some(mask.mapv(|v| v != 0))
        }
        None => None,
    };
    let mut positions_m = None;
    for object in [
        "entry_1/data_1/translation",
        "entry_1/sample_1/geometry_1/translation",
    ] {
        if let Ok(ds) = file.dataset(object) {
            let t = ds
                .read::<f64, Ix2>()
                .map_err(|e| object_error(path, object, &e))?;
            if t.ncols() < 2 {
                return Err(Hdf5Error::new(
                    path,
                    object,
                    format!("shape {:?}, expected (frames, 2 or 3) metres", t.shape()),
                ));
            }
            positions_m = Some(t.outer_iter().map(|r| [r[0], r[1]]).collect());
            notes.push(format!(
                "positions from /{object} (metres; x = columns, y = rows)"
            ));
            break;
        }
    }
    let probe = match source.as_ref().and_then(|s| s.dataset("illumination").ok()) {
        Some(ds) => Some(probe_of(
            path,
            &ds,
            "entry_1/instrument_1/source_1/illumination",
        )?),
        None => None,
    };
    Ok(RawScan {
        layout: Hdf5Layout::Cxi,
        frames_from: vec![format!("/{data_path}")],
        frames,
        bad_pixels,
        geometry,
        positions_m,
        probe,
        notes,
    })
}

/// A probe: `(n, n)` complex, or the first mode of `(…, n, n)`.
fn probe_of(path: &Path, ds: &Dataset, object: &str) -> Result<Array2<Complex32>, Hdf5Error> {
    let values = ds
        .read_dyn::<Complex32>()
        .map_err(|e| object_error(path, object, &e))?;
    crate::io::product::leading_plane(&values)
        .map(|(plane, _)| plane)
        .ok_or_else(|| {
            Hdf5Error::new(
                path,
                object,
                format!(
                    "shape {:?}, expected (N, N) or (modes, N, N) complex",
                    values.shape()
                ),
            )
        })
}

fn read_nexus(path: &Path, file: &File) -> Result<RawScan, Hdf5Error> {
    let data = file
        .group("entry/data")
        .map_err(|e| object_error(path, "entry/data", &e))?;
    let mut notes = Vec::new();
    let mut names: Vec<String> = data
        .member_names()
        .map_err(|e| object_error(path, "entry/data", &e))?
        .into_iter()
        .filter(|n| n.starts_with("data_"))
        .collect();
    names.sort();
    let mut parts = Vec::new();
    let mut frames_from = Vec::new();
    if names.is_empty() {
        let object = "entry/data/data";
        parts.push(stack_part(path, dataset(path, file, object)?, object)?);
        frames_from.push(format!("/{object}"));
    } else {
        for name in &names {
            let object = format!("entry/data/{name}");
            match data.dataset(name) {
                Ok(ds) => {
                    parts.push(stack_part(path, ds, &object)?);
                    frames_from.push(format!("/{object}"));
                }
                Err(e) => notes.push(format!(
                    "/{object} skipped: {} (an external link to a data file that is not there?)",
                    first_line(&e.to_string())
                )),
            }
        }
    }
    if parts.is_empty() {
        return Err(Hdf5Error::new(
            path,
            "entry/data",
            format!(
                "none of the linked data files could be read: {}",
                notes.join("; ")
            ),
        ));
    }
    let frames = stack(path, parts)?;
    let detector = file.group("entry/instrument/detector").ok();
    let geometry = detector.as_ref().map_or_else(ScanGeometry::default, |d| {
        let x = scalar(d, "x_pixel_size");
        let cx = scalar(d, "beam_center_x");
        ScanGeometry {
            energy_ev: d
                .group("detectorSpecific")
                .ok()
                .and_then(|s| scalar(&s, "photon_energy")),
            distance_m: scalar(d, "detector_distance"),
            detector_pixel_m: x.map(|x| [x, scalar(d, "y_pixel_size").unwrap_or(x)]),
            beam_center_px: cx.zip(scalar(d, "beam_center_y")).map(|(x, y)| [x, y]),
        }
    });
    let bad_pixels = detector
        .as_ref()
        .and_then(|d| d.dataset("pixel_mask").ok())
        .and_then(|ds| ds.read::<u32, Ix2>().ok())
        .map(|m| m.mapv(|v| v != 0));
    Ok(RawScan {
        layout: Hdf5Layout::NexusMaster,
        frames_from,
        frames,
        bad_pixels,
        geometry,
        positions_m: None,
        probe: None,
        notes,
    })
}

/// Frames from one or several datasets, one stack; all must have the same frame shape.
fn stack(path: &Path, parts: Vec<StackPart>) -> Result<FrameStack, Hdf5Error> {
    let frame = |p: &StackPart| {
        let shape = p.dataset.shape();
        (shape[1], shape[2])
    };
    let Some(first) = parts.first().map(frame) else {
        return Err(Hdf5Error::new(path, "/", "no frames"));
    };
    if let Some(bad) = parts.iter().find(|p| frame(p) != first) {
        return Err(Hdf5Error::new(
            path,
            &bad.object,
            format!(
                "linked data files disagree on the frame size: {:?} and {:?}",
                first,
                frame(bad)
            ),
        ));
    }
    Ok(FrameStack {
        file: path.to_path_buf(),
        parts,
        rows: first.0,
        cols: first.1,
    })
}

/// Positions `[x, y]` in metres from the dataset `object` of the file at `path`: shape
/// (frames, 2 or 3), column 0 = x = object columns, column 1 = y = rows, as CXI stores them.
pub fn read_positions(path: &Path, object: &str) -> Result<Vec<[f64; 2]>, Hdf5Error> {
    let file = super::open(path)?;
    let object = object.trim_start_matches('/');
    let ds = dataset(path, &file, object)?;
    let shape = ds.shape();
    if shape.len() != 2 || shape[1] < 2 {
        return Err(Hdf5Error::new(
            path,
            object,
            format!("shape {shape:?}, expected (frames, 2 or 3) positions in metres"),
        ));
    }
    let t = ds
        .read::<f64, Ix2>()
        .map_err(|e| object_error(path, object, &e))?;
    Ok(t.outer_iter().map(|r| [r[0], r[1]]).collect())
}

fn read_stack(
    path: &Path,
    file: &File,
    object: &str,
    notes: Vec<String>,
) -> Result<RawScan, Hdf5Error> {
    let object = object.trim_start_matches('/');
    let frames = stack(
        path,
        vec![stack_part(path, dataset(path, file, object)?, object)?],
    )?;
    Ok(RawScan {
        layout: Hdf5Layout::Stack,
        frames_from: vec![format!("/{object}")],
        frames,
        bad_pixels: None,
        geometry: ScanGeometry::default(),
        positions_m: None,
        probe: None,
        notes,
    })
}
