//! PNG images of real maps with a labelled colour bar: amplitude in a perceptual sequential map
//! (viridis), phase in a perceptually uniform cyclic map (CET-C3, white at 0) fixed to [−π, π].

use std::f32::consts::PI;
use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{ImageFormat, Rgb, RgbImage};
use ndarray::ArrayRef2;

use super::atomic::write_atomic;

/// What can go wrong writing a PNG.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// The file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Encoding failed.
    #[error("PNG encoding: {0}")]
    Encode(#[from] image::ImageError),
    /// Nothing to draw.
    #[error("cannot draw an empty image ({rows} × {cols})")]
    Empty {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
}

/// A colour map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorMap {
    /// Perceptually uniform sequential (amplitude): viridis.
    Viridis,
    /// Perceptually uniform cyclic (phase): CET-C3 (white–red–black–blue, from colorcet) half a
    /// turn round, so a phase of 0 is white, +π/2 red, ±π black and −π/2 blue: a small phase
    /// reads as a tint on white, as on a diverging map, and the map still closes at ±π.
    PhaseCyclic,
    /// Perceptually uniform cyclic at constant lightness (the hue of domain colouring, where
    /// brightness carries the amplitude): CET-C10, colorcet's `cyclic_isoluminant`.
    CyclicIsoluminant,
    /// The blue–white–red half of [`ColorMap::PhaseCyclic`] (its −π/2 … π/2): a diverging map
    /// for a phase scale fitted to the data, whose two ends must not meet as a cyclic map's do.
    PhaseDiverging,
}

impl ColorMap {
    /// The colour at `t` ∈ [0, 1].
    pub fn at(self, t: f32) -> [u8; 3] {
        let t = t.clamp(0.0, 1.0);
        match self {
            Self::Viridis => {
                let c = colorous::VIRIDIS.eval_continuous(f64::from(t));
                [c.r, c.g, c.b]
            }
            Self::PhaseCyclic => cyclic_at(phase_table(), (t + 0.5).fract()),
            Self::CyclicIsoluminant => cyclic_at(isoluminant(), t),
            Self::PhaseDiverging => Self::PhaseCyclic.at(0.25 + 0.5 * t),
        }
    }
}

/// The colorcet table called `name`, as RGB in [0, 1]. Falls back to a grey cycle should the
/// crate ever drop the name (a test checks both names are there).
fn colorcet_table(name: &str) -> Vec<[f32; 3]> {
    name.parse::<colorcet::ColorMap>().map_or_else(
        |_| {
            (0..256)
                .map(|i| {
                    let v = 0.5 - 0.4 * (2.0 * PI * i as f32 / 256.0).cos();
                    [v, v, v]
                })
                .collect()
        },
        |map| map.get_rgb_float::<f32>(),
    )
}

fn phase_table() -> &'static [[f32; 3]] {
    static TABLE: std::sync::OnceLock<Vec<[f32; 3]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| colorcet_table("cet_c3"))
}

fn isoluminant() -> &'static [[f32; 3]] {
    static TABLE: std::sync::OnceLock<Vec<[f32; 3]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| colorcet_table("cyclic_isoluminant"))
}

/// A cyclic table at `t` ∈ [0, 1], interpolated linearly between entries, with t = 1 the same
/// colour as t = 0.
fn cyclic_at(table: &[[f32; 3]], t: f32) -> [u8; 3] {
    let len = table.len();
    if len == 0 {
        return [0, 0, 0];
    }
    let x = t * len as f32;
    let i = (x.floor() as usize).min(len - 1);
    let f = x - i as f32;
    let (a, b) = (table[i], table[(i + 1) % len]);
    let channel = |k: usize| ((a[k] + f * (b[k] - a[k])).clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(0), channel(1), channel(2)]
}

/// One labelled tick of a colour bar: value and text.
pub type Tick = (f32, String);

const BAR_WIDTH: u32 = 18;
const GAP: u32 = 10;
const LABEL_WIDTH: u32 = 70;
const MARGIN: u32 = 8;
const FONT_PX: f32 = 14.0;

fn draw_text(img: &mut RgbImage, font: &FontRef<'_>, text: &str, x: f32, y_centre: f32) {
    draw_text_px(img, font, text, x, y_centre, FONT_PX);
}

/// Draws `text` in black at `font_px` with its left edge at `x` and its middle at `y_centre`;
/// returns the caret's x after the last glyph. Glyphs outside the image are clipped.
pub(crate) fn draw_text_px(
    img: &mut RgbImage,
    font: &FontRef<'_>,
    text: &str,
    x: f32,
    y_centre: f32,
    font_px: f32,
) -> f32 {
    let scaled = font.as_scaled(PxScale::from(font_px));
    let baseline = y_centre + (scaled.ascent() + scaled.descent()) / 2.0;
    let mut caret = x;
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        let glyph = id.with_scale_and_position(PxScale::from(font_px), point(caret, baseline));
        caret += scaled.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + i64::from(gx);
                let py = bounds.min.y as i64 + i64::from(gy);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    let old = img.get_pixel(px as u32, py as u32).0;
                    let blend = |o: u8| (f32::from(o) * (1.0 - coverage)) as u8;
                    img.put_pixel(
                        px as u32,
                        py as u32,
                        Rgb([blend(old[0]), blend(old[1]), blend(old[2])]),
                    );
                }
            });
        }
    }
    caret
}

/// Renders `values` through `map` over `range`, upscaled by an integer factor (at most 8) so
/// the short side reaches 256 px, with a colour bar and `ticks` on the right, on white.
pub fn render(
    values: &ArrayRef2<f32>,
    map: ColorMap,
    range: (f32, f32),
    ticks: &[Tick],
) -> Result<RgbImage, PngError> {
    let (rows, cols) = values.dim();
    if rows == 0 || cols == 0 {
        return Err(PngError::Empty { rows, cols });
    }
    let zoom = 256usize.div_ceil(rows.min(cols)).clamp(1, 8) as u32;
    let (w, h) = (cols as u32 * zoom, rows as u32 * zoom);
    let width = MARGIN + w + GAP + BAR_WIDTH + 6 + LABEL_WIDTH;
    let height = h + 2 * MARGIN;
    let mut img = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    let span = (range.1 - range.0).max(f32::MIN_POSITIVE);
    let to_t = |v: f32| {
        if v.is_finite() {
            (v - range.0) / span
        } else {
            0.0
        }
    };
    for y in 0..h {
        for x in 0..w {
            let v = values[[(y / zoom) as usize, (x / zoom) as usize]];
            // A masked (non-finite) pixel is drawn in a neutral grey, not as a value.
            let colour = if v.is_finite() {
                map.at(to_t(v))
            } else {
                MASKED_GREY
            };
            img.put_pixel(MARGIN + x, MARGIN + y, Rgb(colour));
        }
    }
    let bar_x = MARGIN + w + GAP;
    for y in 0..h {
        let t = 1.0 - y as f32 / (h - 1).max(1) as f32;
        for x in 0..BAR_WIDTH {
            img.put_pixel(bar_x + x, MARGIN + y, Rgb(map.at(t)));
        }
    }
    if let Ok(font) = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT) {
        for (value, text) in ticks {
            let t = to_t(*value).clamp(0.0, 1.0);
            let y = MARGIN as f32 + (1.0 - t) * (h - 1) as f32;
            for x in 0..4 {
                img.put_pixel(bar_x + BAR_WIDTH + x, y as u32, Rgb([0, 0, 0]));
            }
            draw_text(&mut img, &font, text, (bar_x + BAR_WIDTH + 6) as f32, y);
        }
    }
    Ok(img)
}

/// Encodes `img` as PNG and writes it atomically (temporary sibling, then rename).
pub(crate) fn save(img: &RgbImage, path: &Path) -> Result<(), PngError> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Png)?;
    write_atomic(path, bytes.get_ref()).map_err(|source| PngError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The finite (min, max) of `values`, or (0, 1) when none is finite.
pub fn finite_range(values: &ArrayRef2<f32>) -> (f32, f32) {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() {
        (lo, if hi > lo { hi } else { lo + 1.0 })
    } else {
        (0.0, 1.0)
    }
}

/// An amplitude map: viridis over its own min–max, 5 ticks.
pub fn render_amplitude(amplitude: &ArrayRef2<f32>) -> Result<RgbImage, PngError> {
    let (lo, hi) = finite_range(amplitude);
    let ticks: Vec<Tick> = (0..5)
        .map(|i| {
            let v = lo + (hi - lo) * i as f32 / 4.0;
            (v, format!("{v:.3}"))
        })
        .collect();
    render(amplitude, ColorMap::Viridis, (lo, hi), &ticks)
}

/// A phase map: [`ColorMap::PhaseCyclic`] fixed to [−π, π], ticks at −π, −π/2, 0, π/2, π.
pub fn render_phase(phase: &ArrayRef2<f32>) -> Result<RgbImage, PngError> {
    let ticks: Vec<Tick> = [
        (-PI, "−π"),
        (-PI / 2.0, "−π/2"),
        (0.0, "0"),
        (PI / 2.0, "π/2"),
        (PI, "π"),
    ]
    .into_iter()
    .map(|(v, t)| (v, format!("{t} rad")))
    .collect();
    render(phase, ColorMap::PhaseCyclic, (-PI, PI), &ticks)
}

/// The colour of a masked (non-finite) pixel.
const MASKED_GREY: [u8; 3] = [190, 190, 190];

/// A symmetric phase scale that fits the data: ± the 99th percentile of |phase| over the finite
/// pixels (a few wild pixels do not set it), at least ±0.05 rad and at most ±π. A weak phase
/// object (the Siemens star's ±0.5 rad) then fills the colour range instead of a sixth of it.
pub fn fitted_phase_range(phase: &ArrayRef2<f32>) -> (f32, f32) {
    let mut magnitudes: Vec<f32> = phase
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .collect();
    if magnitudes.is_empty() {
        return (-PI, PI);
    }
    let k = ((magnitudes.len() - 1) as f64 * 0.99).round() as usize;
    let (_, &mut top, _) = magnitudes.select_nth_unstable_by(k, f32::total_cmp);
    let top = top.clamp(0.05, PI);
    (-top, top)
}

/// A phase map on a scale fitted to it ([`fitted_phase_range`]) in
/// [`ColorMap::PhaseDiverging`], 5 ticks.
pub fn render_phase_fitted(phase: &ArrayRef2<f32>) -> Result<RgbImage, PngError> {
    let (lo, hi) = fitted_phase_range(phase);
    let ticks: Vec<Tick> = (0..5)
        .map(|i| {
            let v = lo + (hi - lo) * i as f32 / 4.0;
            (v, format!("{v:+.2} rad"))
        })
        .collect();
    render(phase, ColorMap::PhaseDiverging, (lo, hi), &ticks)
}

/// Writes an amplitude map ([`render_amplitude`]).
pub fn write_amplitude_png(path: &Path, amplitude: &ArrayRef2<f32>) -> Result<(), PngError> {
    save(&render_amplitude(amplitude)?, path)
}

/// Writes a phase map ([`render_phase`]).
pub fn write_phase_png(path: &Path, phase: &ArrayRef2<f32>) -> Result<(), PngError> {
    save(&render_phase(phase)?, path)
}

/// Writes the amplitude and phase PNGs of one object; the phase on the range fitted to it
/// ([`render_phase_fitted`]: a weak object's ±0.5 rad would show faintly on ±π).
pub fn write_amplitude_phase(
    amplitude_path: &Path,
    phase_path: &Path,
    amplitude: &ArrayRef2<f32>,
    phase: &ArrayRef2<f32>,
) -> Result<(), PngError> {
    write_amplitude_png(amplitude_path, amplitude)?;
    save(&render_phase_fitted(phase)?, phase_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn renders_data_bar_and_labels() {
        let values = Array2::from_shape_fn((32, 64), |(_, c)| c as f32);
        let img = render(
            &values,
            ColorMap::Viridis,
            (0.0, 63.0),
            &[(0.0, "0".into()), (63.0, "63".into())],
        )
        .unwrap();
        // zoom 8: 32 rows → 256 px
        assert_eq!(img.height(), 256 + 2 * MARGIN);
        let left = img.get_pixel(MARGIN, MARGIN + 5).0;
        let right = img.get_pixel(MARGIN + 64 * 8 - 1, MARGIN + 5).0;
        assert_eq!(left, ColorMap::Viridis.at(0.0));
        assert_eq!(right, ColorMap::Viridis.at(1.0));
        // some dark label pixels exist right of the bar
        let label_x0 = MARGIN + 64 * 8 + GAP + BAR_WIDTH + 6;
        let dark = (label_x0..img.width())
            .flat_map(|x| (0..img.height()).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] < 100)
            .count();
        assert!(dark > 10, "tick labels drawn");
        assert!(matches!(
            render(
                &Array2::<f32>::zeros((0, 3)),
                ColorMap::Viridis,
                (0.0, 1.0),
                &[]
            ),
            Err(PngError::Empty { .. })
        ));
    }

    #[test]
    fn the_phase_maps_are_cyclic_and_come_from_colorcet() {
        for map in [ColorMap::PhaseCyclic, ColorMap::CyclicIsoluminant] {
            assert_eq!(map.at(0.0), map.at(1.0), "{map:?} closes its cycle");
        }
        assert!("cet_c3".parse::<colorcet::ColorMap>().is_ok());
        assert!("cyclic_isoluminant".parse::<colorcet::ColorMap>().is_ok());
        // t = (φ + π) / 2π: white at φ = 0, black at ±π, red at +π/2, blue at −π/2.
        let sum = |c: [u8; 3]| c.iter().map(|&v| u32::from(v)).sum::<u32>();
        let (zero, pi) = (ColorMap::PhaseCyclic.at(0.5), ColorMap::PhaseCyclic.at(0.0));
        assert!(sum(zero) > 600 && sum(pi) < 150, "{zero:?} {pi:?}");
        let [r, _, b] = ColorMap::PhaseCyclic.at(0.75);
        assert!(r > 2 * u8::max(b, 1), "red above zero");
        let [r, _, b] = ColorMap::PhaseCyclic.at(0.25);
        assert!(b > 2 * u8::max(r, 1), "blue below zero");
    }

    /// The isoluminant map keeps its lightness: the Rec. 709 luma varies little around the cycle.
    #[test]
    fn the_isoluminant_map_keeps_its_lightness() {
        let luma = |[r, g, b]: [u8; 3]| {
            0.2126 * f32::from(r) + 0.7152 * f32::from(g) + 0.0722 * f32::from(b)
        };
        let values: Vec<f32> = (0..64)
            .map(|i| luma(ColorMap::CyclicIsoluminant.at(i as f32 / 64.0)))
            .collect();
        let (lo, hi) = values
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        assert!(hi - lo < 40.0, "luma {lo}..{hi}");
        let phase: Vec<f32> = (0..64)
            .map(|i| luma(ColorMap::PhaseCyclic.at(i as f32 / 64.0)))
            .collect();
        let spread = phase.iter().fold(0.0f32, |m, &v| m.max(v))
            - phase.iter().fold(f32::MAX, |m, &v| m.min(v));
        assert!(
            spread > 100.0,
            "the phase map's lightness carries the phase: {spread}"
        );
    }
}
