//! Small geometry shared by the data layer, the metrics and the stitcher: bounding boxes of scan
//! positions and bilinear sampling with zero fill.

use ndarray::ArrayRef2;
use num_complex::Complex32;

/// `[min_x, max_x, min_y, max_y]` of `[x, y]` positions; `None` when there are none (or any is
/// not finite).
pub fn bounding_box(positions_px: &[[f64; 2]]) -> Option<[f64; 4]> {
    let first = positions_px.first()?;
    let bounds = positions_px
        .iter()
        .fold([first[0], first[0], first[1], first[1]], |b, p| {
            [
                b[0].min(p[0]),
                b[1].max(p[0]),
                b[2].min(p[1]),
                b[3].max(p[1]),
            ]
        });
    bounds.iter().all(|v| v.is_finite()).then_some(bounds)
}

/// The value of `image` at fractional (row, col) by bilinear interpolation; pixels outside the
/// image count as zero.
pub fn bilinear_sample(image: &ArrayRef2<Complex32>, row: f64, col: f64) -> Complex32 {
    let (h, w) = image.dim();
    let (r0, c0) = (row.floor(), col.floor());
    let (fy, fx) = ((row - r0) as f32, (col - c0) as f32);
    let (r0, c0) = (r0 as i64, c0 as i64);
    let at = |r: i64, c: i64| -> Complex32 {
        if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w {
            image[[r as usize, c as usize]]
        } else {
            Complex32::default()
        }
    };
    at(r0, c0) * ((1.0 - fy) * (1.0 - fx))
        + at(r0, c0 + 1) * ((1.0 - fy) * fx)
        + at(r0 + 1, c0) * (fy * (1.0 - fx))
        + at(r0 + 1, c0 + 1) * (fy * fx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn bounds_and_samples() {
        assert_eq!(
            bounding_box(&[[1.0, 5.0], [-2.0, 7.5]]),
            Some([-2.0, 1.0, 5.0, 7.5])
        );
        assert_eq!(bounding_box(&[]), None);
        let img = Array2::from_shape_fn((3, 3), |(r, c)| Complex32::new((r * 3 + c) as f32, 0.0));
        assert_eq!(bilinear_sample(&img, 0.5, 0.5).re, 2.0);
        assert_eq!(
            bilinear_sample(&img, 2.0, 2.5).re,
            4.0,
            "half of 8, half of the zero outside"
        );
    }
}
