"""The Streamlit app, driven through `streamlit.testing.v1.AppTest`."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    MODELS,
    TEST_COLOURS,
    decision_panels,
    manifest_entry,
    predicted_sets,
    shown_models,
    start_app,
)
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.data import CLASS_NAMES
from demo import cache

APP = str(Path(__file__).resolve().parents[1] / "demo" / "app.py")
pytestmark = pytest.mark.slow  # every test here starts the app
COMMITTED = Path(__file__).resolve().parents[1] / "models"


def start(folder, monkeypatch, query=None) -> AppTest:
    return start_app(APP, folder, monkeypatch, query)


def markdown_starting(at, prefix):
    return [m.value for m in at.markdown if m.value.startswith(prefix)]


def results_table(at) -> dict[str, dict[str, str]]:
    """The test-set table (a Markdown table) as {row label: {column: cell}}."""
    text = next(m.value for m in at.markdown if m.value.startswith("| |"))
    lines = [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()]
    header, rows = lines[0], lines[2:]
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


def charts(at):
    return at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")


def test_app_runs_and_shows_three_losses_side_by_side(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    assert not at.exception
    assert not at.error
    # The sweep, per-class F1, by-count, three curves (tabs render all).
    assert len(charts(at)) >= 6
    (panel,) = decision_panels(at)
    assert [model["label"] for model in panel["models"]] == ["BCE", "CCE", "softmax"]
    assert panel["models"][0]["title"].startswith("sigmoids + binary")
    assert (panel["threshold"], panel["top_k"]) == (0.5, 0)
    assert panel["controls"] == ["threshold", "topk"]
    assert panel["truth"] == [1, 0, 0, 1, 0, 1, 0, 0, 1, 0]  # airplane, cat, dog, ship
    sums = [model["note"] for model in panel["models"]]
    assert sums[2].startswith("Sum of outputs: 1.00.")
    assert sum(panel["models"][2]["outputs"]) == pytest.approx(1.0)
    assert markdown_starting(at, "**True label set:**") == [
        "**True label set:** `airplane`, `cat`, `dog`, `ship`"
    ]
    assert at.query_params["c0"] in ("airplane", ["airplane"])
    table = results_table(at)
    assert table["BCE (article)"]["exact match"] == "49.19%"
    assert table["BCE (article)"]["mAP"] == "–"
    assert table["chance / all-negative"]["per-label accuracy"] == "60.00%"
    report = json.loads((fixture_models / "evaluation.json").read_text())
    for name, _, _, label in MODELS:
        result = report["models"][name]
        assert table[label]["exact match"] == f"{result['exact_match']:.2%}"
        objects = result["by_set"]["one_to_four"]
        assert table[label]["1-4 objects: exact match"] == f"{objects['exact_match']:.2%}"


def test_the_training_data_choice_shows_the_other_family(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    at.radio(key="data").set_value("one-to-four").run()
    assert not at.exception
    assert shown_models(at) == ["BCE 1-4", "CCE 1-4", "softmax 1-4"]
    assert dict(at.query_params)["data"] in ("one-to-four", ["one-to-four"])
    at.radio(key="view").set_value("softmax").run()
    assert shown_models(at) == ["softmax 1-4"]


def test_a_seventh_manifest_entry_is_shown_without_code_changes(
    fixture_models, monkeypatch, tmp_path
):
    for file in fixture_models.iterdir():
        shutil.copy(file, tmp_path / file.name)
    shutil.copy(tmp_path / "bce-one-to-four.keras", tmp_path / "bce-extra.keras")
    manifest = json.loads((tmp_path / "models.json").read_text())
    extra = manifest_entry("bce-extra", "bce", "one-to-four", TEST_COLOURS[7], "BCE extra")
    extra.pop("history")
    extra.pop("run")
    manifest["models"].append(extra)
    (tmp_path / "models.json").write_text(json.dumps(manifest))
    at = start(tmp_path, monkeypatch, {"data": "one-to-four"})
    assert not at.exception and not at.error
    assert len(shown_models(at)) == 4
    extra = next(m for m in decision_panels(at)[0]["models"] if m["label"] == "BCE extra")
    assert extra["title"].startswith("sigmoids + binary")
    assert any("BCE extra" in str(image.proto) for image in at.get("image"))


def test_changing_a_class_changes_the_composite_and_predictions(fixture_models, monkeypatch):

    at = start(fixture_models, monkeypatch)
    before_image = str(at.get("image")[0].proto)
    before_outputs = decision_panels(at)[0]["models"][0]["outputs"]
    # Predictions are cached per process; start from none, whatever ran before.
    cache.predict_group.clear()
    calls = at.session_state["model_calls"]
    at.selectbox(key="class_0").select("truck").run()
    assert not at.exception
    assert at.session_state["model_calls"] == calls + 1
    assert markdown_starting(at, "**True label set:**") == [
        "**True label set:** `cat`, `dog`, `ship`, `truck`"
    ]
    assert str(at.get("image")[0].proto) != before_image
    assert decision_panels(at)[0]["models"][0]["outputs"] != before_outputs


def test_the_address_s_rule_reaches_the_browser_without_a_model_call(fixture_models, monkeypatch):
    """The threshold and top-k decide in the browser (tests/test_browser.py moves them there);
    the server hands it the rule of the address, and a changed rule costs no model call."""
    at = start(fixture_models, monkeypatch, {"t": "0.00", "k": "3"})
    calls = at.session_state["model_calls"]
    (panel,) = decision_panels(at)
    assert (panel["threshold"], panel["top_k"]) == (0.0, 3)
    assert all(len(chosen) == 3 for chosen in predicted_sets(panel))
    at.session_state["top_k"] = 0
    at.run()
    (panel,) = decision_panels(at)
    assert predicted_sets(panel) == [list(CLASS_NAMES)] * 3  # everything is at least 0.00
    assert at.session_state["model_calls"] == calls
    assert dict(at.query_params)["k"] in ("0", ["0"])


def test_query_parameters_restore_the_state(fixture_models, monkeypatch):
    query = {
        "c0": "frog",
        "c1": "horse",
        "c2": "deer",
        "c3": "frog",
        "s0": "4",
        "t": "0.30",
        "k": "0",
        "data": "one-to-four",
        "view": "cce",
    }
    at = start(fixture_models, monkeypatch, query)
    assert not at.exception and not at.warning
    assert at.session_state["class_0"] == "frog" and at.session_state["sample_0"] == 4
    assert decision_panels(at)[0]["threshold"] == pytest.approx(0.3)
    assert markdown_starting(at, "**True label set:**") == [
        "**True label set:** `deer`, `frog`, `horse`"
    ]
    assert len(shown_models(at)) == 1
    assert shown_models(at) == ["CCE 1-4"]


def test_an_old_link_still_opens_every_model(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch, {"view": "both"})
    assert not at.exception and not at.warning
    assert len(shown_models(at)) == 3


def test_the_view_offers_only_losses_a_model_here_was_trained_with(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch, {"view": "mse"})  # a kind with no model here
    assert not at.exception
    view = at.radio(key="view")
    assert list(view.options) == ["all side by side", "BCE only", "CCE only", "softmax only"]
    assert view.value == "all" and len(shown_models(at)) == 3


def test_bad_query_parameters_are_reported_not_raised(fixture_models, monkeypatch):
    query = {"c0": "unicorn", "t": "7", "s1": "x", "data": "nope", "view": "all3"}
    at = start(fixture_models, monkeypatch, query)
    assert not at.exception
    warning = at.warning[0].value
    for name in query:
        assert f"`{name}`" in warning
    for value in ("unicorn", "nope", "all3"):
        assert value not in warning  # the parameter is named, its value never quoted
    assert at.session_state["class_0"] == "airplane"
    assert at.session_state["data"] == "four-distinct"


def test_missing_corrupt_and_foreign_models_show_which_and_why(
    fixture_models, monkeypatch, tmp_path
):
    import keras

    shutil.copy(fixture_models / "models.json", tmp_path / "models.json")
    shutil.copy(fixture_models / "cce.keras", tmp_path / "cce.keras")
    at = start(tmp_path, monkeypatch)
    assert not at.exception
    assert any(
        "bce.keras" in e.value and "python -m core.train --loss bce" in e.value for e in at.error
    )
    assert at.error[0].value.count("is missing") == len(MODELS) - 1
    assert len(shown_models(at)) == 1  # CCE still works
    foreign = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="other")])
    foreign.save(tmp_path / "softmax.keras")
    (tmp_path / "cce.keras").write_bytes((fixture_models / "cce.keras").read_bytes()[:5000])
    (tmp_path / "bce.keras").write_bytes(b"")
    at = start(tmp_path, monkeypatch)
    assert not at.exception
    assert any("cce.keras" in e.value and "could not be loaded" in e.value for e in at.error)
    assert any(
        "softmax.keras" in e.value and "not the network of core.model" in e.value for e in at.error
    )
    assert any(i.value.startswith("No model could be loaded") for i in at.info)
    assert any("python -m core.evaluate" in i.value for i in at.info)


def test_an_evaluation_of_another_shape_is_explained(fixture_models, monkeypatch, tmp_path):
    for file in fixture_models.iterdir():
        shutil.copy(file, tmp_path / file.name)
    (tmp_path / "evaluation.json").write_text('{"models": {}}')
    at = start(tmp_path, monkeypatch)
    assert not at.exception
    assert any("lacks test_composites, baselines" in i.value for i in at.info)
    assert len(shown_models(at)) == 3


def test_a_broken_manifest_is_explained(fixture_models, monkeypatch, tmp_path):
    (tmp_path / "models.json").write_text('{"families": [], "models": [{"name": "x"}]}')
    at = start(tmp_path, monkeypatch)
    assert not at.exception
    assert any("models.json" in e.value for e in at.error)


def png_bytes(mode="RGB", size=(80, 60)):
    buffer = io.BytesIO()
    Image.new(mode, size, 120).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("empty.png", b"", "empty"),
        ("fake.png", b"just some text", "not an image"),
        ("cut.png", png_bytes()[:60], "damaged or truncated"),
    ],
)
def test_bad_uploads_show_a_message(fixture_models, monkeypatch, name, payload, message):
    at = start(fixture_models, monkeypatch)
    at.radio(key="source").set_value("Upload one image").run()
    at.file_uploader(key="upload_whole").set_value((name, payload, "image/png")).run()
    assert not at.exception
    # The file name is shown as plain text: its Markdown specials are escaped.
    assert any(message in e.value and name in e.value.replace("\\", "") for e in at.error)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "I;16", "P"])
def test_a_photo_is_answered_by_the_models_of_objects_anywhere(fixture_models, monkeypatch, mode):
    at = start(fixture_models, monkeypatch)
    at.radio(key="source").set_value("Upload one image").run()
    at.file_uploader(key="upload_whole").set_value(("mine.png", png_bytes(mode), "image/png"))
    at.run()
    assert not at.exception and not at.error
    # The family shown stays the article's, but the photo goes to the models trained on objects
    # anywhere, and the page says so.
    assert at.session_state["data"] == "four-distinct"
    assert shown_models(at) == ["BCE any"]
    note = next(i.value for i in at.info if "objects anywhere" in i.value)
    assert "BCE any" in note and "32x32" in note


def test_a_photo_is_kept_in_no_shared_cache(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    at.radio(key="source").set_value("Upload one image").run()
    cache.predict_group.clear()
    cache.composite_png.clear()
    cache.activation_map_png.clear()
    shared = []
    for cached in (cache.predict_group, cache.composite_png, cache.activation_map_png):
        monkeypatch.setattr(
            cache, cached.__name__, lambda *a, _n=cached.__name__, **k: shared.append(_n)
        )
    calls = at.session_state["model_calls"]
    at.file_uploader(key="upload_whole").set_value(("mine.png", png_bytes(), "image/png")).run()
    assert not at.exception and not at.error
    assert shared == []  # predictions, picture and maps made for this run only
    assert at.session_state["model_calls"] == calls + 1
    assert len(at.get("image")) == 2  # the photo and the one model's activation map


def test_the_camera_s_photo_takes_the_photo_path(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    at.radio(key="source").set_value("Take a photo").run()
    assert any("https://" in c.value and "localhost" in c.value for c in at.caption)
    photo = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(photo, format="JPEG")
    at.camera_input(key="camera_photo").set_value(("photo.jpg", photo.getvalue(), "image/jpeg"))
    at.run()
    assert not at.exception and not at.error
    assert shown_models(at) == ["BCE any"]


def test_four_uploaded_tiles_are_flagged_outside_the_training_data(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    at.radio(key="source").set_value("Upload four tiles").run()
    for quadrant in range(4):
        at.file_uploader(key=f"upload_tile_{quadrant}").set_value(
            (f"t{quadrant}.png", png_bytes(size=(32, 32)), "image/png")
        )
    at.run()
    assert any("outside the training distribution" in w.value for w in at.warning)


def test_four_tile_upload(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    at.radio(key="source").set_value("Upload four tiles").run()
    assert any("each of the four quadrants" in i.value for i in at.info)
    for quadrant in range(4):
        at.file_uploader(key=f"upload_tile_{quadrant}").set_value(
            (f"t{quadrant}.png", png_bytes(size=(32, 32)), "image/png")
        )
    at.run()
    assert not at.exception and not at.error
    assert len(shown_models(at)) == 3


def test_why_cce_fails_panel_keeps_the_loss_while_decisions_change(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    assert not any(m.label == "CCE loss" for m in at.metric)  # closed until asked for
    at.toggle(key="why_cce").set_value(True).run()
    cce_loss = next(m for m in at.metric if m.label == "CCE loss").value
    bce_loss = next(m for m in at.metric if m.label == "BCE loss").value
    at.slider(key="cce_scale").set_value(0.2).run()
    assert next(m for m in at.metric if m.label == "CCE loss").value == cce_loss
    assert next(m for m in at.metric if m.label == "BCE loss").value != bce_loss
    assert float(cce_loss) >= 4 * np.log(4) - 1e-3


def test_committed_models_serve_the_app(monkeypatch):
    from core.manifest import load_manifest

    manifest = load_manifest(COMMITTED, check_files=True)
    at = start(COMMITTED, monkeypatch)
    assert not at.exception and not at.error
    report = json.loads((COMMITTED / "evaluation.json").read_text())
    assert report["test_composites"] == 10_000
    assert set(report["models"]) == {model.name for model in manifest.models}
    # A trained model is far above chance (1/210) on exact match.
    for name in ("bce", "cce", "bce-one-to-four"):
        assert (
            report["models"][name]["exact_match"] > 20 * report["baselines"]["chance_exact_match"]
        )
    assert len(shown_models(at)) == 3


@pytest.mark.parametrize(
    "source", ["Compose from CIFAR-10", "Upload one image", "Upload four tiles"]
)
def test_every_source_without_models_explains_instead_of_failing(
    fixture_models, monkeypatch, tmp_path, source
):
    shutil.copy(fixture_models / "models.json", tmp_path / "models.json")
    at = start(tmp_path, monkeypatch)
    at.radio(key="source").set_value(source).run()
    assert not at.exception
    assert any("bce.keras" in e.value and "is missing" in e.value for e in at.error)
    messages = [i.value for i in at.info]
    if source == "Compose from CIFAR-10":
        assert any(m.startswith("No model could be loaded") for m in messages)
    else:
        assert any("upload" in m.lower() for m in messages)


def test_outputs_exactly_at_the_threshold_reach_the_browser_unrounded(
    undecided_models, monkeypatch
):
    at = start(undecided_models, monkeypatch, {"t": "0.50"})
    (panel,) = decision_panels(at)
    assert all(output == 0.5 for model in panel["models"] for output in model["outputs"])
    assert predicted_sets(panel) == [list(CLASS_NAMES)] * 2


def test_empty_quadrants_leave_only_the_classes_present(fixture_models, monkeypatch):
    query = {"c0": "frog", "c1": "empty", "c2": "empty", "c3": "empty", "s1": "7"}
    at = start(fixture_models, monkeypatch, query)
    assert not at.exception and not at.warning
    assert markdown_starting(at, "**True label set:**") == ["**True label set:** `frog`"]
    assert any("1 label " in c.value and "Do they still answer four" in c.value for c in at.caption)
    assert dict(at.query_params)["c1"] in ("empty", ["empty"])
    composite = str(at.get("image")[0].proto)
    at.selectbox(key="class_0").select("empty").run()
    assert not at.exception
    assert markdown_starting(at, "**True label set:**") == ["**True label set:** *nothing*"]
    assert str(at.get("image")[0].proto) != composite


def test_the_one_to_four_objects_tab_reads_the_evaluation(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch)
    report = json.loads((fixture_models / "evaluation.json").read_text())
    table = next(m.value for m in at.markdown if m.value.startswith("| objects |"))
    assert (
        table.splitlines()[0]
        == "| objects | true | " + " | ".join(label for *_, label in MODELS) + " |"
    )
    row = next(line for line in table.splitlines() if line.startswith("| 2 |"))
    for name, *_ in MODELS:
        by_objects = report["models"][name]["by_set"]["one_to_four"]["by_objects"]
        assert set(by_objects) == {"1", "2", "3", "4"}
        assert f"{by_objects['2']['mean_predicted_labels']:.2f}" in row
    assert markdown_starting(at, "**Exact match on composites with one to four objects**")


def test_random_draws_from_the_pool_every_student_shares(fixture_models, monkeypatch):
    """The article's rule, from a pool the same for every session: a drawn composite is one of
    the pool's, whose predictions another student's draw may already have computed."""
    from core.gallery import DEFAULT_PATH, load_gallery
    from demo.ui import panels

    sizes = {label: len(images) for label, images in load_gallery(str(DEFAULT_PATH)).items()}
    pool = [panels.pool_composite(index, sizes) for index in range(panels.RANDOM_POOL)]
    assert pool[7] == panels.pool_composite(7, sizes)  # the same for everyone
    assert all(len({label for label, _ in picks}) == 4 for picks in pool)  # distinct classes
    assert len({tuple(picks) for picks in pool}) == panels.RANDOM_POOL
    at = start(fixture_models, monkeypatch)
    pool = {tuple(picks) for picks in pool}
    for _ in range(3):
        at.button(key="random").click().run()
        drawn = tuple(
            (CLASS_NAMES.index(at.session_state[f"class_{q}"]), at.session_state[f"sample_{q}"])
            for q in range(4)
        )
        assert drawn in pool
