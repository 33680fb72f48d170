//! ptychodus files: a diffraction file (counts) with its product file loads as the scan they
//! describe; older product files spell the energy `probe_energy_eV`.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use ndarray::{Array1, Array3};
use ptychostudio::data::simulate::{
    ScanPattern, SimulationConfig, default_probe, lines_object, scan_positions, simulate_scan,
};
use ptychostudio::data::{LoadOptions, load};
use ptychostudio::io::NpzWriter;
use ptychostudio::io::product::Product;
use ptychostudio::io::schema::Layout;

#[test]
fn a_ptychodus_diffraction_file_with_its_product_loads_as_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimulationConfig {
        object_size: 128,
        n_lines: 30,
        ..Default::default()
    };
    let object = lines_object(&config);
    let probe = default_probe(64);
    let positions = scan_positions(ScanPattern::Random { count: 20 }, 64, 128, 4);
    let sim = simulate_scan(&object, &probe, positions, 1e5, 4).unwrap();
    let ds = sim.dataset;
    let s = sim.intensity_scale as f32;

    // Detector counts as uint16, stored in reverse order with explicit indexes.
    let counts: Array3<u16> = ds
        .diffraction()
        .unwrap()
        .mapv(|a| (a * s).powi(2).round() as u16);
    let reversed: Vec<usize> = (0..ds.len()).rev().collect();
    let diffraction_path = dir.path().join("scan_diffraction.npz");
    let mut w = NpzWriter::create(&diffraction_path).unwrap();
    w.add("patterns", &counts.select(ndarray::Axis(0), &reversed))
        .unwrap();
    w.add(
        "indexes",
        &Array1::from(reversed.iter().map(|&i| i as i64).collect::<Vec<_>>()),
    )
    .unwrap();
    w.finish().unwrap();

    let pixel = 2e-8;
    let (h, wd) = object.dim();
    let product = Product {
        name: "sim".into(),
        comments: String::new(),
        photon_energy_ev: 9000.0,
        detector_object_distance_m: 2.0,
        object_pixel_width_m: pixel,
        object_pixel_height_m: pixel,
        object_center_x_m: 1e-6,
        object_center_y_m: -1e-6,
        probe: probe.clone(),
        probe_modes_in_file: 1,
        object: object.clone(),
        probe_position_indexes: (0..ds.len() as i64).collect(),
        probe_positions_m: ds
            .positions_px()
            .iter()
            .map(|p| {
                [
                    (p[0] - wd as f64 / 2.0) * pixel + 1e-6,
                    (p[1] - h as f64 / 2.0) * pixel - 1e-6,
                ]
            })
            .collect(),
        loss_values: Vec::new(),
    };
    let product_path = dir.path().join("scan_product.npz");
    product.write(&product_path).unwrap();

    let without = load(&diffraction_path, &LoadOptions::default()).unwrap_err();
    assert!(without.to_string().contains("--product"), "{without}");

    let loaded = load(
        &diffraction_path,
        &LoadOptions {
            product: Some(product_path.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.layout, Layout::PtychodusDiffraction);
    let back = loaded.dataset;
    assert_eq!(back.len(), ds.len());
    assert_eq!(back.physical.pixel_size_m, Some(pixel));
    for i in 0..ds.len() {
        let (a, b) = (back.positions_px()[i], ds.positions_px()[i]);
        assert!(
            (a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6,
            "position {i}: {a:?} vs {b:?}"
        );
        // √counts, matched to the right pattern through the indexes.
        let expected = counts
            .index_axis(ndarray::Axis(0), i)
            .mapv(|c| f32::from(c).sqrt());
        assert_eq!(back.pattern(i).unwrap(), expected, "pattern {i}");
    }
    assert!(loaded.notes.iter().any(|n| n.contains("square root")));

    // The product itself is refused as a scan, with directions.
    let err = load(&product_path, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("product") && err.contains("--product"),
        "{err}"
    );
}

#[test]
fn older_product_files_spell_the_energy_probe_energy_ev() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.npz");
    let mut w = NpzWriter::create(&path).unwrap();
    w.add_scalar("probe_energy_eV", 7000.0f64).unwrap();
    for key in [
        "detector_object_distance_m",
        "object_pixel_width_m",
        "object_pixel_height_m",
        "object_center_x_m",
        "object_center_y_m",
    ] {
        w.add_scalar(key, 1e-8f64).unwrap();
    }
    w.add(
        "probe",
        &ndarray::Array3::from_elem((2, 8, 8), num_complex::Complex64::new(1.0, 0.0)),
    )
    .unwrap();
    w.add(
        "object",
        &ndarray::Array2::from_elem((16, 16), num_complex::Complex64::new(0.5, 0.5)),
    )
    .unwrap();
    w.add("probe_position_indexes", &ndarray::arr1(&[0i64, 1]))
        .unwrap();
    w.add("probe_position_x_m", &ndarray::arr1(&[0.0f64, 1e-8]))
        .unwrap();
    w.add("probe_position_y_m", &ndarray::arr1(&[0.0f64, 1e-8]))
        .unwrap();
    w.add("costs", &ndarray::arr1(&[2.0f64, 1.0])).unwrap();
    w.finish().unwrap();
    let p = Product::read(&path).unwrap();
    assert_eq!(p.photon_energy_ev, 7000.0);
    assert_eq!(p.probe_modes_in_file, 2);
    assert_eq!(p.probe.dim(), (8, 8));
    assert_eq!(p.loss_values, vec![2.0, 1.0]);
}
