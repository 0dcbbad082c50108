"""The README's Results table says what the committed evaluation and run files say."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
# README table row -> (evaluation file, model name in it); each model has models/<name>.run.json.
README_ROWS = {
    "BCE (ours, shipped: one 7-minute cycle on a GPU)": ("evaluation.json", "bce"),
    "CCE (ours, shipped: same recipe)": ("evaluation.json", "cce"),
    "BCE, shipped model fine-tuned on the CPU, weight decay 0.5 (`bce-tuned`)": (
        "evaluation-tuned.json",
        "bce-tuned",
    ),
    "BCE, three cycles on the 2-core CPU (`bce-cpu`)": ("evaluation-cpu.json", "bce-cpu"),
    "CCE, three cycles on the 2-core CPU (`cce-cpu`)": ("evaluation-cpu.json", "cce-cpu"),
    "BCE, article recipe (ours, same budget)": ("evaluation-article.json", "bce-article"),
    "BCE, one 44.6-minute cycle, batch 32 (ours, within 45 min)": (
        "evaluation-45min-b32.json",
        "bce-45min-b32",
    ),
    "BCE, one 110-minute cycle, batch 32, weight decay 0.5 (ours)": (
        "evaluation-wd0.5-cpu.json",
        "bce-wd0.5-cpu",
    ),
    "BCE, one 5-epoch cycle, batch 64 (ours)": ("evaluation-45min-b64.json", "bce-45min-b64"),
    "BCE, one 5-epoch cycle, batch 128 (ours, 45k composites per epoch)": (
        "evaluation-45min.json",
        "bce-45min",
    ),
}


def table_rows(markdown: str) -> dict[str, list[str]]:
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells
    return rows


def test_table_rows_parse_bold_cells():
    rows = table_rows("| model | a |\n|---|---|\n| BCE | **50.12%** |\n")
    assert rows["BCE"] == ["BCE", "50.12%"]


@pytest.mark.parametrize("label", list(README_ROWS))
def test_readme_results_match_the_committed_evaluation(label):
    file_name, name = README_ROWS[label]
    if not (MODELS / file_name).exists():
        pytest.skip(f"no {file_name} yet")
    result = json.loads((MODELS / file_name).read_text())["models"][name]
    run = json.loads((MODELS / f"{name}.run.json").read_text())
    rows = table_rows((ROOT / "README.md").read_text())
    assert label in rows, f"README's Results table has no row {label!r}"
    model, exact, per_label, micro, macro, average_precision, *_, training = rows[label]
    assert exact == f"{result['exact_match']:.2%}"
    assert per_label == f"{result['per_label_accuracy']:.2%}"
    assert micro == f"{result['micro_f1']:.3f}"
    assert macro == f"{result['macro_f1']:.3f}"
    assert average_precision == f"{result['mean_average_precision']:.3f}"
    assert training.startswith(f"{run['epochs_done']} epochs, {run['train_minutes']:.1f} min")
