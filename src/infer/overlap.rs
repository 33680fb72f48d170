//! What one diffraction pattern cannot tell, overlapping patches can: the overlap pass run on
//! the predicted patches before the final stitch.
//!
//! At gridsize 1 the network sees each pattern alone, and two things about a patch O are
//! invisible in its own pattern |F(P·O)|:
//! - its **global phase**: O·e^{iα} gives the same pattern for every α;
//! - with a real, centro-symmetric probe (P(r) = P̄(c − r), as the §9 probe), its **twin**
//!   Ō(c − r): point-reflected and conjugated, it gives the same pattern too. The network's
//!   training loss cannot prefer one over the other, and it may settle on the twin, on all
//!   patches or on some.
//!
//! Neighbouring patches overlap, and there the true patches agree with each other while twins
//! and stray phase offsets do not. The pass picks, for every patch, the twin choice and the
//! phase factor that agree best with the weighted mean of the other patches (leave-one-out),
//! in a few rounds. It adds no information the scan lacks: it resolves what the overlap
//! constraint of ptychography resolves (physics.md §3.2 enforces it during training at
//! gridsize > 1).

use ndarray::{Array2, ArrayRef2};
use num_complex::Complex32;

/// Rounds of per-patch choices after the global one.
const ROUNDS: usize = 3;

/// The reflection r → (c − r) mod N under which the probe is its own conjugate,
/// P(r) = P̄((c − r) mod N), for c = N − 1 (symmetric about (N − 1)/2) or c = N (about N/2);
/// `None` when neither holds to 1e-4 of the probe's energy (then the twin gives another
/// pattern, and only the phase factor is left to choose).
pub fn twin_centre(probe: &ArrayRef2<Complex32>) -> Option<usize> {
    let (n, m) = probe.dim();
    if n != m || n == 0 {
        return None;
    }
    let energy: f64 = probe.iter().map(|v| f64::from(v.norm_sqr())).sum();
    if energy <= 0.0 {
        return None;
    }
    [n - 1, n].into_iter().find(|&c| {
        let mismatch: f64 = probe
            .indexed_iter()
            .map(|((r, col), v)| {
                let mirror = probe[[(c + n - r) % n, (c + n - col) % n]].conj();
                f64::from((v - mirror).norm_sqr())
            })
            .sum();
        mismatch <= 1e-4 * energy
    })
}

/// The twin Ō((c − r) mod N) of a patch.
pub fn twin(patch: &ArrayRef2<Complex32>, centre: usize) -> Array2<Complex32> {
    let (n, _) = patch.dim();
    Array2::from_shape_fn((n, n), |(r, c)| {
        patch[[(centre + n - r) % n, (centre + n - c) % n]].conj()
    })
}

/// One kept patch: its values on the weights' support box and the canvas pixel of the box's
/// top-left corner (nearest whole pixel).
#[derive(Debug, Clone)]
pub struct KeptPatch {
    /// The patch as predicted, on the support box.
    pub original: Array2<Complex32>,
    /// Its twin on the same box (when the probe has one).
    pub twin: Option<Array2<Complex32>>,
    /// Canvas row and column of the box's pixel (0, 0).
    pub corner: [i64; 2],
}

/// The choice made for one patch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatchChoice {
    /// Use the twin.
    pub twin: bool,
    /// Multiply by this unit phase factor.
    pub rotation: Complex32,
}

impl Default for PatchChoice {
    fn default() -> Self {
        Self {
            twin: false,
            rotation: Complex32::new(1.0, 0.0),
        }
    }
}

/// Nearest-pixel sums of the chosen patches on the canvas.
struct Canvas {
    sum: Array2<Complex32>,
    weight: Array2<f32>,
}

impl Canvas {
    fn build(
        shape: (usize, usize),
        patches: &[KeptPatch],
        choices: &[PatchChoice],
        weights: &Array2<f32>,
    ) -> Self {
        let mut canvas = Self {
            sum: Array2::zeros(shape),
            weight: Array2::zeros(shape),
        };
        for (p, choice) in patches.iter().zip(choices) {
            canvas.visit(p, weights, |canvas, at, w| {
                let v = chosen(p, *choice, at.1);
                canvas.sum[at.0] += v * w;
                canvas.weight[at.0] += w;
            });
        }
        canvas
    }

    /// Calls `f(canvas, (canvas index, box index), weight)` for every weighted pixel of `p`
    /// inside the canvas.
    fn visit(
        &mut self,
        p: &KeptPatch,
        weights: &Array2<f32>,
        mut f: impl FnMut(&mut Self, ([usize; 2], [usize; 2]), f32),
    ) {
        let (h, w) = self.sum.dim();
        for ((i, j), &wt) in weights.indexed_iter() {
            if wt <= 0.0 {
                continue;
            }
            let (r, c) = (p.corner[0] + i as i64, p.corner[1] + j as i64);
            if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w {
                f(self, ([r as usize, c as usize], [i, j]), wt);
            }
        }
    }
}

fn chosen(p: &KeptPatch, choice: PatchChoice, at: [usize; 2]) -> Complex32 {
    let v = match (&p.twin, choice.twin) {
        (Some(t), true) => t[at],
        _ => p.original[at],
    };
    v * choice.rotation
}

/// For patch `p`, the best phase factor and the remaining weighted misfit against the mean of
/// the other patches on the canvas, for the original and the twin. `on_canvas`: the patch is on
/// the canvas under `choice` and is left out of the mean.
fn misfits(
    canvas: &mut Canvas,
    p: &KeptPatch,
    on_canvas: Option<PatchChoice>,
    weights: &Array2<f32>,
) -> [(f64, Complex32); 2] {
    // Σ w|v|², Σ w|m|², Σ w v̄ m for v = original and twin, m = mean of the others.
    let mut acc = [(0.0f64, 0.0f64, Complex32::default()); 2];
    canvas.visit(p, weights, |canvas, (at, box_at), w| {
        let (own, own_weight) = match on_canvas {
            Some(choice) => (chosen(p, choice, box_at), w),
            None => (Complex32::default(), 0.0),
        };
        let rest_weight = canvas.weight[at] - own_weight;
        if rest_weight <= 1e-3 {
            return;
        }
        let mean = (canvas.sum[at] - own * own_weight) / rest_weight;
        // Trust a pixel as much as both it and the others were lit.
        let k = w * rest_weight / (w + rest_weight);
        let candidates = [Some(p.original[box_at]), p.twin.as_ref().map(|t| t[box_at])];
        for (slot, v) in acc.iter_mut().zip(candidates) {
            if let Some(v) = v {
                slot.0 += f64::from(k * v.norm_sqr());
                slot.1 += f64::from(k * mean.norm_sqr());
                slot.2 += v.conj() * mean * k;
            }
        }
    });
    acc.map(|(vv, mm, vm)| {
        // min over α of Σ k|v e^{iα} − m|² = Σk|v|² + Σk|m|² − 2|Σ k v̄ m|.
        let misfit = vv + mm - 2.0 * f64::from(vm.norm());
        let rotation = if vm.norm() > 0.0 {
            vm / vm.norm()
        } else {
            Complex32::new(1.0, 0.0)
        };
        (misfit, rotation)
    })
}

/// The better of the two candidates and its phase factor.
fn pick(found: [(f64, Complex32); 2], allow_twin: bool, current_twin: bool) -> (f64, PatchChoice) {
    let [(m_orig, r_orig), (m_twin, r_twin)] = found;
    let twin = if allow_twin {
        m_twin < m_orig
    } else {
        current_twin
    };
    let (misfit, rotation) = if twin {
        (m_twin, r_twin)
    } else {
        (m_orig, r_orig)
    };
    (misfit, PatchChoice { twin, rotation })
}

/// Chooses twin and phase factor for every patch (see the module doc). `weights` is the
/// patches' weight on their support box; `shape` the canvas. Returns one choice per patch.
///
/// The canvas grows from the patch nearest the scan's centre outwards, each new patch matched
/// to those already placed (matching every patch to a mean of randomly turned patches would
/// lock in phase vortices); then a few rounds match each patch to all the others. The first
/// patch fixes the orientation, so both are tried and the more consistent kept.
pub fn resolve(
    patches: &[KeptPatch],
    weights: &Array2<f32>,
    shape: (usize, usize),
) -> Vec<PatchChoice> {
    if patches.is_empty() {
        return Vec::new();
    }
    let has_twins = patches.iter().any(|p| p.twin.is_some());
    let count = patches.len() as f64;
    let centre = patches.iter().fold([0.0, 0.0], |c, p| {
        [
            c[0] + p.corner[0] as f64 / count,
            c[1] + p.corner[1] as f64 / count,
        ]
    });
    let mut order: Vec<usize> = (0..patches.len()).collect();
    let distance = |i: usize| {
        (patches[i].corner[0] as f64 - centre[0]).powi(2)
            + (patches[i].corner[1] as f64 - centre[1]).powi(2)
    };
    order.sort_by(|&a, &b| distance(a).total_cmp(&distance(b)));
    let orientations: &[bool] = if has_twins { &[false, true] } else { &[false] };
    let mut best: Option<(f64, Vec<PatchChoice>)> = None;
    for &first_twin in orientations {
        let mut choices = vec![PatchChoice::default(); patches.len()];
        choices[order[0]].twin = first_twin;
        let mut canvas = Canvas::build(shape, &[], &[], weights);
        for (k, &i) in order.iter().enumerate() {
            let p = &patches[i];
            if k > 0 {
                let found = misfits(&mut canvas, p, None, weights);
                choices[i] = pick(found, has_twins && p.twin.is_some(), false).1;
            }
            let choice = choices[i];
            canvas.visit(p, weights, |canvas, (at, box_at), w| {
                canvas.sum[at] += chosen(p, choice, box_at) * w;
                canvas.weight[at] += w;
            });
        }
        let mut cost = f64::INFINITY;
        for _ in 0..ROUNDS {
            cost = refine(patches, weights, shape, &mut choices, has_twins);
        }
        if best.as_ref().is_none_or(|(b, _)| cost < *b) {
            best = Some((cost, choices));
        }
    }
    best.map(|(_, c)| c).unwrap_or_default()
}

/// One round: every patch takes its best phase factor (and, with `pick_twin`, its better twin
/// choice) against the others; returns the total misfit.
fn refine(
    patches: &[KeptPatch],
    weights: &Array2<f32>,
    shape: (usize, usize),
    choices: &mut [PatchChoice],
    pick_twin: bool,
) -> f64 {
    let mut canvas = Canvas::build(shape, patches, choices, weights);
    let mut total = 0.0;
    for (p, choice) in patches.iter().zip(choices.iter_mut()) {
        let old = *choice;
        let found = misfits(&mut canvas, p, Some(old), weights);
        let (misfit, new) = pick(found, pick_twin && p.twin.is_some(), old.twin);
        *choice = new;
        total += misfit;
        // Update the canvas in place so later patches see this choice.
        canvas.visit(p, weights, |canvas, (at, box_at), w| {
            let delta = chosen(p, *choice, box_at) - chosen(p, old, box_at);
            canvas.sum[at] += delta * w;
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section9_style_probe_has_a_twin_and_a_ramped_one_does_not() {
        let n = 16;
        // Symmetric about (n − 1)/2.
        let symmetric = Array2::from_shape_fn((n, n), |(r, c)| {
            let (y, x) = (r as f32 - 7.5, c as f32 - 7.5);
            Complex32::new((-(x * x + y * y) / 20.0).exp(), 0.0)
        });
        assert_eq!(twin_centre(&symmetric), Some(n - 1));
        let ramped = symmetric.mapv(|v| v * Complex32::from_polar(1.0, 0.0))
            + Array2::from_shape_fn((n, n), |(r, _)| Complex32::new(0.0, r as f32 * 0.05));
        assert_eq!(twin_centre(&ramped), None);
        // The twin of the twin is the patch.
        let patch =
            Array2::from_shape_fn((n, n), |(r, c)| Complex32::new(r as f32, c as f32 * 0.5));
        assert_eq!(twin(&twin(&patch, n - 1), n - 1), patch);
    }
}
