#!/usr/bin/env python3
"""Writes a large Eiger-style scan for measuring memory against frames (docs/hdf5.md): a NeXus
master whose /entry/data/data_NNNNNN links point at data files of up to 1000 frames each
(u32, bitshuffle + LZ4, one chunk per frame, as an Eiger writes them), and a positions sidecar
on a raster (x_px,y_px).

  python3 scripts/big-hdf5.py OUT_DIR FRAMES [FRAME_SIZE]

The frames are Poisson counts of a disc's far field (an Airy pattern) at about 1e6 photons,
moved by a pixel or two from frame to frame; 64 distinct frames are cycled, since the content
does not matter for memory. Needs h5py, hdf5plugin and numpy.
"""

import os
import sys

import h5py
import hdf5plugin
import numpy as np

PER_FILE = 1000


def base_frames(size, count, rng):
    y, x = np.mgrid[:size, :size] - size / 2
    disc = (x**2 + y**2 < (size / 8) ** 2).astype(np.float64)
    far = np.abs(np.fft.fftshift(np.fft.fft2(disc))) ** 2
    far *= 1e6 / far.sum()
    out = []
    for k in range(count):
        shifted = np.roll(far, (k % 3 - 1, k // 3 % 3 - 1), axis=(0, 1))
        out.append(rng.poisson(shifted).astype(np.uint32))
    return out


def main():
    out_dir, frames = sys.argv[1], int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(1)
    bases = base_frames(size, 64, rng)
    master_path = os.path.join(out_dir, "big_master.h5")
    with h5py.File(master_path, "w") as master:
        data = master.create_group("entry/data")
        for f, start in enumerate(range(0, frames, PER_FILE)):
            count = min(PER_FILE, frames - start)
            name = f"big_data_{f + 1:06d}.h5"
            with h5py.File(os.path.join(out_dir, name), "w") as df:
                ds = df.create_dataset(
                    "entry/data/data",
                    shape=(count, size, size),
                    dtype=np.uint32,
                    chunks=(1, size, size),
                    **hdf5plugin.Bitshuffle(nelems=0, cname="lz4"),
                )
                for i in range(count):
                    ds[i] = bases[(start + i) % len(bases)]
            data[f"data_{f + 1:06d}"] = h5py.ExternalLink(name, "entry/data/data")
        det = master.create_group("entry/instrument/detector")
        det["beam_center_x"] = size / 2
        det["beam_center_y"] = size / 2
    side = int(np.ceil(np.sqrt(frames)))
    with open(os.path.join(out_dir, "big_positions.csv"), "w") as p:
        p.write("x_px,y_px\n")
        for i in range(frames):
            p.write(f"{size / 2 + 8 * (i % side)},{size / 2 + 8 * (i // side)}\n")
    print(master_path)


if __name__ == "__main__":
    main()
