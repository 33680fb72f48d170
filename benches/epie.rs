//! One ePIE sweep on the real Siemens star set (516 patterns of 128²), with the FFT passes
//! split over the rayon pool and on one thread, so the ratio is measured in one process.
//!
//! `cargo bench --bench epie`

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ptychostudio::data::{LoadOptions, load};
use ptychostudio::epie::{Epie, EpieConfig};

fn sweep(c: &mut Criterion) {
    let path = Path::new("../shared/data/siemens_star_tike.npz");
    let Ok(loaded) = load(path, &LoadOptions::default()) else {
        eprintln!("skipping: {} not found", path.display());
        return;
    };
    let ds = loaded.dataset;
    let mut group = c.benchmark_group("epie_sweep_siemens_star");
    group.sample_size(20);
    for (name, parallel_fft) in [("fft_two_halves", true), ("one_thread", false)] {
        let mut epie = Epie::new(
            &ds,
            EpieConfig {
                parallel_fft,
                ..EpieConfig::default()
            },
        )
        .expect("the simulated scan is in memory");
        group.bench_function(name, |b| b.iter(|| epie.sweep()));
    }
    group.finish();
}

criterion_group!(benches, sweep);
criterion_main!(benches);
