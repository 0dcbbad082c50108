"""The documents say what the committed JSON says, and their commands still work."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from core.evaluation import ARTICLE_RESULTS

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
EXPERIMENTS = ROOT / "docs" / "experiments"


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of every Markdown table row (bold marks removed), header rows included."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip().strip("*") for cell in line.strip().strip("|").split("|")])
    return rows


def headline_cells(result: dict) -> list[str]:
    """A model's numbers as the tables print them."""
    return [
        f"{result['exact_match']:.2%}",
        f"{result['per_label_accuracy']:.2%}",
        f"{result['micro_f1']:.3f}",
        f"{result['macro_f1']:.3f}",
        f"{result['mean_average_precision']:.3f}",
    ]


def has_row_with(markdown: str, cells: list[str]) -> bool:
    return any(row[1 : 1 + len(cells)] == cells for row in table_rows(markdown))


def test_table_rows_parse_bold_cells():
    assert table_rows("| model | a |\n|---|---|\n| BCE | **50.12%** |\n")[1] == ["BCE", "50.12%"]


def test_readme_results_are_the_shipped_evaluation():
    readme = (ROOT / "README.md").read_text()
    report = json.loads((MODELS / "evaluation.json").read_text())
    for name, result in report["models"].items():
        assert has_row_with(readme, headline_cells(result)), f"no README row with {name}'s numbers"
        best = result["best_threshold"]
        assert f"{best['threshold']:.2f} ({best['exact_match']:.2%})" in readme
    for numbers in ARTICLE_RESULTS.values():
        cells = [f"{numbers['exact_match']:.2%}", f"{numbers['per_label_accuracy']:.2%}"]
        assert has_row_with(readme, cells)
    chance = report["baselines"]["chance_exact_match"]
    assert has_row_with(
        readme, [f"{chance:.2%}", f"{report['baselines']['all_negative_per_label']:.2%}"]
    )


def test_the_experiment_record_keeps_every_evaluated_run():
    record = (ROOT / "docs" / "experiments.md").read_text()
    evaluations = [MODELS / "evaluation.json", *sorted(EXPERIMENTS.glob("evaluation-*.json"))]
    assert len(evaluations) > 1
    for path in evaluations:
        for name, result in json.loads(path.read_text())["models"].items():
            assert has_row_with(record, headline_cells(result)), f"{path.name}: {name}"
            run_file = MODELS / f"{name}.run.json"
            run_file = run_file if run_file.exists() else EXPERIMENTS / f"{name}.run.json"
            run = json.loads(run_file.read_text())
            assert f"{run['epochs_done']} epochs, {run['train_minutes']:.1f} min" in record


def readme_commands(module: str) -> list[list[str]]:
    """The arguments of every `python -m <module>` command in the README's code blocks."""
    commands, in_code = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        words = shlex.split(line.split("#", 1)[0]) if in_code and f"-m {module}" in line else []
        if words:
            commands.append(words[words.index(module) + 1 :])
    return commands


def test_the_readme_training_commands_parse():
    from core.train import parse_args

    commands = readme_commands("core.train")
    assert len(commands) >= 2
    for arguments in commands:
        config, init_from, _ = parse_args(arguments)
        assert config.name and (init_from == "scratch" or Path(init_from).is_file())


def test_the_readme_lists_every_lesson_step_with_its_link():
    from demo.lesson import STEPS

    readme = (ROOT / "README.md").read_text()
    for number, step in enumerate(STEPS, start=1):
        assert f"| {number}. {step.title} | `/?step={number}` |" in readme, step.title
    assert f"`/?step={len(STEPS) + 1}`" not in readme
