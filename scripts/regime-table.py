#!/usr/bin/env python3
"""The regime table from `scripts/regimes`' runs: the network and ePIE against the truth, per
dose and per overlap, as Markdown.

    python3 scripts/regime-table.py [--short] [out/regimes]

--short: amplitude / phase Pearson only (the README's table).
"""
import json
import sys
from pathlib import Path


SHORT = False


def figures(evaluation):
    if not evaluation:
        return "–"
    if SHORT:
        return f"{evaluation['amplitude']['pearson']:.3f} / {evaluation['phase']['pearson']:.3f}"
    a, p = evaluation["amplitude"], evaluation["phase"]
    frc = p.get("frc_half_bit")
    frc = f"{frc:.2f}" if frc is not None else "–"
    return f"{a['pearson']:.3f} / {p['pearson']:.3f} / {p['ssim']:.3f} / {frc}"


def row(name, report, wider_epie):
    scan = report.get("scan") or {}
    network = report["evaluations"][-1]["illuminated"]
    # The best of ePIE's runs: beside the network, and later `--epie-only` ones (more sweep
    # counts; the probe fixed).
    candidates = [
        dict(r["epie"], refined=r.get("probe_refined", True))
        for r in [report, *wider_epie]
        if r.get("epie")
    ]
    epie = max(
        candidates,
        key=lambda e: (e.get("illuminated") or {}).get("phase", {}).get("pearson", -2),
        default={},
    )
    how = "{}{}".format(epie.get("sweeps", "–"), "" if epie.get("refined", True) else ", probe fixed")
    gap = None
    if network and epie.get("illuminated"):
        gap = network["phase"]["pearson"] - epie["illuminated"]["phase"]["pearson"]
    overlap = scan.get("linear_overlap")
    return "| {} | {} | {:.0e} | {} | {} | {} | {} ({}) | {} |".format(
        name,
        scan.get("scan", "–"),
        scan.get("photons", float("nan")),
        scan.get("positions", "–"),
        f"{100 * overlap:.0f} %" if overlap is not None else "–",
        figures(network),
        figures(epie.get("illuminated")),
        how,
        f"{gap:+.3f}" if gap is not None else "–",
    )


def main():
    global SHORT
    args = sys.argv[1:]
    SHORT = "--short" in args
    args = [a for a in args if a != "--short"]
    root = Path(args[0] if args else "out/regimes")
    runs = sorted(p for p in root.glob("*/quality.json"))
    what = "amplitude / phase Pearson" if SHORT else (
        "amplitude / phase Pearson / phase SSIM / phase FRC ½-bit")
    print(f"| run | scan | photons | positions | overlap (1 − d/D) | network: {what} | "
          "ePIE, its best: the same (sweeps) | phase Pearson, network − ePIE |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in runs:
        wider = [json.loads(p.read_text()) for p in sorted(path.parent.glob("epie*.json"))]
        print(row(path.parent.name, json.loads(path.read_text()), wider))


if __name__ == "__main__":
    main()
