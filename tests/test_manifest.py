"""models/models.json: the one list of models, loaded and checked."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import REPO, manifest_entry, write_manifest

from core.kinds import KINDS, Kind
from core.manifest import ManifestError, load_manifest


def good_entries():
    return [
        manifest_entry("bce", "bce", "four-distinct", "#1565c0", "BCE"),
        manifest_entry("softmax-one-to-four", "softmax", "one-to-four", "#81c784", "softmax 1-4"),
    ]


def test_a_manifest_loads_with_paths_under_its_folder(tmp_path):
    write_manifest(tmp_path, good_entries())
    manifest = load_manifest(tmp_path)
    assert [m.name for m in manifest.models] == ["bce", "softmax-one-to-four"]
    assert manifest.by_name("bce").file == tmp_path / "bce.keras"
    assert manifest.evaluation == tmp_path / "evaluation.json"
    assert [m.name for m in manifest.in_family("one-to-four")] == ["softmax-one-to-four"]
    assert manifest.colours() == {"BCE": "#1565c0", "softmax 1-4": "#81c784"}
    assert manifest.by_name("softmax-one-to-four").title.endswith(
        "softmax + categorical cross-entropy"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e[0].update(loss="hinge"), "unknown loss"),
        (lambda e: e[0].update(output="softmax"), "trains a sigmoid output"),
        (lambda e: e[0].update(data="five-objects"), "unknown data"),
        (lambda e: e[1].update(name="bce"), "model name 'bce' appears twice"),
        (lambda e: e[1].update(label="BCE"), "model label 'BCE' appears twice"),
        (lambda e: e[0].update(colour="blue"), "colour must be '#rrggbb'"),
        (lambda e: e[0].pop("file"), "lacks file"),
        (lambda e: e[0].update(name="Has Spaces"), "a name is lower-case"),
    ],
)
def test_a_wrong_entry_is_refused_with_a_clear_message(tmp_path, change, message):
    entries = good_entries()
    change(entries)
    write_manifest(tmp_path, entries)
    with pytest.raises(ManifestError, match=message):
        load_manifest(tmp_path)


def test_missing_unreadable_and_misshapen_manifests(tmp_path):
    with pytest.raises(ManifestError, match="No model manifest"):
        load_manifest(tmp_path)
    (tmp_path / "models.json").write_text('{"models": [')
    with pytest.raises(ManifestError, match="not readable JSON"):
        load_manifest(tmp_path)
    (tmp_path / "models.json").write_text("[]")
    with pytest.raises(ManifestError, match="list under 'models'"):
        load_manifest(tmp_path)
    (tmp_path / "models.json").write_text(json.dumps({"models": []}))
    with pytest.raises(ManifestError, match="no training-data family"):
        load_manifest(tmp_path)


def test_check_files_names_the_missing_file(tmp_path):
    write_manifest(tmp_path, good_entries())
    with pytest.raises(ManifestError, match="bce.keras, not found"):
        load_manifest(tmp_path, check_files=True)


def test_the_shipped_manifest_lists_three_losses_on_each_kind_of_data():
    manifest = load_manifest(REPO / "models")
    for family in manifest.families:
        assert sorted(m.loss for m in manifest.in_family(family.data)) == ["bce", "cce", "softmax"]
    assert len(set(manifest.colours().values())) == len(manifest.models)


def test_only_the_manifest_s_models_and_their_json_are_tracked():
    tracked = subprocess.run(
        ["git", "ls-files", "models"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    manifest = load_manifest(REPO / "models", check_files=True)
    expected = {"models/models.json", manifest.evaluation.relative_to(REPO).as_posix()}
    for model in manifest.models:
        for path in (model.file, model.history, model.run):
            expected.add(path.relative_to(REPO).as_posix())
    assert set(tracked.stdout.split()) == expected


def test_a_kind_added_to_the_table_is_a_loss_the_manifest_accepts(tmp_path, monkeypatch):
    kind = Kind("softmax", "softmax + hinge", "hinge", False, "binary_loss", KINDS["bce"].lab_loss)
    monkeypatch.setitem(KINDS, "hinge", kind)
    entries = [manifest_entry("hinge", "hinge", "four-distinct", "#1565c0", "hinge")]
    write_manifest(tmp_path, entries)
    assert load_manifest(tmp_path).by_name("hinge").kind.shares_one_unit
    entries[0]["output"] = "sigmoid"
    write_manifest(tmp_path, entries)
    with pytest.raises(ManifestError, match="'hinge' trains a softmax output, not 'sigmoid'"):
        load_manifest(tmp_path)
