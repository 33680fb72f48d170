#!/usr/bin/env python3
"""How much of a simulated object's fine detail a reconstruction has: Pearson against the truth
over the lit pixels, split into a coarse part (a Gaussian blur of 4 px) and the detail (the image
minus its blur of 4 and of 2 px), for amplitude and for phase (a least-squares phase plane removed
from both first). The measure behind docs/quality.md's "amplitude mosaic" table, kept as a script.

    python3 scripts/detail-bands.py RECONSTRUCTION.npz TRUTH.npz [LABEL]

RECONSTRUCTION is a `*_reconstruction.npz` as `infer`, `epie` and `bench quality` write it; TRUTH
is a scan file whose `objectGuess` is the true object, in the frame the positions are given in
(the reconstruction's `origin_x_px` / `origin_y_px` place it there, at the nearest pixel). The
lit pixels are those the reconstruction's `illumination` puts at 10 % of a probe's peak or more.
"""
import sys

import numpy as np

from image_stats import blur, pearson


def without_plane(phase, mask):
    """`phase` minus its least-squares plane over `mask` (the offset and ramp no method fixes)."""
    ys, xs = np.nonzero(mask)
    basis = np.stack([np.ones_like(xs), xs, ys], axis=1).astype(float)
    coef, *_ = np.linalg.lstsq(basis, phase[mask], rcond=None)
    yy, xx = np.mgrid[0:phase.shape[0], 0:phase.shape[1]]
    return phase - (coef[0] + coef[1] * xx + coef[2] * yy)


def bands(estimate, truth, mask):
    """Pearson: as it is, coarse (σ 4), detail σ 4, detail σ 2; blurs over the whole frame,
    with the pixels outside `mask` set to the estimate's (truth's) mean over it."""
    e = np.where(mask, estimate, estimate[mask].mean())
    t = np.where(mask, truth, truth[mask].mean())
    out = [pearson(e[mask], t[mask])]
    out.append(pearson(blur(e, 4)[mask], blur(t, 4)[mask]))
    for sigma in (4, 2):
        out.append(pearson((e - blur(e, sigma))[mask], (t - blur(t, sigma))[mask]))
    return out


def main():
    rec, truth_file = np.load(sys.argv[1]), np.load(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else sys.argv[1]
    obj, lit = rec["objectGuess"], rec["illumination"]
    ox, oy = int(round(float(rec["origin_x_px"]))), int(round(float(rec["origin_y_px"])))
    true_obj = truth_file["objectGuess"]
    # The part of the reconstruction the truth covers, in both frames.
    x0, y0 = max(0, -ox), max(0, -oy)
    x1 = min(obj.shape[1], true_obj.shape[1] - ox)
    y1 = min(obj.shape[0], true_obj.shape[0] - oy)
    if x1 <= x0 or y1 <= y0:
        sys.exit(f"the truth ({true_obj.shape}) and the reconstruction ({obj.shape} at origin "
                 f"{ox}, {oy}) do not overlap")
    obj, lit = obj[y0:y1, x0:x1], lit[y0:y1, x0:x1]
    truth = true_obj[oy + y0:oy + y1, ox + x0:ox + x1]
    mask = lit >= 0.1
    amp = bands(np.abs(obj), np.abs(truth), mask)
    phase = bands(without_plane(np.angle(obj), mask), without_plane(np.angle(truth), mask), mask)
    fmt = lambda v: " / ".join(f"{x:.3f}" for x in v)
    print("| run | amplitude: all / coarse σ4 / detail σ4 / detail σ2 | phase: the same |")
    print("| --- | --- | --- |")
    print(f"| {label} | {fmt(amp)} | {fmt(phase)} |")


if __name__ == "__main__":
    main()
