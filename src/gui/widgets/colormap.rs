//! Arrays to egui images: amplitude in viridis (perceptual), phase in CET-C3 (perceptually
//! uniform and cyclic, white at 0, fixed to [−π, π]), complex values in domain colouring (hue =
//! phase in CET's cyclic isoluminant map, brightness = amplitude). The same
//! maps as the exported PNGs ([`crate::io::png::ColorMap`]).

use std::f32::consts::PI;
use std::sync::OnceLock;

use eframe::egui::{Color32, ColorImage};
use ndarray::ArrayRef2;
use num_complex::Complex32;

use crate::io::png::ColorMap;

/// Entries of a colour look-up table (evaluating the map per pixel is ~20× slower).
const LUT_SIZE: usize = 1024;

/// The map sampled at `LUT_SIZE` points over [0, 1].
fn lut(map: ColorMap) -> &'static [Color32] {
    static VIRIDIS: OnceLock<Vec<Color32>> = OnceLock::new();
    static PHASE: OnceLock<Vec<Color32>> = OnceLock::new();
    static ISOLUMINANT: OnceLock<Vec<Color32>> = OnceLock::new();
    static DIVERGING: OnceLock<Vec<Color32>> = OnceLock::new();
    let cell = match map {
        ColorMap::Viridis => &VIRIDIS,
        ColorMap::PhaseCyclic => &PHASE,
        ColorMap::CyclicIsoluminant => &ISOLUMINANT,
        ColorMap::PhaseDiverging => &DIVERGING,
    };
    cell.get_or_init(|| {
        (0..LUT_SIZE)
            .map(|i| {
                let [r, g, b] = map.at(i as f32 / (LUT_SIZE - 1) as f32);
                Color32::from_rgb(r, g, b)
            })
            .collect()
    })
}

/// The table entry for `t` ∈ [0, 1] (clamped).
fn lookup(table: &[Color32], t: f32) -> Color32 {
    let i = (t.clamp(0.0, 1.0) * (LUT_SIZE - 1) as f32).round() as usize;
    table[i.min(LUT_SIZE - 1)]
}

/// Colours `values` through `map` over `range` (non-finite values are black).
pub fn real_image(values: &ArrayRef2<f32>, map: ColorMap, range: (f32, f32)) -> ColorImage {
    let (rows, cols) = values.dim();
    let span = (range.1 - range.0).max(f32::MIN_POSITIVE);
    let table = lut(map);
    let pixels = values
        .iter()
        .map(|&v| {
            if v.is_finite() {
                lookup(table, (v - range.0) / span)
            } else {
                // Not a value (not lit, masked): grey, as in the PNGs.
                Color32::from_gray(190)
            }
        })
        .collect();
    ColorImage::new([cols, rows], pixels)
}

/// Domain colouring: hue from the phase (the cyclic map), brightness |z| / max|z|.
pub fn complex_image(values: &ArrayRef2<Complex32>) -> ColorImage {
    let (rows, cols) = values.dim();
    let peak = values.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
    let scale = if peak > 0.0 { 1.0 / peak } else { 0.0 };
    let table = lut(ColorMap::CyclicIsoluminant);
    let pixels = values
        .iter()
        .map(|c| {
            let hue = lookup(table, (c.arg() + PI) / (2.0 * PI));
            let (r, g, b) = (hue.r(), hue.g(), hue.b());
            let v = (c.norm() * scale).clamp(0.0, 1.0);
            let dim = |x: u8| (f32::from(x) * v) as u8;
            Color32::from_rgb(dim(r), dim(g), dim(b))
        })
        .collect();
    ColorImage::new([cols, rows], pixels)
}

/// log10(1 + v) of a pattern (the dynamic range of a diffraction pattern spans decades).
pub fn log1p10(values: &ArrayRef2<f32>) -> ndarray::Array2<f32> {
    values.mapv(|v| (1.0 + v.max(0.0)).log10())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};

    #[test]
    fn real_maps_follow_the_range_and_complex_dims_with_amplitude() {
        let img = real_image(
            &array![[0.0f32, 1.0, f32::NAN]],
            ColorMap::Viridis,
            (0.0, 1.0),
        );
        assert_eq!(img.size, [3, 1]);
        let [r, g, b] = ColorMap::Viridis.at(1.0);
        assert_eq!(img.pixels[1], Color32::from_rgb(r, g, b));
        // Not a value (unlit, masked) is grey, as in the PNGs, not a colour of the map.
        assert_eq!(img.pixels[2], Color32::from_gray(190));
        let z = Array2::from_shape_vec(
            (1, 2),
            vec![
                Complex32::from_polar(1.0, 0.3),
                Complex32::from_polar(0.5, 0.3),
            ],
        )
        .unwrap();
        let c = complex_image(&z);
        // Same hue, half the brightness.
        let (a, b) = (c.pixels[0], c.pixels[1]);
        assert!((i32::from(a.r()) / 2 - i32::from(b.r())).abs() <= 1);
        assert!((i32::from(a.g()) / 2 - i32::from(b.g())).abs() <= 1);
    }
}
