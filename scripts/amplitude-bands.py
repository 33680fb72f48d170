#!/usr/bin/env python3
"""How far two reconstructions of one scan agree in amplitude, band by band: Pearson over the
pixels the reference lit at least T times one probe's peak, as they are and after a Gaussian
blur of s px applied to both (what agrees at coarser resolution), with the reference's own
relative spread beside. A diagnosis for the amplitude of the real Siemens star against ePIE
(docs/measured-scans.md), not a metric of the program's.

    python3 scripts/amplitude-bands.py NET_reconstruction.npz REFERENCE_reconstruction.npz

Both files are `*_reconstruction.npz` as `infer`, `epie` and `bench quality` write them; the
network's object is placed in the reference's frame at the nearest pixel (origins differ by
whole pixels in practice), and the threshold uses the reference's `illumination` map.
"""
import sys

import numpy as np

from image_stats import blur, pearson


def placed(values, origin, frame_origin, shape):
    """`values` (origin `origin`) on a NaN canvas of `shape` with origin `frame_origin`."""
    canvas = np.full(shape, np.nan)
    dx = int(round(origin[0] - frame_origin[0]))
    dy = int(round(origin[1] - frame_origin[1]))
    h, w = values.shape
    y0, y1 = max(0, dy), min(shape[0], h + dy)
    x0, x1 = max(0, dx), min(shape[1], w + dx)
    canvas[y0:y1, x0:x1] = values[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    return canvas


def main():
    net, ref = (np.load(p) for p in sys.argv[1:3])
    origin = lambda d: (float(d["origin_x_px"]), float(d["origin_y_px"]))
    reference = np.abs(ref["objectGuess"]).astype(float)
    network = placed(np.abs(net["objectGuess"]), origin(net), origin(ref), reference.shape)
    lit = ref["illumination"]
    inside = np.isfinite(network)
    filled = np.where(inside, network, np.nanmean(network))
    print("| lit ≥ (probe peaks) | pixels | Pearson | blurred 1 / 2 / 4 px | network spread | reference spread |")
    print("| --- | --- | --- | --- | --- | --- |")
    for threshold in (0.1, 1.0, 2.0):
        mask = inside & (lit >= threshold)
        blurred = [pearson(blur(filled, s)[mask], blur(reference, s)[mask]) for s in (1, 2, 4)]
        n, r = network[mask], reference[mask]
        print(
            f"| {threshold} | {mask.sum()} | {pearson(n, r):.3f} | "
            + " / ".join(f"{b:.3f}" for b in blurred)
            + f" | {n.std() / n.mean():.3f} | {r.std() / r.mean():.3f} |"
        )


if __name__ == "__main__":
    main()
