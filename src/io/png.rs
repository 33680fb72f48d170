//! PNG images of real maps with a labelled colour bar: amplitude in a perceptual sequential map
//! (viridis), phase in a cyclic map (sinebow) fixed to [−π, π].

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
    /// Perceptual sequential (amplitude).
    Viridis,
    /// Cyclic (phase).
    Sinebow,
}

impl ColorMap {
    /// The colour at `t` ∈ [0, 1].
    pub fn at(self, t: f32) -> [u8; 3] {
        let t = f64::from(t.clamp(0.0, 1.0));
        let c = match self {
            Self::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Self::Sinebow => colorous::SINEBOW.eval_continuous(t),
        };
        [c.r, c.g, c.b]
    }
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
            img.put_pixel(MARGIN + x, MARGIN + y, Rgb(map.at(to_t(v))));
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

/// A phase map: sinebow fixed to [−π, π], ticks at −π, −π/2, 0, π/2, π.
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
    render(phase, ColorMap::Sinebow, (-PI, PI), &ticks)
}

/// Writes an amplitude map ([`render_amplitude`]).
pub fn write_amplitude_png(path: &Path, amplitude: &ArrayRef2<f32>) -> Result<(), PngError> {
    save(&render_amplitude(amplitude)?, path)
}

/// Writes a phase map ([`render_phase`]).
pub fn write_phase_png(path: &Path, phase: &ArrayRef2<f32>) -> Result<(), PngError> {
    save(&render_phase(phase)?, path)
}

/// Writes the amplitude and phase PNGs of one object.
pub fn write_amplitude_phase(
    amplitude_path: &Path,
    phase_path: &Path,
    amplitude: &ArrayRef2<f32>,
    phase: &ArrayRef2<f32>,
) -> Result<(), PngError> {
    write_amplitude_png(amplitude_path, amplitude)?;
    write_phase_png(phase_path, phase)
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
    fn sinebow_is_cyclic() {
        assert_eq!(ColorMap::Sinebow.at(0.0), ColorMap::Sinebow.at(1.0));
    }
}
