#!/usr/bin/env python3
"""Probes side by side, one row each: log |P| (three decades), the phase where |P| is above 5 % of
its peak, log |F P| (four decades, the far field the probe alone would give) and the far field's
phase where it is bright. For comparing a file's probe, ePIE's refined one and a model's learned
one (docs/measured-scans.md).

    python3 scripts/probe-views.py OUT.png PROBE.npz [PROBE.npz ...]

Each file may be a scan, a `*_reconstruction.npz` or a model's `probe.npz`: its `probeGuess`
(mode 0 of a stack) is used.
"""
import sys

import numpy as np
from PIL import Image


def views(probe):
    a = np.abs(probe) / np.abs(probe).max()
    magnitude = np.log10(np.maximum(a, 1e-3)) / 3 + 1
    phase = (np.angle(probe) + np.pi) / (2 * np.pi) * (a > 0.05)
    far = np.fft.fftshift(np.fft.fft2(probe))
    f = np.abs(far) / np.abs(far).max()
    far_magnitude = np.log10(f + 1e-4) / 4 + 1
    far_phase = (np.angle(far) + np.pi) / (2 * np.pi) * (far_magnitude > 0.5)
    return np.concatenate([magnitude, phase, far_magnitude, far_phase], axis=1)


def main():
    out, paths = sys.argv[1], sys.argv[2:]
    rows = []
    for path in paths:
        probe = np.squeeze(np.load(path)["probeGuess"])
        if probe.ndim == 3:
            probe = probe[0]
        rows.append(views(probe))
    image = np.clip(np.concatenate(rows, axis=0), 0, 1)
    Image.fromarray((image * 255).astype(np.uint8)).save(out)


if __name__ == "__main__":
    main()
