//! A colour-mapped image with zoom and pan (`egui::Scene`: scroll with Ctrl or pinch to zoom,
//! drag to pan, double-click to reset), the pixel under the pointer, a colour bar and, when the
//! pixel size is known, a scale bar. The texture is uploaded only when its data change.

use eframe::egui::{
    self, Align2, Color32, ColorImage, FontId, Pos2, Rect, Sense, Stroke, TextureHandle,
    TextureOptions, Vec2, pos2, vec2,
};

use crate::io::png::ColorMap;

/// How a colour bar is labelled.
#[derive(Debug, Clone, PartialEq)]
pub enum BarKind {
    /// Linear values over the range.
    Linear(ColorMap),
    /// The values are log10(1 + v): labels show 10^v − 1.
    Log(ColorMap),
    /// Phase in radians, fixed to [−π, π].
    Phase,
    /// Domain colouring: hue = phase, brightness = amplitude.
    Complex,
}

/// A colour bar beside an image.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorBar {
    /// Map and labelling.
    pub kind: BarKind,
    /// Value range of the map.
    pub range: (f32, f32),
    /// Title above it ("amplitude", "counts").
    pub title: String,
}

/// An image on screen.
pub struct ImageView {
    name: String,
    texture: Option<TextureHandle>,
    key: Option<(u64, u64)>,
    /// Columns, rows.
    size_px: [usize; 2],
    scene_rect: Rect,
}

impl std::fmt::Debug for ImageView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageView")
            .field("name", &self.name)
            .field("size_px", &self.size_px)
            .field("uploaded", &self.key)
            .finish()
    }
}

const BAR_WIDTH: f32 = 14.0;
const BAR_SPACE: f32 = 74.0;

impl ImageView {
    /// An empty view; `name` is the texture's debug name and the id salt.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            texture: None,
            key: None,
            size_px: [0, 0],
            scene_rect: Rect::ZERO,
        }
    }

    /// Uploads `make()` when `key` (data version, view options) differs from the last upload.
    pub fn update(
        &mut self,
        ctx: &egui::Context,
        key: (u64, u64),
        make: impl FnOnce() -> ColorImage,
    ) {
        if self.key == Some(key) && self.texture.is_some() {
            return;
        }
        let image = make();
        let size = image.size;
        match &mut self.texture {
            Some(texture) => texture.set(image, TextureOptions::NEAREST),
            None => {
                self.texture = Some(ctx.load_texture(&self.name, image, TextureOptions::NEAREST));
            }
        }
        if size != self.size_px {
            self.size_px = size;
            self.scene_rect = Rect::ZERO; // reset the view to the whole image
        }
        self.key = Some(key);
    }

    /// Forgets the image.
    pub fn clear(&mut self) {
        self.texture = None;
        self.key = None;
    }

    /// Draws the image in `size` (colour bar included) and returns the pixel `[col, row]` under
    /// the pointer, if any. `pixel_size_m` adds a scale bar.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        size: Vec2,
        bar: Option<&ColorBar>,
        pixel_size_m: Option<f64>,
    ) -> Option<[f64; 2]> {
        let Some(texture) = &self.texture else {
            let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
            ui.painter().rect_stroke(
                rect,
                4.0,
                Stroke::new(1.0, ui.visuals().weak_text_color()),
                egui::StrokeKind::Inside,
            );
            ui.painter().text(
                rect.center(),
                Align2::CENTER_CENTER,
                "nothing yet",
                FontId::proportional(14.0),
                ui.visuals().weak_text_color(),
            );
            return None;
        };
        let image_size = vec2(self.size_px[0] as f32, self.size_px[1] as f32);
        let full = Rect::from_min_size(Pos2::ZERO, image_size);
        if self.scene_rect == Rect::ZERO {
            self.scene_rect = full;
        }
        let texture_id = texture.id();
        let view_size = vec2((size.x - BAR_SPACE).max(32.0), size.y);
        let mut hovered = None;
        ui.horizontal_top(|ui| {
            // The scene gets exactly `view_size` (a Scene fills whatever it is given, which in a
            // scroll area or a row can be unbounded).
            let (rect, _) = ui.allocate_exact_size(view_size, Sense::hover());
            let mut child = ui.new_child(
                egui::UiBuilder::new()
                    .id_salt(("image_view", &self.name))
                    .max_rect(rect),
            );
            let reset = egui::Scene::new()
                .zoom_range(0.05..=64.0)
                .show(&mut child, &mut self.scene_rect, |ui| {
                    let image = egui::Image::new((texture_id, image_size)).sense(Sense::click());
                    let r = ui.put(full, image);
                    if let Some(pos) = r.hover_pos() {
                        hovered = Some([f64::from(pos.x), f64::from(pos.y)]);
                    }
                    if let Some(px) = pixel_size_m {
                        scale_bar(ui, full, px);
                    }
                    r.double_clicked()
                })
                .inner;
            if reset {
                self.scene_rect = full;
            }
            if let Some(bar) = bar {
                color_bar(ui, bar, size.y);
            }
        });
        hovered.filter(|p| {
            p[0] >= 0.0 && p[1] >= 0.0 && p[0] < image_size.x as f64 && p[1] < image_size.y as f64
        })
    }
}

/// A "nice" length (1, 2 or 5 × 10^k metres) near a fifth of the image, drawn bottom-left.
fn scale_bar(ui: &egui::Ui, image: Rect, pixel_size_m: f64) {
    if !(pixel_size_m.is_finite() && pixel_size_m > 0.0) {
        return;
    }
    let target_m = f64::from(image.width()) * pixel_size_m / 5.0;
    let decade = 10f64.powf(target_m.log10().floor());
    let nice = [1.0, 2.0, 5.0]
        .into_iter()
        .map(|m| m * decade)
        .rfind(|&m| m <= target_m)
        .unwrap_or(decade);
    let length_px = (nice / pixel_size_m) as f32;
    let y = image.max.y - image.height() * 0.06;
    let x0 = image.min.x + image.width() * 0.05;
    let painter = ui.painter();
    let stroke = Stroke::new(image.height() * 0.012, Color32::WHITE);
    painter.line_segment([pos2(x0, y), pos2(x0 + length_px, y)], stroke);
    let label = if nice >= 1e-6 {
        format!("{:.0} µm", nice * 1e6)
    } else {
        format!("{:.0} nm", nice * 1e9)
    };
    painter.text(
        pos2(x0 + length_px / 2.0, y - image.height() * 0.02),
        Align2::CENTER_BOTTOM,
        label,
        FontId::proportional((image.height() * 0.045).max(4.0)),
        Color32::WHITE,
    );
}

fn bar_color(kind: &BarKind, t: f32) -> Color32 {
    let map = match kind {
        BarKind::Linear(m) | BarKind::Log(m) => *m,
        BarKind::Phase => ColorMap::PhaseCyclic,
        BarKind::Complex => ColorMap::CyclicIsoluminant,
    };
    let [r, g, b] = map.at(t);
    Color32::from_rgb(r, g, b)
}

fn bar_label(kind: &BarKind, v: f32) -> String {
    match kind {
        BarKind::Linear(_) => format_value(v),
        BarKind::Log(_) => format_value(10f32.powf(v) - 1.0),
        BarKind::Phase | BarKind::Complex => {
            let pi = std::f32::consts::PI;
            if (v + pi).abs() < 1e-3 {
                "−π".into()
            } else if (v - pi).abs() < 1e-3 {
                "π".into()
            } else {
                format!("{v:.2}")
            }
        }
    }
}

/// Short labels: 3 significant digits, scientific outside [1e-2, 1e4).
pub fn format_value(v: f32) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

fn color_bar(ui: &mut egui::Ui, bar: &ColorBar, height: f32) {
    let (rect, _) = ui.allocate_exact_size(vec2(BAR_SPACE - 8.0, height), Sense::hover());
    let painter = ui.painter_at(rect.expand(2.0));
    let text_color = ui.visuals().text_color();
    let title_h = 16.0;
    painter.text(
        pos2(rect.min.x, rect.min.y),
        Align2::LEFT_TOP,
        &bar.title,
        FontId::proportional(11.0),
        text_color,
    );
    let strip = Rect::from_min_max(
        pos2(rect.min.x, rect.min.y + title_h + 6.0),
        pos2(rect.min.x + BAR_WIDTH, rect.max.y - 8.0),
    );
    let steps = 64;
    for i in 0..steps {
        let t0 = i as f32 / steps as f32;
        let y1 = strip.max.y - t0 * strip.height();
        let y0 = strip.max.y - (i + 1) as f32 / steps as f32 * strip.height();
        painter.rect_filled(
            Rect::from_min_max(pos2(strip.min.x, y0), pos2(strip.max.x, y1 + 0.5)),
            0.0,
            bar_color(&bar.kind, t0 + 0.5 / steps as f32),
        );
    }
    let (lo, hi) = bar.range;
    let ticks = if matches!(bar.kind, BarKind::Phase | BarKind::Complex) {
        vec![lo, 0.0, hi]
    } else {
        vec![lo, (lo + hi) / 2.0, hi]
    };
    for v in ticks {
        let t = ((v - lo) / (hi - lo).max(f32::MIN_POSITIVE)).clamp(0.0, 1.0);
        let y = strip.max.y - t * strip.height();
        painter.line_segment(
            [pos2(strip.max.x, y), pos2(strip.max.x + 4.0, y)],
            Stroke::new(1.0, text_color),
        );
        painter.text(
            pos2(strip.max.x + 6.0, y),
            Align2::LEFT_CENTER,
            bar_label(&bar.kind, v),
            FontId::proportional(11.0),
            text_color,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short() {
        assert_eq!(format_value(0.5), "0.500");
        assert_eq!(format_value(123456.0), "1.23e5");
        assert_eq!(bar_label(&BarKind::Log(ColorMap::Viridis), 2.0), "99.000");
        assert_eq!(bar_label(&BarKind::Phase, std::f32::consts::PI), "π");
    }
}
