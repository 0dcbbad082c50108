"""`python -m core.evaluate` reads the manifest and refuses a model it cannot evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, manifest_entry, tiny_arrays, write_batches, write_manifest

pytestmark = pytest.mark.slow  # each test starts `python -m core.evaluate`


def evaluate(folder, *arguments):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "core.evaluate", "--models", str(folder), *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    import keras

    from core.model import build_model

    folder = tmp_path_factory.mktemp("evaluate")
    keras.utils.set_random_seed(0)
    build_model().save(folder / "bce.keras")
    build_model(output="softmax").save(folder / "softmax.keras")
    entries = [
        manifest_entry("bce", "bce", "four-distinct", "#1565c0"),
        manifest_entry("softmax", "softmax", "four-distinct", "#2e7d32"),
    ]
    write_manifest(folder, entries)
    write_batches(folder / "cifar", tiny_arrays(per_class_test=3))
    return folder


def test_evaluates_the_manifest_and_merges_a_later_run(two_models, tmp_path):
    for file in two_models.glob("*.keras"):
        (tmp_path / file.name).write_bytes(file.read_bytes())
    (tmp_path / "models.json").write_text((two_models / "models.json").read_text())
    data = str(two_models / "cifar")
    first = evaluate(tmp_path, "--data", data, "--composites", "40")
    assert first.returncode == 0, first.stderr
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(report["models"]) == {"bce", "softmax"}
    assert report["models"]["softmax"]["loss"] == "softmax"
    objects = report["models"]["softmax"]["by_set"]["one_to_four"]["by_objects"]
    assert set(objects) == {"1", "2", "3", "4"} and "told_count_exact_match" in objects["1"]
    layouts = report["models"]["bce"]["by_layout"]  # as many composites as --composites
    assert list(layouts) == ["fill", "single", "scattered", "grid"]
    assert [layouts[layout]["composites"] for layout in layouts] == [40] * 4
    assert set(layouts["scattered"]["by_objects"]) == {"2", "3", "4"}
    aim = report["models"]["softmax"]["map_aim"]
    assert set(aim) == {"four_distinct", "one_to_four", "anywhere"}
    assert aim["four_distinct"]["maps"] == 40 * 4
    before = report["models"]["bce"]
    second = evaluate(tmp_path, "softmax", "--data", data, "--composites", "40")
    assert second.returncode == 0, second.stderr
    merged = json.loads((tmp_path / "evaluation.json").read_text())
    assert merged["models"]["bce"] == before and set(merged["models"]) == {"bce", "softmax"}


@pytest.mark.parametrize("fault", ["missing", "truncated", "foreign", "unknown name"])
def test_a_model_it_cannot_evaluate_ends_the_run_with_the_reason(two_models, tmp_path, fault):
    import keras

    (tmp_path / "models.json").write_text((two_models / "models.json").read_text())
    (tmp_path / "softmax.keras").write_bytes((two_models / "softmax.keras").read_bytes())
    good = (two_models / "bce.keras").read_bytes()
    arguments, expected = (
        [],
        {
            "missing": "bce.keras (bce) not found",
            "truncated": "bce.keras (bce) cannot be evaluated",
            "foreign": "not the network of core.model",
            "unknown name": "No model 'nope' in the manifest; it lists bce, softmax",
        }[fault],
    )
    if fault == "truncated":
        (tmp_path / "bce.keras").write_bytes(good[: len(good) // 3])
    elif fault == "foreign":
        other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        other.save(tmp_path / "bce.keras")
    elif fault == "unknown name":
        arguments = ["nope"]
    result = evaluate(tmp_path, *arguments, "--data", str(two_models / "cifar"))
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "evaluation.json").exists()
