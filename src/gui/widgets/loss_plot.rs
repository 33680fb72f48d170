//! Training and validation loss per epoch on a log scale (egui_plot has no log axis: the curves
//! are plotted as log10 and the axis labels undo it).

use eframe::egui;
use egui_plot::{HoverPosition, Legend, Line, Plot, PlotPoints};

use crate::train::EpochRecord;

/// `(epoch, log10 loss)` points of the finite, positive losses picked by `pick`.
pub fn log_points(history: &[EpochRecord], pick: impl Fn(&EpochRecord) -> f64) -> Vec<[f64; 2]> {
    history
        .iter()
        .filter_map(|r| {
            let v = pick(r);
            (v.is_finite() && v > 0.0).then(|| [r.epoch as f64, v.log10()])
        })
        .collect()
}

/// Draws the loss curves.
pub fn loss_plot_ui(
    ui: &mut egui::Ui,
    history: &[EpochRecord],
    batch_losses: &[[f64; 2]],
    height: f32,
) {
    let train = log_points(history, |r| r.train_loss);
    let val = log_points(history, |r| r.val_loss);
    Plot::new("loss_plot")
        .height(height)
        .legend(Legend::default())
        .x_axis_label("epoch")
        .y_axis_label("loss (Poisson NLL / px)")
        .y_axis_formatter(|mark, _| format!("{:.3e}", 10f64.powf(mark.value)))
        .label_formatter(|hover| match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } if !plot_name.is_empty() => Some(format!(
                "{plot_name}\nepoch {:.0}: {:.4e}",
                position.x,
                10f64.powf(position.y)
            )),
            _ => None,
        })
        .allow_scroll(false)
        .show(ui, |plot| {
            if !batch_losses.is_empty() {
                // Every step's loss, thin and faint under the epoch means: the curve a user
                // sees from the first batch on.
                plot.line(
                    Line::new(
                        "training, each batch",
                        PlotPoints::from(batch_losses.to_vec()),
                    )
                    .width(1.0)
                    .color(egui::Color32::from_rgba_unmultiplied(120, 120, 120, 140)),
                );
            }
            plot.line(Line::new("training", PlotPoints::from(train)).width(2.0));
            plot.line(Line::new("validation", PlotPoints::from(val)).width(2.0));
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_points_skip_what_a_log_axis_cannot_show() {
        let record = |epoch, train_loss, val_loss| EpochRecord {
            epoch,
            train_loss,
            val_loss,
            learning_rate: 1e-3,
            duration_secs: 1.0,
            patterns_per_s: 1.0,
        };
        let h = vec![record(1, 100.0, f64::NAN), record(2, 10.0, 0.0)];
        assert_eq!(
            log_points(&h, |r| r.train_loss),
            vec![[1.0, 2.0], [2.0, 1.0]]
        );
        assert!(log_points(&h, |r| r.val_loss).is_empty());
    }
}
