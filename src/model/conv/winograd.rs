//! The 3×3 "same" convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, 2016):
//! every 2 × 2 block of output pixels ("tile") comes from the 4 × 4 block of input around it
//! with 16 multiplications per channel pair instead of 36, so the matrix products, which are most
//! of a training step, do 16/36 of the direct method's work.
//!
//! With d a tile's 4 × 4 input, g a 3 × 3 kernel and dy a tile's 2 × 2 output gradient:
//! - forward: `y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`, summed over input channels inside the ⊙ (one
//!   matrix product per of the 16 transformed positions);
//! - input gradient: the forward with the flipped, transposed kernel ([`super::kernels`]).
//!
//! The weight gradient stays on im2col. Winograd's version of it (the forward's identity
//! transposed, `dg = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B)] G`) was built and measured: exact to
//! 2e-7 relative per call and faster on large images, but it made training depend on how a batch
//! is split far more than im2col does (`tests/mpi.rs`, 3 ranks against one process: losses
//! 3.5e-3 apart instead of 3e-5), so data-parallel runs would no longer take one process's steps.
//!
//! The transforms' entries are 0, ±1 and ±½, so the results agree with the direct method to
//! float rounding (the tests compare both with the definition in f64).

use rayon::prelude::*;

use super::matmul::{MatRef, matmul};
use super::shape::{ConvShape, Tiling};

/// Tiles one set of matrix products aims for (512 output pixels, as the im2col path's tiles).
const TASK_TILES: usize = 128;

/// The 16 transformed positions.
const POSITIONS: usize = 16;

/// Whether the Winograd path serves this shape: enough channels on both sides for the 16
/// matrix products to be worth their transforms (the network's first layer, 1 → 64, and its
/// heads, 64 → 1, stay on im2col), and images of 16 × 16 or more. Measured per layer at batch 16
/// (`cargo bench --profile dev --bench conv -- kernels`, 2026-12-07): the forward gains from
/// 16 × 16 up (128 → 256 at 16²: 20.9 ms against im2col's 26.8) and loses at 8 × 8 (256 → 128:
/// 11.5 against 8.9), where a row of tiles is too short to vectorise.
pub fn applies(shape: &ConvShape) -> bool {
    crate::fast_cpu::winograd()
        && shape.channels_in >= 16
        && shape.channels_out >= 16
        && shape.height * shape.width >= 16 * 16
}

/// Tile rows and columns of one image.
fn tile_grid(shape: &ConvShape) -> (usize, usize) {
    (shape.height.div_ceil(2), shape.width.div_ceil(2))
}

/// One band: tile rows `row0..row1` of every image of a task.
#[derive(Debug, Clone, Copy)]
struct Band {
    row0: usize,
    row1: usize,
    /// Tiles in the band: images × rows × tile columns.
    tiles: usize,
    /// Tile columns of an image.
    columns: usize,
}

impl Band {
    /// Index, among the band's tiles, of the first tile of tile row `ty` of the task's image `n`
    /// (the images side by side, each with its rows in order).
    fn first_tile(&self, n: usize, ty: usize) -> usize {
        (n * (self.row1 - self.row0) + ty - self.row0) * self.columns
    }
}

fn bands(shape: &ConvShape, tasks: Tiling, images: usize) -> impl Iterator<Item = Band> {
    let (th, tw) = tile_grid(shape);
    (0..th).step_by(tasks.rows.max(1)).map(move |row0| {
        let row1 = (row0 + tasks.rows).min(th);
        Band {
            row0,
            row1,
            tiles: images * (row1 - row0) * tw,
            columns: tw,
        }
    })
}

/// `U = G g Gᵀ` of every kernel, as 16 matrices `[position][c_out][c_in]`.
fn filter_transform(weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    let (c_in, c_out) = (shape.channels_in, shape.channels_out);
    let mut u = vec![0.0f32; POSITIONS * c_out * c_in];
    for o in 0..c_out {
        for i in 0..c_in {
            let g = &weight[(o * c_in + i) * 9..(o * c_in + i + 1) * 9];
            // G g: 4 × 3, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
            let mut gg = [[0.0f32; 3]; 4];
            for c in 0..3 {
                let (g0, g1, g2) = (g[c], g[3 + c], g[6 + c]);
                gg[0][c] = g0;
                gg[1][c] = 0.5 * (g0 + g1 + g2);
                gg[2][c] = 0.5 * (g0 - g1 + g2);
                gg[3][c] = g2;
            }
            for (r, row) in gg.iter().enumerate() {
                let values = [
                    row[0],
                    0.5 * (row[0] + row[1] + row[2]),
                    0.5 * (row[0] - row[1] + row[2]),
                    row[2],
                ];
                for (c, v) in values.into_iter().enumerate() {
                    u[((r * 4 + c) * c_out + o) * c_in + i] = v;
                }
            }
        }
    }
    u
}

/// Fills `v` (`[position][c_in][band.tiles]`) with `Bᵀ d B` of every input tile of the band, the
/// task's images side by side. `Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]`.
///
/// Vectorised along a row of tiles: the four input rows of a tile row are combined whole
/// (`Bᵀ d`), split into even and odd columns (padded by the zero column on each side), and the
/// column transform (`· B`) is then four element-wise combinations of those, each written as one
/// contiguous run of tiles.
fn input_transform(images: &[f32], shape: &ConvShape, band: Band, v: &mut [f32]) {
    let (h, w) = (shape.height, shape.width);
    let (_, tw) = tile_grid(shape);
    let c_in = shape.channels_in;
    let plane_len = h * w;
    let tiles = band.tiles;
    let len = tw + 1;
    let count = 2 * (band.row1 - band.row0) + 2;
    let (mut even, mut odd) = (vec![0.0f32; count * len], vec![0.0f32; count * len]);
    let mut combined = (vec![0.0f32; len], vec![0.0f32; len]);
    for (n, image) in images.chunks_exact(c_in * plane_len).enumerate() {
        for (i, plane) in image.chunks_exact(plane_len).enumerate() {
            let first = 2 * band.row0 as isize - 1;
            split_columns(plane, (h, w), first, tw, (&mut even, &mut odd));
            for ty in band.row0..band.row1 {
                let row = |r: usize| {
                    (2 * (ty - band.row0) + r) * len..(2 * (ty - band.row0) + r + 1) * len
                };
                let t0 = band.first_tile(n, ty);
                // Bᵀ d, row by row: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
                let rows: [(usize, f32, usize); 4] =
                    [(0, -1.0, 2), (1, 1.0, 2), (2, -1.0, 1), (1, -1.0, 3)];
                for (r, &(a, sign, b)) in rows.iter().enumerate() {
                    let (ce, co) = (&mut combined.0, &mut combined.1);
                    for ((c, x), y) in ce.iter_mut().zip(&even[row(a)]).zip(&even[row(b)]) {
                        *c = x + sign * y;
                    }
                    for ((c, x), y) in co.iter_mut().zip(&odd[row(a)]).zip(&odd[row(b)]) {
                        *c = x + sign * y;
                    }
                    let (e0, e1) = (&combined.0[..tw], &combined.0[1..]);
                    let (o0, o1) = (&combined.1[..tw], &combined.1[1..]);
                    let at = |c: usize| ((r * 4 + c) * c_in + i) * tiles + t0;
                    // · B, column by column: (e_k − e_k+1, o_k + e_k+1, e_k+1 − o_k, o_k − o_k+1).
                    for ((d, a), b) in v[at(0)..at(0) + tw].iter_mut().zip(e0).zip(e1) {
                        *d = a - b;
                    }
                    for ((d, a), b) in v[at(1)..at(1) + tw].iter_mut().zip(o0).zip(e1) {
                        *d = a + b;
                    }
                    for ((d, a), b) in v[at(2)..at(2) + tw].iter_mut().zip(e1).zip(o0) {
                        *d = a - b;
                    }
                    for ((d, a), b) in v[at(3)..at(3) + tw].iter_mut().zip(o0).zip(o1) {
                        *d = a - b;
                    }
                }
            }
        }
    }
}

/// Splits the input rows `first, first + 1, …` of `plane` (`h × w`; zero outside it) into
/// their columns 2k − 1 (`even`) and 2k (`odd`), k = 0..=tw, as rows of `tw + 1`; as many rows
/// as `even` holds.
fn split_columns(
    plane: &[f32],
    (h, w): (usize, usize),
    first: isize,
    tw: usize,
    (even, odd): (&mut [f32], &mut [f32]),
) {
    let len = tw + 1;
    for (j, (e, o)) in even
        .chunks_exact_mut(len)
        .zip(odd.chunks_exact_mut(len))
        .enumerate()
    {
        e.fill(0.0);
        o.fill(0.0);
        let y = first + j as isize;
        if y < 0 || y as usize >= h {
            continue;
        }
        let line = &plane[y as usize * w..(y as usize + 1) * w];
        let pairs = line.chunks_exact(2);
        if let [last] = pairs.remainder() {
            o[w / 2] = *last;
        }
        for ((pair, oo), ee) in pairs.zip(o.iter_mut()).zip(e[1..].iter_mut()) {
            *oo = pair[0];
            *ee = pair[1];
        }
    }
}

thread_local! {
    /// Each worker's transformed tiles and products, kept between calls (megabytes each).
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `y = conv(x, weight) + bias` (`[b, c_in, h, w]`, `[c_out, c_in, 3, 3]`, `[c_out]`) as
/// `[b, c_out, h, w]`.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, shape: &ConvShape) -> Vec<f32> {
    let (c_in, c_out) = (shape.channels_in, shape.channels_out);
    let (h, w) = (shape.height, shape.width);
    let pixels = h * w;
    let mut y = vec![0.0f32; shape.batch * c_out * pixels];
    if y.is_empty() || x.is_empty() {
        return y;
    }
    let u = filter_transform(weight, shape);
    let (th, tw) = tile_grid(shape);
    let tasks = Tiling::of(shape.batch, th, tw, TASK_TILES);
    let (in_len, out_len) = (c_in * pixels, c_out * pixels);
    y.par_chunks_mut(out_len * tasks.images)
        .zip(x.par_chunks(in_len * tasks.images))
        .for_each(|(y_chunk, x_chunk)| {
            SCRATCH.with_borrow_mut(|(v, m)| {
                let images = y_chunk.len() / out_len;
                let mut rows = OutputRows::new(tw);
                for band in bands(shape, tasks, images) {
                    let tiles = band.tiles;
                    v.resize(POSITIONS * c_in * tiles, 0.0);
                    m.resize(POSITIONS * c_out * tiles, 0.0);
                    input_transform(x_chunk, shape, band, v);
                    for e in 0..POSITIONS {
                        matmul(
                            &mut m[e * c_out * tiles..(e + 1) * c_out * tiles],
                            MatRef::row_major(&u[e * c_out * c_in..], c_out, c_in),
                            MatRef::row_major(&v[e * c_in * tiles..], c_in, tiles),
                            false,
                        );
                    }
                    output_transform(m, bias, shape, band, y_chunk, &mut rows);
                }
            });
        });
    y
}

/// Scratch rows of [`output_transform`].
struct OutputRows {
    /// `Aᵀ m` for the two output rows and four columns of a tile row.
    rows: [[Vec<f32>; 4]; 2],
    /// The even and odd output columns of one output row.
    even: Vec<f32>,
    odd: Vec<f32>,
}

impl OutputRows {
    fn new(tw: usize) -> Self {
        let row = || std::array::from_fn(|_| vec![0.0f32; tw]);
        Self {
            rows: [row(), row()],
            even: vec![0.0; tw],
            odd: vec![0.0; tw],
        }
    }
}

/// Writes `Aᵀ m A` + bias of every tile of the band into the task's output images `y_chunk`
/// (`m`: `[position][c_out][band.tiles]`; `Aᵀ = [1 1 1 0; 0 1 −1 −1]`), vectorised along each
/// row of tiles.
fn output_transform(
    m: &[f32],
    bias: Option<&[f32]>,
    shape: &ConvShape,
    band: Band,
    y_chunk: &mut [f32],
    scratch: &mut OutputRows,
) {
    let (h, w) = (shape.height, shape.width);
    let (_, tw) = tile_grid(shape);
    let c_out = shape.channels_out;
    let pixels = h * w;
    let tiles = band.tiles;
    for (n, y_image) in y_chunk.chunks_exact_mut(c_out * pixels).enumerate() {
        for (o, plane) in y_image.chunks_exact_mut(pixels).enumerate() {
            let b = bias.map_or(0.0, |b| b[o]);
            for ty in band.row0..band.row1 {
                let t0 = band.first_tile(n, ty);
                let at = |e: usize| &m[(e * c_out + o) * tiles + t0..][..tw];
                for c in 0..4 {
                    let (m0, m1, m2, m3) = (at(c), at(4 + c), at(8 + c), at(12 + c));
                    let [top, bottom] = &mut scratch.rows;
                    for ((((t, p), q), r), u) in top[c]
                        .iter_mut()
                        .zip(m0)
                        .zip(m1)
                        .zip(m2)
                        .zip(bottom[c].iter_mut())
                    {
                        *t = p + q + r;
                        *u = q - r;
                    }
                    for (u, s) in bottom[c].iter_mut().zip(m3) {
                        *u -= s;
                    }
                }
                for r in 0..2 {
                    let py = 2 * ty + r;
                    if py >= h {
                        continue;
                    }
                    let [c0, c1, c2, c3] = &scratch.rows[r];
                    for ((((e, od), a), p), q) in scratch
                        .even
                        .iter_mut()
                        .zip(scratch.odd.iter_mut())
                        .zip(c0)
                        .zip(c1)
                        .zip(c2)
                    {
                        *e = b + a + p + q;
                        *od = b + p - q;
                    }
                    for (od, s) in scratch.odd.iter_mut().zip(c3) {
                        *od -= s;
                    }
                    let line = &mut plane[py * w..(py + 1) * w];
                    let mut pairs = line.chunks_exact_mut(2);
                    for ((pair, e), od) in (&mut pairs).zip(&scratch.even).zip(&scratch.odd) {
                        pair[0] = *e;
                        pair[1] = *od;
                    }
                    if let [last] = pairs.into_remainder() {
                        *last = scratch.even[w / 2];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::conv::reference::{direct, values};

    fn shapes() -> Vec<ConvShape> {
        let s = |batch, channels_in, channels_out, height, width| ConvShape {
            batch,
            channels_in,
            channels_out,
            height,
            width,
        };
        // Several bands of one image, several images per task, odd sizes, a 1-pixel image.
        vec![
            s(2, 3, 5, 40, 36),
            s(7, 4, 2, 5, 6),
            s(3, 2, 3, 5, 1),
            s(1, 1, 1, 1, 1),
            s(3, 17, 16, 9, 7),
        ]
    }

    #[test]
    fn forward_matches_the_definition() {
        for s in shapes() {
            let x = values(s.batch * s.channels_in * s.height * s.width, 1);
            let w = values(s.channels_out * s.channels_in * 9, 2);
            let bias = values(s.channels_out, 3);
            let fast = forward(&x, &w, Some(&bias), &s);
            let slow = direct(&x, &w, &bias, &s);
            let worst = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (f64::from(*a) - b).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-4, "{s:?}: {worst}");
        }
    }
}
