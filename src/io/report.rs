//! The one-page PNG report a user exports from the window: the object's amplitude and phase, the
//! probe, the loss curves on a log scale, the metrics, the dataset and training settings, the
//! date and the program's version. Plain arrays and strings in, a PNG out; knows nothing of egui.

use std::path::Path;
use std::time::SystemTime;

use ab_glyph::FontRef;
use image::{Rgb, RgbImage, imageops};
use ndarray::Array2;

use super::png::{
    PngError, draw_text_px, render_amplitude, render_phase, render_phase_fitted, save,
};

/// How a map is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportMap {
    /// Viridis over the map's own range.
    Amplitude,
    /// CET-C3 with white at 0, fixed to [−π, π].
    Phase,
    /// Its blue–white–red half over ± the map's own 99th percentile of |phase|.
    PhaseFitted,
}

/// One picture of the report.
#[derive(Debug, Clone)]
pub struct ReportImage {
    /// The caption above it.
    pub title: String,
    /// `[rows, cols]` the values.
    pub values: Array2<f32>,
    /// Its colouring.
    pub map: ReportMap,
}

/// One loss curve: `(epoch, loss)` points.
#[derive(Debug, Clone)]
pub struct LossCurve {
    /// Legend text.
    pub label: String,
    /// Points; non-finite or non-positive losses are skipped (log scale).
    pub points: Vec<(f64, f64)>,
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The first line.
    pub title: String,
    /// The line under it (date, version, file).
    pub subtitle: String,
    /// The pictures, left to right, wrapping.
    pub images: Vec<ReportImage>,
    /// Loss curves (drawn when any has a point).
    pub curves: Vec<LossCurve>,
    /// Text blocks: heading and lines ("Dataset", "Training", "Metrics").
    pub sections: Vec<(String, Vec<String>)>,
}

const PAGE_WIDTH: u32 = 1500;
const PAD: u32 = 20;
const TITLE_PX: f32 = 26.0;
const TEXT_PX: f32 = 15.0;
const LINE_PX: u32 = 20;
const PLOT_W: u32 = 640;
const PLOT_H: u32 = 300;
const CURVE_COLOURS: [[u8; 3]; 4] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40]];

fn tile(image: &ReportImage) -> Result<RgbImage, PngError> {
    match image.map {
        ReportMap::Amplitude => render_amplitude(&image.values),
        ReportMap::Phase => render_phase(&image.values),
        ReportMap::PhaseFitted => render_phase_fitted(&image.values),
    }
}

/// Scales `img` down (never up) so that it is at most `max_side` px tall.
fn fit(img: RgbImage, max_side: u32) -> RgbImage {
    if img.height() <= max_side {
        return img;
    }
    let w = (u64::from(img.width()) * u64::from(max_side) / u64::from(img.height())) as u32;
    imageops::resize(&img, w.max(1), max_side, imageops::FilterType::Triangle)
}

/// Draws a line of `colour` from `a` to `b`, 2 px wide, clipped to the image.
fn line(img: &mut RgbImage, a: (f32, f32), b: (f32, f32), colour: [u8; 3]) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=steps {
        let t = i as f32 / steps as f32;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (px, py) = (x as i64 + dx, y as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, Rgb(colour));
            }
        }
    }
}

/// The loss plot: log10 y with a tick per decade, epochs on x, a legend.
fn plot(curves: &[LossCurve], font: Option<&FontRef<'_>>) -> Option<RgbImage> {
    let points: Vec<(f64, f64)> = curves
        .iter()
        .flat_map(|c| c.points.iter().copied())
        .filter(|&(_, y)| y.is_finite() && y > 0.0)
        .collect();
    if points.is_empty() {
        return None;
    }
    let (x0, x1) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let (y0, y1) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1.log10()), hi.max(p.1.log10()))
        });
    let (y0, y1) = (y0.floor(), y1.ceil().max(y0.floor() + 1.0));
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let mut img = RgbImage::from_pixel(PLOT_W, PLOT_H, Rgb([255, 255, 255]));
    let (left, right, top, bottom) = (70.0, PLOT_W as f32 - 10.0, 10.0, PLOT_H as f32 - 40.0);
    let to_px = |x: f64, ly: f64| {
        (
            left + ((x - x0) / (x1 - x0)) as f32 * (right - left),
            bottom - ((ly - y0) / (y1 - y0)) as f32 * (bottom - top),
        )
    };
    let grey = [200, 200, 200];
    let mut decade = y0;
    while decade <= y1 + 1e-9 {
        let (_, y) = to_px(x0, decade);
        line(&mut img, (left, y), (right, y), grey);
        if let Some(font) = font {
            draw_text_px(&mut img, font, &format!("1e{decade:.0}"), 8.0, y, TEXT_PX);
        }
        decade += 1.0;
    }
    line(&mut img, (left, bottom), (right, bottom), [0, 0, 0]);
    line(&mut img, (left, top), (left, bottom), [0, 0, 0]);
    if let Some(font) = font {
        let label = format!("epoch {x0:.0} … {x1:.0}   (loss: Poisson NLL per pixel, log scale)");
        draw_text_px(&mut img, font, &label, left, bottom + 22.0, TEXT_PX);
    }
    for (i, curve) in curves.iter().enumerate() {
        let colour = CURVE_COLOURS[i % CURVE_COLOURS.len()];
        let valid: Vec<(f32, f32)> = curve
            .points
            .iter()
            .filter(|&&(_, y)| y.is_finite() && y > 0.0)
            .map(|&(x, y)| to_px(x, y.log10()))
            .collect();
        for pair in valid.windows(2) {
            line(&mut img, pair[0], pair[1], colour);
        }
        if let [only] = valid.as_slice() {
            line(
                &mut img,
                (only.0 - 3.0, only.1),
                (only.0 + 3.0, only.1),
                colour,
            );
        }
        let legend_y = top + 12.0 + 20.0 * i as f32;
        line(
            &mut img,
            (right - 200.0, legend_y),
            (right - 175.0, legend_y),
            colour,
        );
        if let Some(font) = font {
            draw_text_px(
                &mut img,
                font,
                &curve.label,
                right - 168.0,
                legend_y,
                TEXT_PX,
            );
        }
    }
    Some(img)
}

/// Composes the page.
pub fn render_report(report: &Report) -> Result<RgbImage, PngError> {
    let font = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).ok();
    let tiles = report
        .images
        .iter()
        .map(|i| Ok((i.title.clone(), fit(tile(i)?, 420))))
        .collect::<Result<Vec<_>, PngError>>()?;
    // Lay the tiles out in rows.
    let mut placed = Vec::new();
    let (mut x, mut y, mut row_h) = (PAD, PAD + 70, 0u32);
    for (title, img) in tiles {
        if x + img.width() > PAGE_WIDTH - PAD && x > PAD {
            x = PAD;
            y += row_h + LINE_PX + PAD;
            row_h = 0;
        }
        placed.push((x, y, title, img.clone()));
        row_h = row_h.max(img.height());
        x += img.width() + PAD;
    }
    let mut below = y + row_h + LINE_PX + PAD;
    let chart = plot(&report.curves, font.as_ref());
    let text_lines: u32 = report
        .sections
        .iter()
        .map(|(_, lines)| lines.len() as u32 + 2)
        .sum();
    let chart_h = chart.as_ref().map_or(0, |c| c.height() + PAD);
    let text_h = text_lines.div_ceil(2) * LINE_PX + PAD;
    let height = below + chart_h.max(text_h).max(text_lines * LINE_PX / 2) + text_h + PAD;
    let mut page = RgbImage::from_pixel(PAGE_WIDTH, height, Rgb([255, 255, 255]));
    if let Some(font) = &font {
        draw_text_px(&mut page, font, &report.title, PAD as f32, 28.0, TITLE_PX);
        draw_text_px(&mut page, font, &report.subtitle, PAD as f32, 60.0, TEXT_PX);
    }
    for (x, y, title, img) in &placed {
        if let Some(font) = &font {
            draw_text_px(&mut page, font, title, *x as f32, (*y - 10) as f32, TEXT_PX);
        }
        imageops::overlay(&mut page, img, i64::from(*x), i64::from(*y + 2));
    }
    let mut text_x = PAD;
    if let Some(chart) = &chart {
        imageops::overlay(&mut page, chart, i64::from(PAD), i64::from(below));
        text_x = PAD + chart.width() + 2 * PAD;
    }
    if let Some(font) = &font {
        let mut ty = below + 10;
        for (heading, lines) in &report.sections {
            if ty + LINE_PX > height {
                break;
            }
            draw_text_px(
                &mut page,
                font,
                heading,
                text_x as f32,
                ty as f32,
                TEXT_PX + 3.0,
            );
            ty += LINE_PX + 4;
            for line_text in lines {
                draw_text_px(
                    &mut page,
                    font,
                    line_text,
                    (text_x + 12) as f32,
                    ty as f32,
                    TEXT_PX,
                );
                ty += LINE_PX;
            }
            ty += LINE_PX / 2;
        }
        below = below.max(ty);
    }
    let _ = below;
    Ok(page)
}

/// Renders the report and writes it atomically to `path`.
pub fn write_report(path: &Path, report: &Report) -> Result<(), PngError> {
    save(&render_report(report)?, path)
}

/// `YYYY-MM-DD HH:MM UTC` for `time` (the civil calendar from days since 1970).
pub fn utc_timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::png::ColorMap;
    use std::time::Duration;

    #[test]
    fn timestamps_are_civil_dates() {
        assert_eq!(
            utc_timestamp(SystemTime::UNIX_EPOCH),
            "1970-01-01 00:00 UTC"
        );
        // 2026-11-25 13:35 UTC = 1 795 613 700 s.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_613_700);
        assert_eq!(utc_timestamp(t), "2026-11-25 13:35 UTC");
        // A leap day.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(t), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn report_holds_images_curves_and_text() {
        let ramp = Array2::from_shape_fn((40, 60), |(_, c)| c as f32 / 59.0);
        let report = Report {
            title: "PtychoStudio report".into(),
            subtitle: "test".into(),
            images: vec![
                ReportImage {
                    title: "amplitude".into(),
                    values: ramp.clone(),
                    map: ReportMap::Amplitude,
                },
                ReportImage {
                    title: "phase".into(),
                    values: ramp.mapv(|v| v * 6.0 - 3.0),
                    map: ReportMap::Phase,
                },
            ],
            curves: vec![LossCurve {
                label: "training".into(),
                points: vec![(1.0, 1000.0), (2.0, 100.0), (3.0, 10.0)],
            }],
            sections: vec![("Metrics".into(), vec!["phase SSIM 0.9".into()])],
        };
        let page = render_report(&report).unwrap();
        assert_eq!(page.width(), PAGE_WIDTH);
        // The first tile's first pixel is viridis(0) (the ramp's minimum).
        let first = page.get_pixel(PAD + 8, PAD + 70 + 2 + 8).0;
        assert_eq!(first, ColorMap::Viridis.at(0.0));
        // The curve's colour appears somewhere (the plot was drawn).
        let blue = page.pixels().filter(|p| p.0 == CURVE_COLOURS[0]).count();
        assert!(blue > 50, "curve pixels: {blue}");
        // Without curves there is no plot, and nothing fails.
        let bare = Report {
            curves: vec![],
            ..report
        };
        let page = render_report(&bare).unwrap();
        assert_eq!(page.pixels().filter(|p| p.0 == CURVE_COLOURS[0]).count(), 0);
    }
}
