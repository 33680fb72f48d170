#!/usr/bin/env python3
"""Where in the diffraction pattern a reconstruction fails to explain a scan: the Poisson
deviance per detector pixel, averaged over the scan's positions and binned by the distance from
the pattern's centre (spatial frequency), for each reconstruction given. A diagnosis for the
network's missing detail (docs/quality.md), not a metric of the program's.

    python3 scripts/residual-by-q.py SCAN.npz LABEL=RECONSTRUCTION.npz [LABEL=RECONSTRUCTION.npz ...]

The far field of each position is |fft2(P · O_patch)|² with the reconstruction's own probe, its
object read bilinearly at the scan's positions (as `metrics::residual` reads it), and one
global intensity scale fitted to the counts (the file's amplitudes squared). Bins are in
fractions of the Nyquist radius N/2; the last column is the share of the measured photons there.
"""
import sys

import numpy as np


def patch(obj, origin, pos, n):
    x0, y0 = pos[0] - n / 2 - origin[0], pos[1] - n / 2 - origin[1]
    fx, fy = np.floor(x0), np.floor(y0)
    tx, ty = x0 - fx, y0 - fy
    pad = np.pad(obj, n + 2)
    r, c = int(fy) + n + 2, int(fx) + n + 2
    a = pad[r:r + n + 1, c:c + n + 1]
    return ((1 - ty) * (1 - tx) * a[:-1, :-1] + (1 - ty) * tx * a[:-1, 1:]
            + ty * (1 - tx) * a[1:, :-1] + ty * tx * a[1:, 1:])


def deviance_map(scan, rec):
    counts = scan["diff3d"].astype(float) ** 2
    m, n, _ = counts.shape
    obj, probe = rec["objectGuess"], np.squeeze(rec["probeGuess"])
    if probe.ndim == 3:
        probe = probe[0]
    origin = (float(rec["origin_x_px"]), float(rec["origin_y_px"]))
    positions = np.stack([scan["xcoords"], scan["ycoords"]], axis=1)
    model = np.empty_like(counts)
    for j, pos in enumerate(positions):
        far = np.fft.fftshift(np.fft.fft2(probe * patch(obj, origin, pos, n)))
        model[j] = np.abs(far) ** 2
    model *= counts.sum() / model.sum()
    model = np.maximum(model, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        klogk = np.where(counts > 0, counts * np.log(counts / model), 0.0)
    return (2 * (klogk - (counts - model))).mean(axis=0), counts.mean(axis=0)


def main():
    scan = np.load(sys.argv[1])
    runs = [arg.split("=", 1) for arg in sys.argv[2:]]
    n = scan["diff3d"].shape[1]
    yy, xx = np.mgrid[0:n, 0:n] - n // 2
    radius = np.hypot(xx, yy) / (n / 2)
    edges = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5]
    maps = [(label, *deviance_map(scan, np.load(path))) for label, path in runs]
    photons = maps[0][2]
    print("| \\|q\\| / Nyquist | " + " | ".join(label for label, *_ in maps) + " | photons there |")
    print("| --- |" + " --- |" * (len(maps) + 1))
    for lo, hi in zip(edges[:-1], edges[1:]):
        ring = (radius >= lo) & (radius < hi)
        row = " | ".join(f"{dev[ring].mean():.2f}" for _, dev, _ in maps)
        print(f"| {lo}–{hi} | {row} | {photons[ring].sum() / photons.sum():.1%} |")
    row = " | ".join(f"{dev.mean():.2f}" for _, dev, _ in maps)
    print(f"| all | {row} | 100 % |")


if __name__ == "__main__":
    main()
