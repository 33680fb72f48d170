//! The convolution by its definition, for the kernels' tests.

use super::shape::ConvShape;

/// The definition, term by term, in f64.
pub fn direct(x: &[f32], w: &[f32], bias: &[f32], s: &ConvShape) -> Vec<f64> {
    let (h, wd) = (s.height as isize, s.width as isize);
    let mut y = vec![0.0f64; s.batch * s.channels_out * s.pixels()];
    for b in 0..s.batch {
        for o in 0..s.channels_out {
            for r in 0..h {
                for c in 0..wd {
                    let mut acc = f64::from(bias[o]);
                    for i in 0..s.channels_in {
                        for k in 0..9isize {
                            let (rr, cc) = (r + k / 3 - 1, c + k % 3 - 1);
                            if rr < 0 || rr >= h || cc < 0 || cc >= wd {
                                continue;
                            }
                            let xi = ((b * s.channels_in + i) as isize * h + rr) * wd + cc;
                            let wi = (o * s.channels_in + i) * 9 + k as usize;
                            acc += f64::from(w[wi]) * f64::from(x[xi as usize]);
                        }
                    }
                    y[((b * s.channels_out + o) as isize * h * wd + r * wd + c) as usize] = acc;
                }
            }
        }
    }
    y
}

/// A fixed, irregular sequence of `len` values in [-1, 1).
pub fn values(len: usize, seed: u32) -> Vec<f32> {
    // A fixed, irregular sequence in [-1, 1).
    (0..len)
        .map(|i| {
            let v = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(40_503));
            (v >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}
