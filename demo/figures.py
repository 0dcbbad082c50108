"""Render the README's figures from the models' history JSON.

python -m demo.figures

Writes docs/training-curves.png (the models of models/models.json, a row per kind of training
data) and docs/recipe-comparison.png (the CPU recipe runs, from the experiment record in
docs/experiments/).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import altair as alt

from core.evaluation import ARTICLE_RESULTS
from demo import charts

LABELS = {  # the experiment record's runs; the shipped models are named by the manifest
    "bce-cpu": "BCE, three cycles, 18 epochs",
    "bce-article": "article recipe",
    "bce-45min": "BCE, 5-epoch cycle, batch 128",
    "bce-45min-b64": "BCE, 5-epoch cycle, batch 64",
    "bce-45min-b32": "BCE, 44.6-minute cycle, batch 32",
}
ARTICLE_BCE_EXACT_MATCH = ARTICLE_RESULTS["bce"]["exact_match"]
TARGET_MINUTES = 45  # the training time within which the fast recipe should pass the article


def read_histories(folder: Path, names) -> dict[str, dict]:
    histories = {}
    for name in names:
        path = folder / f"{name}.history.json"
        if path.exists():
            histories[name] = json.loads(path.read_text())
    if not histories:
        raise SystemExit(f"No *.history.json in {folder}; train a model first.")
    return histories


def training_curves_figure(folder: Path):
    """A row of curves (loss, exact match, per-label accuracy) per kind of training data."""
    from core.manifest import load_manifest

    manifest = load_manifest(folder)
    rows = []
    for family in manifest.families:
        entries = [e for e in manifest.in_family(family.data) if e.history and e.history.exists()]
        if not entries:
            continue
        histories = {e.name: json.loads(e.history.read_text()) for e in entries}
        labels = {e.name: e.label for e in entries}
        frame = charts.curves_frame(histories, labels, {e.name: e.colour for e in entries})
        categorical = any(e.kind.categorical for e in entries)
        panels = []
        for metric, title in charts.CURVE_TITLES.items():
            floor = 4 * math.log(4) if metric == "loss" and categorical else None
            chart = charts.curves_chart(frame[frame.metric == metric], title, floor)
            panels.append(chart.properties(title=f"{family.title}: {title}", width=300))
        rows.append(alt.hconcat(*panels))
    if not rows:
        raise SystemExit(f"No training history of the manifest's models in {folder}.")
    return alt.vconcat(*rows).resolve_scale(color="independent")


RECIPE_RUNS = ("bce-cpu", "bce-45min", "bce-45min-b64", "bce-45min-b32", "bce-article")


def recipe_comparison_figure(folder: Path, names=RECIPE_RUNS):
    """Validation exact match against training minutes: the recipes at equal wall-clock time."""
    histories = read_histories(folder, names)
    frame = charts.minutes_frame(histories, LABELS)
    chart = charts.minutes_chart(
        frame,
        "validation exact match",
        ARTICLE_BCE_EXACT_MATCH,
        f"article's BCE, its test set: {ARTICLE_BCE_EXACT_MATCH:.2%}",
        TARGET_MINUTES,
    )
    return chart.properties(
        width=640, title="Validation exact match against training time, same CPU"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="models", help="the shipped models' folder")
    parser.add_argument("--experiments", default="docs/experiments", help="the experiment record")
    parser.add_argument("--out", default="docs")
    args = parser.parse_args(argv)
    figures = {
        "training-curves.png": training_curves_figure(Path(args.models)),
        "recipe-comparison.png": recipe_comparison_figure(Path(args.experiments)),
    }
    for name, figure in figures.items():
        out = Path(args.out) / name
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.save(str(out), scale_factor=2)
        print(f"Wrote {out}")


if __name__ == "__main__":
    main()
