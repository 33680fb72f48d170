//! The 3×3, stride-1, zero-padded ("same") convolution of NCHW `f32` data as matrix products:
//! im2col tiles of the input times the weight matrix, tasks on rayon's pool, each matrix product
//! on one thread ([`super::matmul`]). The three passes training needs:
//!
//! - forward: `y[b, o, p] = bias[o] + Σ_{i, k} w[o, i, k] · x[b, i, p + k − 1]`;
//! - input gradient: the forward of `dy` with [`input_grad_weight`]'s flipped, transposed kernel;
//! - weight and bias gradients: `dw[o, (i, k)] = Σ_{b, p} dy[b, o, p] · col[(i, k), p]`,
//!   `db[o] = Σ_{b, p} dy[b, o, p]`.
//!
//! Small images are batched several to a tile so each matrix product has enough columns.

use rayon::prelude::*;

use super::matmul::{MatRef, matmul, matmul_into};
pub use super::shape::ConvShape;
use super::shape::Tiling;
use super::winograd;

/// Columns (output pixels) one matrix product aims for: the im2col tile is `9·c_in × COLUMNS`.
const TILE_COLUMNS: usize = 512;

/// Fills `col` (`9·c_in` rows × `cols` columns, row-major) with the taps of output rows
/// `row0..row1` of the images in `images` (each `c_in × h × w`), the images side by side.
fn im2col(images: &[f32], shape: &ConvShape, row0: usize, row1: usize, col: &mut [f32]) {
    let (h, w) = (shape.height, shape.width);
    let band = (row1 - row0) * w;
    let image_len = shape.channels_in * h * w;
    let count = images.len() / image_len.max(1);
    let cols = band * count;
    for (tap, out_row) in col.chunks_exact_mut(cols).enumerate() {
        let (channel, k) = (tap / 9, tap % 9);
        let (dy, dx) = (k / 3, k % 3);
        for (n, image) in images.chunks_exact(image_len).enumerate() {
            let plane = &image[channel * h * w..(channel + 1) * h * w];
            let out = &mut out_row[n * band..(n + 1) * band];
            for (r, out_line) in (row0..row1).zip(out.chunks_exact_mut(w)) {
                let source_row = r + dy;
                if source_row < 1 || source_row > h {
                    out_line.fill(0.0);
                    continue;
                }
                let line = &plane[(source_row - 1) * w..source_row * w];
                // Output column c reads input column c + dx − 1.
                match dx {
                    0 => {
                        out_line[0] = 0.0;
                        out_line[1..].copy_from_slice(&line[..w - 1]);
                    }
                    1 => out_line.copy_from_slice(line),
                    _ => {
                        out_line[..w - 1].copy_from_slice(&line[1..]);
                        out_line[w - 1] = 0.0;
                    }
                }
            }
        }
    }
}

/// One band of output rows of a task's images: `start` = its first pixel within an image,
/// `band` = its pixels per image, `cols` = `band · images`, and its im2col tile (`9·c_in × cols`).
struct Band<'a> {
    start: usize,
    band: usize,
    cols: usize,
    col: &'a [f32],
}

/// Calls `each` for every band of `tiling.rows` output rows of the images in `x_chunk` (the
/// last band may be shorter), with the band's im2col built in `col`.
fn for_each_band(
    x_chunk: &[f32],
    images: usize,
    shape: &ConvShape,
    tiling: Tiling,
    col: &mut Vec<f32>,
    mut each: impl FnMut(Band<'_>),
) {
    let mut row0 = 0;
    while row0 < shape.height {
        let row1 = (row0 + tiling.rows).min(shape.height);
        let band = (row1 - row0) * shape.width;
        let cols = band * images;
        col.resize(shape.taps() * cols, 0.0);
        im2col(x_chunk, shape, row0, row1, col);
        each(Band {
            start: row0 * shape.width,
            band,
            cols,
            col,
        });
        row0 = row1;
    }
}

thread_local! {
    /// Each worker's im2col tile and product buffer, kept between calls: the tiles are megabytes,
    /// and fresh ones every call cost page faults.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// `y = conv(x, weight) + bias` (`x`: `[b, c_in, h, w]`, `weight`: `[c_out, c_in, 3, 3]`,
/// `bias`: `[c_out]`), returned as `[b, c_out, h, w]`: by Winograd's F(2×2, 3×3) where it
/// applies ([`winograd::applies`]), else by im2col.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, shape: &ConvShape) -> Vec<f32> {
    if winograd::applies(shape) {
        winograd::forward(x, weight, bias, shape)
    } else {
        forward_im2col(x, weight, bias, shape)
    }
}

/// [`forward`] by im2col tiles times the weight matrix.
pub fn forward_im2col(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    shape: &ConvShape,
) -> Vec<f32> {
    let (c_out, taps, pixels) = (shape.channels_out, shape.taps(), shape.pixels());
    assert_eq!(
        x.len(),
        shape.batch * shape.channels_in * pixels,
        "conv3x3: input size"
    );
    assert_eq!(weight.len(), c_out * taps, "conv3x3: weight size");
    let mut y = vec![0.0f32; shape.batch * c_out * pixels];
    if y.is_empty() {
        return y;
    }
    let w = MatRef::row_major(weight, c_out, taps);
    let tiling = Tiling::of(shape.batch, shape.height, shape.width, TILE_COLUMNS);
    let in_len = shape.channels_in * pixels;
    let out_len = c_out * pixels;
    let bias_of = |o: usize| bias.map_or(0.0, |b| b[o]);
    y.par_chunks_mut(out_len * tiling.images)
        .zip(x.par_chunks(in_len * tiling.images))
        .for_each(|(y_chunk, x_chunk)| {
            SCRATCH.with_borrow_mut(|(col, product)| {
                let images = y_chunk.len() / out_len;
                for_each_band(x_chunk, images, shape, tiling, col, |b| {
                    let col_view = MatRef::row_major(b.col, taps, b.cols);
                    if images == 1 {
                        // Straight into the output rows of this band: channel o's pixels
                        // start .. start + band, one channel every `pixels`.
                        for o in 0..c_out {
                            let from = o * pixels + b.start;
                            y_chunk[from..from + b.band].fill(bias_of(o));
                        }
                        matmul_into(&mut y_chunk[b.start..], pixels, w, col_view, true);
                    } else {
                        product.clear();
                        (0..c_out)
                            .for_each(|o| product.extend(std::iter::repeat_n(bias_of(o), b.cols)));
                        matmul(product, w, col_view, true);
                        // Scatter the tile's columns back into each image's output.
                        for (n, y_image) in y_chunk.chunks_exact_mut(out_len).enumerate() {
                            for (o, row) in product.chunks_exact(b.cols).enumerate() {
                                y_image[o * pixels..o * pixels + b.band]
                                    .copy_from_slice(&row[n * b.band..(n + 1) * b.band]);
                            }
                        }
                    }
                });
            });
        });
    y
}

/// The kernel whose forward pass gives the input gradient:
/// `w'[i, o, ky, kx] = w[o, i, 2 − ky, 2 − kx]` (`[c_in, c_out, 3, 3]`).
pub fn input_grad_weight(weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    let (c_in, c_out) = (shape.channels_in, shape.channels_out);
    let mut flipped = vec![0.0f32; weight.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            let from = &weight[(o * c_in + i) * 9..(o * c_in + i + 1) * 9];
            let to = &mut flipped[(i * c_out + o) * 9..(i * c_out + o + 1) * 9];
            for (k, value) in from.iter().enumerate() {
                to[8 - k] = *value;
            }
        }
    }
    flipped
}

/// `dx` for `dy` (`[b, c_out, h, w]`): `[b, c_in, h, w]`.
pub fn input_grad(dy: &[f32], weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    forward(
        dy,
        &input_grad_weight(weight, shape),
        None,
        &shape.transposed(),
    )
}

/// `(dw, db)` for input `x` and output gradient `dy`: `[c_out, c_in, 3, 3]` and `[c_out]`, by
/// im2col: `dw = dy · colᵀ` (see [`winograd`] for why not by Winograd).
pub fn weight_grads(x: &[f32], dy: &[f32], shape: &ConvShape) -> (Vec<f32>, Vec<f32>) {
    let (c_out, taps, pixels) = (shape.channels_out, shape.taps(), shape.pixels());
    assert_eq!(
        x.len(),
        shape.batch * shape.channels_in * pixels,
        "conv3x3: input size"
    );
    assert_eq!(
        dy.len(),
        shape.batch * c_out * pixels,
        "conv3x3: gradient size"
    );
    let tiling = Tiling::of(shape.batch, shape.height, shape.width, TILE_COLUMNS);
    let in_len = shape.channels_in * pixels;
    let out_len = c_out * pixels;
    let zero = || (vec![0.0f32; c_out * taps], vec![0.0f32; c_out]);
    if x.is_empty() || dy.is_empty() {
        return zero();
    }
    dy.par_chunks(out_len * tiling.images)
        .zip(x.par_chunks(in_len * tiling.images))
        .fold(zero, |(mut dw, mut db), (dy_chunk, x_chunk)| {
            SCRATCH.with_borrow_mut(|(col, gathered)| {
                let images = dy_chunk.len() / out_len;
                for_each_band(x_chunk, images, shape, tiling, col, |b| {
                    // The tile's gradient as c_out × cols: a view of dy for one image, else
                    // gathered with the images side by side as in the im2col.
                    let g = if images == 1 {
                        MatRef::strided(&dy_chunk[b.start..], c_out, b.band, pixels)
                    } else {
                        gathered.resize(c_out * b.cols, 0.0);
                        for (o, row) in gathered.chunks_exact_mut(b.cols).enumerate() {
                            for (n, dy_image) in dy_chunk.chunks_exact(out_len).enumerate() {
                                row[n * b.band..(n + 1) * b.band]
                                    .copy_from_slice(&dy_image[o * pixels..o * pixels + b.band]);
                            }
                        }
                        MatRef::row_major(gathered, c_out, b.cols)
                    };
                    for (o, total) in db.iter_mut().enumerate() {
                        *total += (0..images)
                            .map(|n| {
                                let from = n * out_len + o * pixels + b.start;
                                dy_chunk[from..from + b.band].iter().sum::<f32>()
                            })
                            .sum::<f32>();
                    }
                    matmul(&mut dw, g, MatRef::row_major(b.col, taps, b.cols).t(), true);
                });
            });
            (dw, db)
        })
        .reduce(zero, |(mut dw, mut db), (dw2, db2)| {
            dw.iter_mut().zip(&dw2).for_each(|(a, b)| *a += b);
            db.iter_mut().zip(&db2).for_each(|(a, b)| *a += b);
            (dw, db)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::conv::reference::{direct, values};
    use ndarray::Axis;

    /// Sums a `[b, c, h, w]` tensor over all but the channel axis: the bias gradient by ndarray.
    fn channel_sums(values: &[f32], batch: usize, channels: usize) -> Vec<f32> {
        let per = values.len() / (batch * channels).max(1);
        let view =
            ndarray::ArrayView3::from_shape((batch, channels, per), values).expect("b × c × hw");
        view.sum_axis(Axis(2)).sum_axis(Axis(0)).to_vec()
    }

    fn shapes() -> Vec<ConvShape> {
        let s = |batch, channels_in, channels_out, height, width| ConvShape {
            batch,
            channels_in,
            channels_out,
            height,
            width,
        };
        // One image in several row bands, several small images per tile, a 1-pixel-wide image.
        vec![
            s(2, 3, 5, 40, 24),
            s(7, 4, 2, 5, 6),
            s(3, 2, 3, 4, 1),
            s(1, 1, 1, 1, 1),
        ]
    }

    #[test]
    fn forward_matches_the_definition() {
        for s in shapes() {
            let x = values(s.batch * s.channels_in * s.pixels(), 1);
            let w = values(s.channels_out * s.taps(), 2);
            let bias = values(s.channels_out, 3);
            let fast = forward(&x, &w, Some(&bias), &s);
            let slow = direct(&x, &w, &bias, &s);
            let worst = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (f64::from(*a) - b).abs());
            assert!(worst.fold(0.0, f64::max) < 1e-4, "{s:?}");
        }
    }

    /// Gradients checked as adjoints: <conv(x), dy> = <x, dx(dy)> and = <w, dw(x, dy)> + <b, db>.
    #[test]
    fn gradients_are_the_adjoints_of_the_forward() {
        for s in shapes() {
            let x = values(s.batch * s.channels_in * s.pixels(), 4);
            let w = values(s.channels_out * s.taps(), 5);
            let bias = values(s.channels_out, 6);
            let dy = values(s.batch * s.channels_out * s.pixels(), 7);
            let dot = |a: &[f32], b: &[f32]| {
                a.iter()
                    .zip(b)
                    .map(|(p, q)| f64::from(*p) * f64::from(*q))
                    .sum::<f64>()
            };
            let y_without_bias = forward(&x, &w, None, &s);
            let y = forward(&x, &w, Some(&bias), &s);
            let dx = input_grad(&dy, &w, &s);
            let (dw, db) = weight_grads(&x, &dy, &s);
            let lhs = dot(&y_without_bias, &dy);
            let scale = lhs.abs().max(1.0);
            assert!(
                (lhs - dot(&x, &dx)).abs() < 1e-4 * scale,
                "input grad {s:?}"
            );
            assert!(
                (lhs - dot(&w, &dw)).abs() < 1e-4 * scale,
                "weight grad {s:?}"
            );
            assert!(
                (dot(&y, &dy) - lhs - dot(&bias, &db)).abs() < 1e-4 * scale,
                "bias {s:?}"
            );
            let sums = channel_sums(&dy, s.batch, s.channels_out);
            assert!(
                sums.iter().zip(&db).all(|(a, b)| (a - b).abs() < 1e-3),
                "db {s:?}"
            );
        }
    }
}
