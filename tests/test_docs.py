"""The README's Results table says what the committed evaluation and run files say."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
README_ROWS = {"bce": "BCE (ours, fast recipe)", "cce": "CCE (ours, fast recipe)"}


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


@pytest.mark.skipif(not (MODELS / "evaluation.json").exists(), reason="no evaluation yet")
def test_readme_results_match_the_committed_evaluation():
    report = json.loads((MODELS / "evaluation.json").read_text())
    rows = table_rows((ROOT / "README.md").read_text())
    for name, label in README_ROWS.items():
        result = report["models"][name]
        run = json.loads((MODELS / f"{name}.run.json").read_text())
        model, exact, per_label, micro, macro, average_precision, *_, training = rows[label]
        assert exact == f"{result['exact_match']:.2%}"
        assert per_label == f"{result['per_label_accuracy']:.2%}"
        assert micro == f"{result['micro_f1']:.3f}"
        assert macro == f"{result['macro_f1']:.3f}"
        assert average_precision == f"{result['mean_average_precision']:.3f}"
        assert training.startswith(f"{run['epochs_done']} epochs, {run['train_minutes']:.1f} min")
