//! HDF5 in: the decoders against chunks the reference filters wrote, each layout of the
//! fixtures (written by `scripts/hdf5-fixtures.py` with h5py and hdf5plugin) read as h5py reads
//! it, trained on and reconstructed from, and bad files refused with one line naming the path.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use ptychostudio::data::{LoadOptions, load};
use ptychostudio::io::hdf5::filters::{BITSHUFFLE_LZ4, bitshuffle_decode, lz4_decode};
use ptychostudio::io::hdf5::{Hdf5Layout, read_scan};

fn fixture(name: &str) -> PathBuf {
    Path::new("tests/fixtures/hdf5").join(name)
}

fn with_positions(name: &str) -> LoadOptions {
    let mut options = LoadOptions::default();
    options.hdf5.positions = Some(fixture(name));
    options
}

fn fixtures_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("fixtures.json")).unwrap()).unwrap()
}

#[test]
fn decoders_match_the_reference_filters() {
    let expected = std::fs::read(fixture("chunk_bshuf_lz4.expected.bin")).unwrap();
    let chunk = std::fs::read(fixture("chunk_bshuf_lz4.bin")).unwrap();
    assert_eq!(
        bitshuffle_decode(&chunk, 4, BITSHUFFLE_LZ4, 0).unwrap(),
        expected
    );
    let expected = std::fs::read(fixture("chunk_lz4.expected.bin")).unwrap();
    let chunk = std::fs::read(fixture("chunk_lz4.bin")).unwrap();
    assert_eq!(lz4_decode(&chunk).unwrap(), expected);
    // A corrupt chunk is an error, not a panic or garbage.
    let mut bad = std::fs::read(fixture("chunk_bshuf_lz4.bin")).unwrap();
    bad.truncate(bad.len() / 2);
    assert!(bitshuffle_decode(&bad, 4, BITSHUFFLE_LZ4, 0).is_err());
}

/// Σv and Σv·(i+1) over a frame's pixels, as the fixture script computes them.
fn checksum(frame: &ndarray::ArrayView2<'_, f32>) -> [u64; 2] {
    let mut sums = [0u64; 2];
    for (i, &v) in frame.iter().enumerate() {
        let v = v as u64;
        sums[0] += v;
        sums[1] += v * (i as u64 + 1);
    }
    sums
}

#[test]
fn compressed_eiger_frames_equal_what_h5py_reads() {
    let info = fixtures_json();
    let expected: Vec<[u64; 2]> =
        serde_json::from_value(info["eiger_frame_checksums"].clone()).unwrap();
    for master in ["eiger_master.h5", "eiger_vds.h5"] {
        let raw = read_scan(&fixture(master), None).unwrap();
        assert_eq!(raw.layout, Hdf5Layout::NexusMaster);
        let all = raw.frames.read_all().unwrap();
        assert_eq!(all.shape(), [expected.len(), 80, 72], "{master}");
        let got: Vec<[u64; 2]> = all.outer_iter().map(|f| checksum(&f)).collect();
        assert_eq!(got, expected, "{master}: frames differ from h5py's");
        // A block that spans the linked files, cut to a window, is the same pixels.
        let m = raw.frames.len();
        let block = raw.frames.read_block(1..m - 1, 10..50, 5..69).unwrap();
        assert_eq!(
            block,
            all.slice(ndarray::s![1..m - 1, 10..50, 5..69]),
            "{master}"
        );
        assert_eq!(raw.geometry.beam_center_px, Some([37.0, 39.0]));
        assert_eq!(raw.geometry.energy_ev, Some(8000.0));
    }
    // The master's third link points at a file that is not there: skipped, said.
    let raw = read_scan(&fixture("eiger_master.h5"), None).unwrap();
    assert!(
        raw.notes
            .iter()
            .any(|n| n.contains("data_000003") && n.contains("skipped")),
        "{:?}",
        raw.notes
    );
}

#[test]
fn every_layout_makes_the_same_scan() {
    let cxi = load(&fixture("scan.cxi"), &LoadOptions::default()).unwrap();
    let eiger = load(
        &fixture("eiger_master.h5"),
        &with_positions("eiger_positions.csv"),
    )
    .unwrap();
    let vds = load(
        &fixture("eiger_vds.h5"),
        &with_positions("eiger_positions.csv"),
    )
    .unwrap();
    for (name, loaded) in [("cxi", &cxi), ("eiger", &eiger), ("vds", &vds)] {
        let d = &loaded.dataset;
        assert_eq!((d.len(), d.n()), (64, 64), "{name}");
        let pixel = d.physical.pixel_size_m.unwrap();
        assert!((pixel - 6.4575e-8).abs() < 1e-11, "{name}: {pixel}");
    }
    assert_eq!(
        eiger.dataset.diffraction().unwrap(),
        vds.dataset.diffraction().unwrap()
    );
    // The CXI file's mask marks pixel (3, 5), filled from its neighbours; the rest is equal.
    let mut a = cxi.dataset.diffraction().unwrap().into_owned();
    let mut b = eiger.dataset.diffraction().unwrap().into_owned();
    a.slice_mut(ndarray::s![.., 3, 5]).fill(0.0);
    b.slice_mut(ndarray::s![.., 3, 5]).fill(0.0);
    assert_eq!(a, b);
    for (p, q) in cxi
        .dataset
        .positions_px()
        .iter()
        .zip(eiger.dataset.positions_px())
    {
        assert!(
            (p[0] - q[0]).abs() < 1e-3 && (p[1] - q[1]).abs() < 1e-3,
            "{p:?} {q:?}"
        );
    }
    assert!(cxi.notes.iter().any(|n| n.contains("probe from the file")));
    assert!(
        eiger
            .notes
            .iter()
            .any(|n| n.contains("estimated from the mean pattern"))
    );
}

#[test]
fn an_odd_sized_u16_stack_is_cut_around_the_beam() {
    let loaded = load(
        &fixture("odd_stack.h5"),
        &with_positions("odd_positions.txt"),
    )
    .unwrap();
    let d = loaded.dataset.diffraction().unwrap();
    assert_eq!(d.shape(), [64, 64, 64]);
    // 61 rows with DC at row 30: two zero rows on top bring it to row 32.
    assert!(d.slice(ndarray::s![.., 0..2, ..]).iter().all(|&v| v == 0.0));
    let mean = d.mean_axis(ndarray::Axis(0)).unwrap();
    let brightest = mean
        .indexed_iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(brightest, (32, 32));
    // No geometry, positions in pixels: none needed.
    assert!(loaded.dataset.physical.pixel_size_m.is_none());
}

/// Loads `file` with `options`; the error, checked to be one line naming the file.
fn refused(file: &Path, options: &LoadOptions) -> String {
    let error = load(file, options).unwrap_err().to_string();
    assert!(!error.contains('\n'), "one line: {error}");
    error
}

#[test]
fn bad_hdf5_files_give_one_line_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // Truncated.
    let bytes = std::fs::read(fixture("scan.cxi")).unwrap();
    let truncated = dir.path().join("truncated.cxi");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let e = refused(&truncated, &LoadOptions::default());
    assert!(
        e.contains("truncated.cxi") && e.contains("truncated"),
        "{e}"
    );
    // A dataset that is not there, and one of the wrong rank.
    let mut options = LoadOptions::default();
    options.hdf5.data_path = Some("/entry_1/nothing".into());
    let e = refused(&fixture("scan.cxi"), &options);
    assert!(
        e.contains("entry_1/nothing") && e.contains("doesn't exist"),
        "{e}"
    );
    options.hdf5.data_path = Some("/entry_1/instrument_1/detector_1/mask".into());
    let e = refused(&fixture("scan.cxi"), &options);
    assert!(
        e.contains("detector_1/mask") && e.contains("[64, 64]"),
        "{e}"
    );
    // A master whose every data file is missing.
    let lonely = dir.path().join("eiger_master.h5");
    std::fs::copy(fixture("eiger_master.h5"), &lonely).unwrap();
    let e = refused(&lonely, &with_positions("eiger_positions.csv"));
    assert!(
        e.contains("entry/data") && e.contains("none of the linked data files"),
        "{e}"
    );
    // A filter we do not decode (Zstandard, 32015).
    let e = refused(
        &fixture("unknown_filter.h5"),
        &with_positions("odd_positions.txt"),
    );
    assert!(e.contains("exchange/data") && e.contains("32015"), "{e}");
    // No positions; positions in metres without the geometry; the wrong number of them.
    let e = refused(&fixture("eiger_master.h5"), &LoadOptions::default());
    assert!(e.contains("--positions"), "{e}");
    let e = refused(
        &fixture("odd_stack.h5"),
        &with_positions("eiger_positions.csv"),
    );
    assert!(e.contains("--energy-ev"), "{e}");
    let short = dir.path().join("short.csv");
    std::fs::write(&short, "x_px,y_px\n40,40\n").unwrap();
    let mut options = LoadOptions::default();
    options.hdf5.positions = Some(short);
    let e = refused(&fixture("odd_stack.h5"), &options);
    assert!(e.contains("1 entries, expected 64"), "{e}");
}

fn ptychostudio(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ptychostudio"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn inspect_train_and_reconstruct_from_an_eiger_master() {
    let master = fixture("eiger_master.h5");
    let positions = fixture("eiger_positions.csv");
    let (m, p) = (master.to_str().unwrap(), positions.to_str().unwrap());
    let out = ptychostudio(&["inspect", m, "--positions", p]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Eiger / NeXus master") && text.contains("N = 64, M = 64"),
        "{text}"
    );
    assert!(text.contains("/entry/data/data_000001"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = ptychostudio(&[
        "train",
        "--train-data-file",
        m,
        "--positions",
        p,
        "--output-dir",
        run.to_str().unwrap(),
        "--nepochs",
        "1",
        "--n-groups",
        "16",
        "--batch-size",
        "8",
        "--n-filters-scale",
        "1",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let infer = dir.path().join("infer");
    let out = ptychostudio(&[
        "infer",
        "--model-path",
        run.to_str().unwrap(),
        "--test-data",
        fixture("scan.cxi").to_str().unwrap(),
        "--output-dir",
        infer.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(infer.join("reconstructed_phase.png").is_file());
    // The TIFFs hold the NPZ's object: |O| and arg(O), pixel for pixel.
    let mut npz =
        ptychostudio::io::NpzReader::open(&infer.join("reconstructed_reconstruction.npz")).unwrap();
    let object = npz.read("objectGuess").unwrap().to_c32().unwrap();
    let read = |name: &str| {
        ptychostudio::io::tiff::read_f32_tiff(&std::fs::read(infer.join(name)).unwrap()).unwrap()
    };
    // The ptychodus HDF5 product: read back, and refused as a scan with the advice to use it
    // as --product.
    let product_h5 = infer.join("reconstructed_product.h5");
    let product = ptychostudio::io::hdf5::product::read_product_h5(&product_h5).unwrap();
    assert_eq!(product.probe_positions_m.len(), 64);
    assert_eq!(product.object.shape(), object.shape());
    let e = refused(&product_h5, &LoadOptions::default());
    assert!(
        e.contains("ptychodus product") && e.contains("--product"),
        "{e}"
    );
    let amplitude = read("reconstructed_amplitude.tiff");
    let phase = read("reconstructed_phase.tiff");
    assert_eq!(amplitude.shape(), object.shape());
    for ((a, p), o) in amplitude.iter().zip(&phase).zip(&object) {
        assert!((a - o.norm()).abs() <= 1e-6 * o.norm().max(1.0) && (p - o.arg()).abs() < 1e-6);
    }
}

/// A scan over the memory ceiling is kept in a spill file, read as training and reconstruction
/// need it, and gives what the same scan in memory gives: the same patterns, bit for bit the
/// same training losses and the same object.
#[test]
fn a_scan_over_the_memory_ceiling_is_spilled_and_trains_the_same() {
    use ptychostudio::infer::{InferOptions, reconstruct};
    use ptychostudio::train::{TrainConfig, TrainControl, train};
    let spill = tempfile::tempdir().unwrap();
    let in_memory = load(
        &fixture("eiger_master.h5"),
        &with_positions("eiger_positions.csv"),
    )
    .unwrap()
    .dataset;
    assert!(in_memory.frames().spilled_to().is_none());
    let options = LoadOptions {
        memory_limit_bytes: Some(100_000),
        spill_dir: Some(spill.path().to_path_buf()),
        ..with_positions("eiger_positions.csv")
    };
    let loaded = load(&fixture("eiger_master.h5"), &options).unwrap();
    let spilled = loaded.dataset;
    assert_eq!(spilled.frames().spilled_to(), Some(spill.path()));
    assert!(
        loaded.notes.iter().any(|n| n.contains("memory ceiling")),
        "{:?}",
        loaded.notes
    );
    assert!(spilled.frames().same_values(in_memory.frames()).unwrap());
    assert_eq!(spilled.probe(), in_memory.probe());

    let config = TrainConfig {
        n: 64,
        n_filters_scale: 1,
        n_groups: 24,
        batch_size: 8,
        nepochs: 2,
        early_stopping_patience: 0,
        seed: 5,
        ..TrainConfig::default()
    };
    let cpu = burn::prelude::Device::flex();
    let control = TrainControl::default();
    // The network's inputs are the same bits, batch for batch.
    let groups = ptychostudio::data::Groups::build(&spilled, &config.grouping()).unwrap();
    let rows: Vec<usize> = (0..groups.len()).rev().collect();
    assert_eq!(
        groups.diffraction_rows(&spilled, &rows).unwrap(),
        groups.diffraction_rows(&in_memory, &rows).unwrap()
    );
    assert_eq!(
        groups.normalization_factor(&spilled),
        groups.normalization_factor(&in_memory)
    );
    // Training reads them from the file. The CPU backend's threads make a run's losses vary by
    // about 2e-4 (relative) from run to run on the same scan in memory (measured), so the two
    // are compared to 1e-3.
    let a = train(&in_memory, None, &config, &cpu, &control, None).unwrap();
    let b = train(&spilled, None, &config, &cpu, &control, None).unwrap();
    // The probe check reads a spilled scan's patterns into memory (all of these few) and
    // decides as for the scan in memory.
    assert!(b.bundle.manifest.probe_check.is_some());
    assert_eq!(a.bundle.manifest.probe_check, b.bundle.manifest.probe_check);
    assert_eq!(a.bundle.history.len(), b.bundle.history.len());
    for (x, y) in a.bundle.history.iter().zip(&b.bundle.history) {
        for (u, v) in [(x.train_loss, y.train_loss), (x.val_loss, y.val_loss)] {
            assert!((u - v).abs() <= 1e-3 * u.abs(), "{u} against {v}");
        }
    }
    // One model reconstructs the scan the same from memory and from the file.
    let options = InferOptions::default();
    let object = |d| {
        reconstruct(&b.bundle.network, d, &options, &cpu, |_, _, _| true)
            .unwrap()
            .object
    };
    let (from_memory, from_file) = (object(&in_memory), object(&spilled));
    let worst = from_memory
        .iter()
        .zip(&from_file)
        .map(|(p, q)| (p - q).norm())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1e-5, "objects differ by up to {worst}");
    // ePIE holds every pattern in memory: it says so instead of exceeding the ceiling.
    let err = ptychostudio::epie::Epie::new(&spilled, ptychostudio::epie::EpieConfig::default())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("memory ceiling") && err.contains("--memory-limit-mb"),
        "{err}"
    );
}

/// ptychodus's own HDF5 pattern export (`/dp`, LZF here) comes with a product that holds the
/// positions and probe: `--product` gives them to an HDF5 scan, matched to frames by the
/// product's pattern indexes (here every frame but the first four, in reverse order).
#[test]
fn a_ptychodus_pattern_file_takes_positions_and_probe_from_its_product() {
    use ptychostudio::io::product::Product;
    let dir = tempfile::tempdir().unwrap();
    let cxi = load(&fixture("scan.cxi"), &LoadOptions::default())
        .unwrap()
        .dataset;
    let counts = read_scan(&fixture("scan.cxi"), None)
        .unwrap()
        .frames
        .read_all()
        .unwrap()
        .mapv(|v| v.round() as u32);
    let dp = dir.path().join("patterns.h5");
    let file = hdf5_metno::File::create(&dp).unwrap();
    file.new_dataset_builder()
        .chunk((1, 64, 64))
        .lzf()
        .with_data(&counts)
        .create("dp")
        .unwrap();
    drop(file);
    let m = cxi.len();
    let indexes: Vec<i64> = (4..m as i64).rev().collect();
    let pixel = cxi.physical.pixel_size_m.unwrap();
    let object = ndarray::Array2::from_elem((200, 200), num_complex::Complex32::new(1.0, 0.0));
    let product = Product {
        name: "test".into(),
        comments: String::new(),
        photon_energy_ev: 8000.0,
        detector_object_distance_m: 2.0,
        object_pixel_width_m: pixel,
        object_pixel_height_m: pixel,
        object_center_x_m: 0.0,
        object_center_y_m: 0.0,
        probe: cxi.probe().clone(),
        probe_modes_in_file: 1,
        object,
        probe_position_indexes: indexes.clone(),
        probe_positions_m: indexes
            .iter()
            .map(|&i| {
                let p = cxi.positions_px()[i as usize];
                [(p[0] - 100.0) * pixel, (p[1] - 100.0) * pixel]
            })
            .collect(),
        loss_values: Vec::new(),
    };
    let product_path = dir.path().join("product.h5");
    ptychostudio::io::hdf5::product::write_product_h5(&product, &product_path).unwrap();
    let options = LoadOptions {
        product: Some(product_path),
        ..LoadOptions::default()
    };
    let loaded = load(&dp, &options).unwrap();
    let d = &loaded.dataset;
    assert_eq!(d.len(), m - 4);
    assert_eq!(d.probe(), cxi.probe());
    assert!((d.physical.pixel_size_m.unwrap() - pixel).abs() < 1e-20);
    for (k, &i) in indexes.iter().enumerate() {
        let (got, want) = (d.positions_px()[k], cxi.positions_px()[i as usize]);
        assert!(
            (got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6,
            "position {k}: {got:?} against {want:?}"
        );
    }
    // The frames follow the product's order; the CXI file's mask pixel (3, 5) aside, they are
    // the CXI scan's patterns.
    for (k, &i) in indexes.iter().enumerate() {
        let mut got = d.pattern(k).unwrap().into_owned();
        let mut want = cxi.pattern(i as usize).unwrap().into_owned();
        got[(3, 5)] = 0.0;
        want[(3, 5)] = 0.0;
        assert_eq!(got, want, "pattern {k} (frame {i})");
    }
    assert!(
        loaded.notes.iter().any(|n| n.contains("from the product")),
        "{:?}",
        loaded.notes
    );
}
