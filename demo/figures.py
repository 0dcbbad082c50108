"""Render the README's training-curve figure from the models' history JSON.

python -m demo.figures --models models --out docs/training-curves.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import altair as alt

from demo import charts

LABELS = {"bce": "BCE", "cce": "CCE", "bce-article": "article recipe"}


def training_curves_figure(folder: Path, names=("bce", "cce", "bce-article")):
    histories = {}
    for name in names:
        path = folder / f"{name}.history.json"
        if path.exists():
            histories[name] = json.loads(path.read_text())
    if not histories:
        raise SystemExit(f"No *.history.json in {folder}; train a model first.")
    frame = charts.curves_frame(histories, LABELS)
    panels = []
    for metric, title in charts.CURVE_TITLES.items():
        floor = 4 * math.log(4) if metric == "loss" and "cce" in histories else None
        chart = charts.curves_chart(frame[frame.metric == metric], title, floor)
        panels.append(chart.properties(title=title, width=300))
    return alt.hconcat(*panels)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="models")
    parser.add_argument("--out", default="docs/training-curves.png")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    training_curves_figure(Path(args.models)).save(str(out), scale_factor=2)
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
