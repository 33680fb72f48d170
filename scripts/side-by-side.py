#!/usr/bin/env python3
"""Reconstructions side by side: amplitude on top, phase below, one column per file, each image
scaled to its own 1–99 % range over the pixels lit at least one probe's peak (from the file's
`illumination` map; unlit pixels black); halved when wider than 1600 px. For looking at
pictures, not for figures.

    python3 scripts/side-by-side.py OUT.png A_reconstruction.npz B_reconstruction.npz …
"""
import sys

import numpy as np
from PIL import Image


def column(path):
    data = np.load(path)
    obj = data["objectGuess"]
    lit = data["illumination"] >= 1.0 if "illumination" in data.files else np.ones(obj.shape, bool)
    rows = []
    for part in (np.abs, np.angle):
        values = part(obj).astype(float)
        lo, hi = np.percentile(values[lit], [1, 99])
        image = np.clip((values - lo) / (hi - lo + 1e-12), 0.0, 1.0)
        image[~lit] = 0.0
        rows.append((image * 255).astype(np.uint8))
    return np.concatenate(rows, axis=0)


def main():
    columns = [column(p) for p in sys.argv[2:]]
    height = max(c.shape[0] for c in columns)
    columns = [np.pad(c, ((0, height - c.shape[0]), (0, 6))) for c in columns]
    image = Image.fromarray(np.concatenate(columns, axis=1))
    if image.width > 1600:  # keep a page-wide picture small
        image = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
    image.save(sys.argv[1], optimize=True)


if __name__ == "__main__":
    main()
