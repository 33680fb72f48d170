//! The live preview: the network's stitched amplitude and phase on the training groups nearest
//! the scan's centre, sent as host images every few epochs.

use burn::prelude::*;
use num_complex::Complex32;

use super::events::{EventSender, HostImage, TrainEvent};
use super::split::GroupSet;
use crate::infer::predict::{InferError, stitch_rows};
use crate::infer::stitch::{StitchWeights, Stitcher};
use crate::model::PinnNet;

/// Which groups the preview stitches.
#[derive(Debug)]
pub struct Preview<'s, 'a> {
    set: &'s GroupSet<'a>,
    rows: Vec<usize>,
    positions: Vec<[f64; 2]>,
}

impl<'s, 'a> Preview<'s, 'a> {
    /// The `count` groups of `set` whose centres are nearest the mean position.
    pub fn new(set: &'s GroupSet<'a>, count: usize) -> Self {
        let groups = &set.groups;
        let mut rows = set.rows.clone();
        let n = rows.len().max(1) as f64;
        let centre = rows.iter().fold([0.0, 0.0], |c, &r| {
            [
                c[0] + groups.offsets[[r, 0]] / n,
                c[1] + groups.offsets[[r, 1]] / n,
            ]
        });
        let distance = |r: usize| {
            (groups.offsets[[r, 0]] - centre[0]).powi(2)
                + (groups.offsets[[r, 1]] - centre[1]).powi(2)
        };
        rows.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)));
        rows.truncate(count);
        let positions = rows
            .iter()
            .flat_map(|&r| {
                (0..groups.channels())
                    .map(move |c| [groups.coords[[r, c, 0]], groups.coords[[r, c, 1]]])
            })
            .collect();
        Self {
            set,
            rows,
            positions,
        }
    }

    /// Stitches the preview with `network` (inference mode) and sends it, as of `epoch` and,
    /// mid-epoch, the step `(batch, batches)` reached.
    pub fn send(
        &self,
        network: &PinnNet,
        (epoch, batch): (usize, Option<(usize, usize)>),
        device: &Device,
        events: &EventSender,
    ) -> Result<(), InferError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let weights = StitchWeights::Illumination.patch_weights(self.set.dataset.probe());
        let mut stitcher = Stitcher::new(&self.positions, weights);
        stitch_rows(
            network,
            self.set.dataset,
            &self.set.groups,
            &self.rows,
            self.set.factor,
            64,
            &mut stitcher,
            device,
            |_, _| true,
        )?;
        let object = stitcher.object();
        events.send(TrainEvent::Preview {
            epoch,
            batch,
            amplitude: HostImage::from_array(&object.mapv(Complex32::norm)),
            phase: HostImage::from_array(&object.mapv(Complex32::arg)),
        });
        Ok(())
    }
}
