#!/usr/bin/env python3
"""Writes the HDF5 test fixtures in tests/fixtures/hdf5/ (committed, so tests and CI need no
Python): a CXI file, an Eiger/NeXus master with two linked data files (bitshuffle+LZ4 and LZ4)
and a dangling link, a virtual-dataset master over the same files, an odd-sized u16 stack, a
stack compressed with a filter we do not decode, the positions sidecars, raw compressed chunks for the decoders' unit tests, and checksums of every
frame as h5py reads it.

Needs h5py, hdf5plugin and numpy (pip install h5py hdf5plugin numpy), and two scans written by
our own simulator:

  ptychostudio simulate --output /tmp/fx-a.npz --n 64 --object-size 128 --raster-step 8 \
      --nphotons 1e5 --seed 3
  ptychostudio simulate --output /tmp/fx-b.npz --n 64 --object-size 128 --raster-step 8 \
      --nphotons 2e4 --seed 4
  python3 scripts/hdf5-fixtures.py /tmp/fx-a.npz /tmp/fx-b.npz tests/fixtures/hdf5
"""

import json
import os
import sys

import h5py
import hdf5plugin
import numpy as np

ENERGY_EV = 8000.0
DISTANCE_M = 2.0
PIXEL_M = 75e-6
N = 64
# λ = hc / E; object pixel = λ z / (N p).
WAVELENGTH_M = 1.239841984e-6 / ENERGY_EV
OBJECT_PIXEL_M = WAVELENGTH_M * DISTANCE_M / (N * PIXEL_M)
EV_TO_J = 1.602176634e-19
# Eiger frames larger than N, the beam off the middle.
FRAME_ROWS, FRAME_COLS = 80, 72
TOP, LEFT = 7, 5


def counts_of(scan):
    return np.rint(scan["diff3d"].astype(np.float64) ** 2).astype(np.uint32)


def checksums(frames):
    """Exact integer checksums per frame: the sum and the index-weighted sum."""
    out = []
    for f in frames:
        flat = f.astype(np.uint64).ravel()
        weights = np.arange(1, flat.size + 1, dtype=np.uint64)
        out.append([int(flat.sum()), int((flat * weights).sum())])
    return out


def write_cxi(path, scan, counts):
    with h5py.File(path, "w") as f:
        f.attrs["cxi_version"] = 150
        e = f.create_group("entry_1")
        d = e.create_group("data_1")
        d.create_dataset("data", data=counts, chunks=(1, N, N), compression="gzip")
        x_m = scan["xcoords"] * OBJECT_PIXEL_M
        y_m = scan["ycoords"] * OBJECT_PIXEL_M
        d.create_dataset("translation", data=np.stack([x_m, y_m, 0 * x_m], axis=1))
        det = e.create_group("instrument_1/detector_1")
        det["distance"] = DISTANCE_M
        det["x_pixel_size"] = PIXEL_M
        det["y_pixel_size"] = PIXEL_M
        mask = np.zeros((N, N), dtype=np.uint32)
        mask[3, 5] = 1  # one bad pixel
        det["mask"] = mask
        src = e.create_group("instrument_1/source_1")
        src["energy"] = ENERGY_EV * EV_TO_J
        src["illumination"] = scan["probeGuess"].astype(np.complex64)


def eiger_frames(counts):
    frames = np.zeros((counts.shape[0], FRAME_ROWS, FRAME_COLS), dtype=np.uint32)
    frames[:, TOP:TOP + N, LEFT:LEFT + N] = counts
    return frames


def write_eiger(out, scan, counts):
    frames = eiger_frames(counts)
    half = frames.shape[0] // 2
    parts = [
        ("eiger_data_000001.h5", frames[:half], hdf5plugin.Bitshuffle(nelems=0, cname="lz4")),
        ("eiger_data_000002.h5", frames[half:], hdf5plugin.LZ4()),
    ]
    for name, part, compression in parts:
        with h5py.File(os.path.join(out, name), "w") as f:
            f.create_dataset(
                "entry/data/data", data=part, chunks=(1, FRAME_ROWS, FRAME_COLS), **compression
            )
    def geometry(f):
        det = f.create_group("entry/instrument/detector")
        det["detector_distance"] = DISTANCE_M
        det["x_pixel_size"] = PIXEL_M
        det["y_pixel_size"] = PIXEL_M
        det["beam_center_x"] = float(LEFT + N // 2)
        det["beam_center_y"] = float(TOP + N // 2)
        det["detectorSpecific/photon_energy"] = ENERGY_EV
    with h5py.File(os.path.join(out, "eiger_master.h5"), "w") as f:
        geometry(f)
        g = f.require_group("entry/data")
        g["data_000001"] = h5py.ExternalLink("eiger_data_000001.h5", "/entry/data/data")
        g["data_000002"] = h5py.ExternalLink("eiger_data_000002.h5", "/entry/data/data")
        # A data file the beamline did not copy: skipped with a note.
        g["data_000003"] = h5py.ExternalLink("eiger_data_000003.h5", "/entry/data/data")
    # The same frames through one virtual dataset.
    layout = h5py.VirtualLayout(shape=frames.shape, dtype=np.uint32)
    start = 0
    for name, part, _ in parts:
        source = h5py.VirtualSource(name, "entry/data/data", shape=part.shape)
        layout[start:start + part.shape[0]] = source
        start += part.shape[0]
    with h5py.File(os.path.join(out, "eiger_vds.h5"), "w") as f:
        geometry(f)
        f.create_virtual_dataset("entry/data/data", layout, fillvalue=0)
    # Positions in micrometres, as a stage logs them.
    with open(os.path.join(out, "eiger_positions.csv"), "w") as f:
        f.write("x_um,y_um\n")
        for x, y in zip(scan["xcoords"], scan["ycoords"]):
            f.write(f"{x * OBJECT_PIXEL_M * 1e6:.6f},{y * OBJECT_PIXEL_M * 1e6:.6f}\n")
    # Raw chunks for the decoders' unit tests, and what they decode to.
    for name, tag in [("eiger_data_000001.h5", "bshuf_lz4"), ("eiger_data_000002.h5", "lz4")]:
        with h5py.File(os.path.join(out, name), "r") as f:
            d = f["entry/data/data"]
            _, chunk = d.id.read_direct_chunk((0, 0, 0))
            with open(os.path.join(out, f"chunk_{tag}.bin"), "wb") as g:
                g.write(chunk)
            with open(os.path.join(out, f"chunk_{tag}.expected.bin"), "wb") as g:
                g.write(d[0].astype("<u4").tobytes())
    # Every frame as h5py reads it through the master.
    with h5py.File(os.path.join(out, "eiger_master.h5"), "r") as f:
        read = np.concatenate([f["entry/data/data_000001"][()], f["entry/data/data_000002"][()]])
    assert (read == frames).all()
    return checksums(read)


def write_odd(out, scan):
    """61 × 67 u16 frames, the beam not in the middle, no geometry: the user's flags give it."""
    counts = counts_of(scan)
    assert counts.max() < 65536
    frames = np.zeros((counts.shape[0], 61, 67), dtype=np.uint16)
    # Rows 2..62 of the pattern; columns padded by 2 on the left, 1 on the right.
    frames[:, :, 2:66] = counts[:, 2:63, :]
    with h5py.File(os.path.join(out, "odd_stack.h5"), "w") as f:
        f.create_dataset("exchange/data", data=frames, chunks=(4, 61, 67), compression="gzip")
    with open(os.path.join(out, "odd_positions.txt"), "w") as f:
        f.write("# scan positions, object pixels\nx_px y_px\n")
        for x, y in zip(scan["xcoords"], scan["ycoords"]):
            f.write(f"{x:.4f} {y:.4f}\n")


def write_unknown_filter(out):
    """A stack compressed with a filter we do not decode (Zstandard, 32015)."""
    with h5py.File(os.path.join(out, "unknown_filter.h5"), "w") as f:
        data = np.arange(4 * 8 * 8, dtype=np.uint16).reshape(4, 8, 8)
        f.create_dataset("exchange/data", data=data, chunks=(1, 8, 8), **hdf5plugin.Zstd())


def main():
    a, b, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    scan = np.load(a)
    counts = counts_of(scan)
    write_cxi(os.path.join(out, "scan.cxi"), scan, counts)
    sums = write_eiger(out, scan, counts)
    write_odd(out, np.load(b))
    write_unknown_filter(out)
    info = {
        "energy_ev": ENERGY_EV,
        "distance_m": DISTANCE_M,
        "pixel_m": PIXEL_M,
        "object_pixel_m": OBJECT_PIXEL_M,
        "frames": int(counts.shape[0]),
        "frame_shape": [FRAME_ROWS, FRAME_COLS],
        "window_top_left": [TOP, LEFT],
        "eiger_frame_checksums": sums,
        "h5py": h5py.__version__,
        "hdf5plugin": hdf5plugin.version,
    }
    with open(os.path.join(out, "fixtures.json"), "w") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
