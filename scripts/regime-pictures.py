#!/usr/bin/env python3
"""Side-by-side phase pictures of `scripts/regimes` runs: for each run directory, the network's
phase and ePIE's best (the variant, probe refined or fixed, whose best count scored highest, as
`scripts/regime-table.py` chooses), labelled, one row per run.

    python3 scripts/regime-pictures.py OUT.png out/regimes/dose-1e3 out/regimes/overlap-raster-0.1
"""
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw


def best_epie(run):
    """The prefix of ePIE's best variant in `run`: `epie` or `epie_fixed_probe`."""
    def phase(path):
        if not path.exists():
            return -2.0
        epie = json.loads(path.read_text()).get("epie") or {}
        return ((epie.get("illuminated") or {}).get("phase") or {}).get("pearson", -2.0)
    refined = max(phase(run / "quality.json"), phase(run / "epie.json"))
    return "epie_fixed_probe" if phase(run / "epie_fixed_probe.json") > refined else "epie"


def main():
    out, runs = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    rows = []
    for run in runs:
        pair = [Image.open(run / f"{prefix}_phase.png").convert("RGB")
                for prefix in ("reconstructed", best_epie(run))]
        rows.append((run.name, pair))
    width = max(sum(im.width for im in pair) for _, pair in rows) + 10
    label = 22
    height = sum(max(im.height for im in pair) + label for _, pair in rows)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    y = 0
    for name, (network, epie) in rows:
        draw.text((4, y + 4), f"{name}: network", fill="black")
        draw.text((network.width + 14, y + 4), f"{name}: ePIE (best count)", fill="black")
        canvas.paste(network, (0, y + label))
        canvas.paste(epie, (network.width + 10, y + label))
        y += max(network.height, epie.height) + label
    canvas.save(out)
    print(f"wrote {out} ({canvas.width} × {canvas.height})")


if __name__ == "__main__":
    main()
