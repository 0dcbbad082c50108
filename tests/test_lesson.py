"""The guided lesson: steps as data, answers from the models, and every step through AppTest."""

from __future__ import annotations

import re
import string
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, decision_panels, start_app

from core.data import CLASS_NAMES
from core.kinds import KINDS
from core.manifest import load_manifest
from demo import lesson, url
from demo.ui import lesson_step

APP = str(Path(__file__).resolve().parents[1] / "demo" / "app.py")


def start(folder, monkeypatch, query=None):
    return start_app(APP, folder, monkeypatch, query)


# ---------------------------------------------------------------------------------------------
# Steps as data
# ---------------------------------------------------------------------------------------------


def test_the_steps_are_six_to_ten_short_screens_of_known_parts():
    assert 6 <= len(lesson.STEPS) <= 10
    manifest = load_manifest(REPO / "models")
    names = {model.name for model in manifest.models}
    for step in lesson.STEPS:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", step.text) if s]
        assert len(sentences) <= 3, step.slug
        assert set(step.models) <= names, step.slug
        assert set(step.panels) <= {*lesson_step.PANELS, *lesson_step.CONTROLS}, step.slug
        assert all(c in (*CLASS_NAMES, lesson.EMPTY) for c in step.classes)
        if step.question:
            assert step.question.kind in lesson.QUESTIONS
        # Figures come from the evaluation or the models, never typed into the text.
        for text in (step.text, step.after, step.question.prompt if step.question else ""):
            assert not re.search(r"\d+(\.\d+)?%|\b0\.\d+\b", text), (step.slug, text)
    slugs = [step.slug for step in lesson.STEPS]
    assert len(set(slugs)) == len(slugs)


def test_every_figure_the_steps_quote_is_in_the_committed_evaluation():
    import json

    manifest = load_manifest(REPO / "models")
    facts = lesson.lesson_facts(json.loads(manifest.evaluation.read_text()))
    for step in lesson.STEPS:
        prompt = step.question.prompt if step.question else ""
        for text in (step.text, step.after, prompt):
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name}
            assert fields - {"cam_class"} <= set(facts), (step.slug, fields - set(facts))


def test_facts_come_from_the_report_and_a_missing_one_shows_a_question_mark():
    report = {
        "models": {
            "bce": {
                "exact_match": 0.6072,
                "best_threshold": {"threshold": 0.4, "exact_match": 0.61},
                "by_set": {"one_to_four": {"by_objects": {"1": {"mean_predicted_labels": 4.126}}}},
            }
        }
    }
    facts = lesson.lesson_facts(report)
    assert facts["bce_exact_match"] == "60.72%"
    assert facts["bce_best_threshold"] == "0.40"
    assert facts["bce_one_object_labels"] == "4.13"
    assert facts["article_cce_exact_match"] == "38.94%"
    assert lesson.fill("{bce_exact_match} vs {cce_exact_match}", facts) == "60.72% vs ?"


# ---------------------------------------------------------------------------------------------
# Answers, from hand-made outputs
# ---------------------------------------------------------------------------------------------


def step(slug):
    return next(s for s in lesson.STEPS if s.slug == slug)


def outputs_with(values: dict[str, float], rest: float = 0.01) -> np.ndarray:
    out = np.full(10, rest)
    for name, value in values.items():
        out[CLASS_NAMES.index(name)] = value
    return out


def test_answers_by_hand():
    truth = np.zeros(10)
    truth[[0, 3, 5, 8]] = 1
    assert lesson.answer(step("input"), truth, {}, {})[0] == "4 or more"

    sigmoids = step("sigmoids")
    out = outputs_with({"cat": 0.9, "ship": 0.5, "frog": 0.49})
    right, _ = lesson.answer(sigmoids, truth, {sigmoids.models[0]: out}, {})
    assert right == ("cat", "ship")  # 0.5 is in, 0.49 is not
    assert lesson.is_right(sigmoids, ["ship", "cat"], right)
    assert not lesson.is_right(sigmoids, ["cat"], right)

    threshold = step("threshold")
    name = threshold.models[0]
    high = outputs_with({"cat": 0.95, "dog": 0.97})
    assert lesson.answer(threshold, truth, {name: high}, {})[0] == "stay the same"
    lower = outputs_with({"cat": 0.95, "dog": 0.7})
    assert lesson.answer(threshold, truth, {name: lower}, {})[0] == "get smaller"

    softmax = step("softmax")
    shared = np.array([0.3, 0.25, 0.2, 0.15, 0.1, 0, 0, 0, 0, 0])
    assert lesson.answer(softmax, truth, {softmax.models[0]: shared}, {})[0] == "0"
    dominant = np.array([0.55, 0.25, 0.2, 0, 0, 0, 0, 0, 0, 0])
    assert lesson.answer(softmax, truth, {softmax.models[0]: dominant}, {})[0] == "1"


def lab_run(exact_match: float, best_exact_match: float, best_threshold: float) -> dict:
    return {
        "exact_match": exact_match,
        "best_exact_match": best_exact_match,
        "best_threshold": best_threshold,
    }


def test_the_lab_step_names_the_endings_that_lose_little_at_one_half():
    lab_step = step("lab")
    assert lab_step.lab_data and lab_step.question.several
    figures = {
        "bce": lab_run(0.69, 0.72, 0.28),  # 3 points: works
        "cce": lab_run(0.64, 0.71, 0.25),  # 7 points: needs its own threshold
        "softmax": lab_run(0.21, 0.60, 0.09),
        "mse": lab_run(0.70, 0.75, 0.36),  # exactly the margin: works
    }
    right, why = lesson.answer(lab_step, None, figures, {})
    assert right == ("BCE", "MSE")
    assert "CCE would be best at 0.25" in why and "softmax would be best at 0.09" in why
    assert lesson.is_right(lab_step, ["MSE", "BCE"], right)
    assert set(lab_step.question.choices) == {kind.short for kind in KINDS.values()}


def test_scaling_categorical_outputs_leaves_the_loss_where_it_was():
    bce_cce = step("bce-cce")
    truth = np.zeros(10)
    truth[[1, 2]] = 1
    cce = np.array([0.1, 0.8, 0.6, 0.3, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
    right, why = lesson.answer(bce_cce, truth, {"bce": cce, "cce": cce}, {})
    assert right == "stay the same" and "stays at" in why


def test_one_object_counts_and_the_quadrant_of_the_evidence():
    fewer = step("fewer-objects")
    four = outputs_with({"frog": 0.9, "cat": 0.8, "dog": 0.7, "bird": 0.6})
    one = outputs_with({"frog": 0.9})
    right, why = lesson.answer(fewer, None, {fewer.models[0]: four, fewer.models[1]: one}, {})
    assert right == "4 or more" and "answers 4 labels" in why and "answers 1." in why
    where = step("where")
    maps = np.zeros((8, 8, 10))
    maps[:4, 4:, CLASS_NAMES.index(where.cam_class)] = 1.0  # all of it top-right
    maps[4:, :4, CLASS_NAMES.index(where.cam_class)] = -5.0  # negative evidence does not count
    right, why = lesson.answer(where, None, {}, {where.models[0]: maps})
    assert right == "top-right" and "100%" in why
    assert lesson.quadrant_evidence(np.zeros((8, 8))).tolist() == [0.25] * 4
    uneven = np.zeros((8, 8))
    uneven[0, 0], uneven[0, 7], uneven[7, 7] = 1.0, 3.0, 4.0  # by hand: 1/8, 3/8, 0, 4/8
    np.testing.assert_allclose(lesson.quadrant_evidence(uneven), [0.125, 0.375, 0.0, 0.5])


# ---------------------------------------------------------------------------------------------
# The address
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "problem"),
    [
        (None, None, False),
        ("3", 3, False),
        ("0", 1, True),
        ("99", len(lesson.STEPS), True),
        ("-2", 1, True),
        ("abc", 1, True),
    ],
)
def test_a_step_in_the_address_opens_the_nearest_step(raw, expected, problem):
    number, problems = url.lesson_step(raw, len(lesson.STEPS))
    assert number == expected and bool(problems) == problem


def test_hide_keeps_known_names_and_reports_the_others():
    hidden, problems = url.hidden_controls("threshold, Upload,,unicorn")
    assert hidden == {"threshold", "upload"}
    assert len(problems) == 1 and "`hide`" in problems[0] and "unicorn" not in problems[0]
    assert url.hidden_controls(None) == (set(), [])


# ---------------------------------------------------------------------------------------------
# Every step through AppTest
# ---------------------------------------------------------------------------------------------

FREE_PAGE_KEYS = ("class_0", "source", "data", "view", "threshold", "top_k", "random")


def present_keys(at) -> set[str]:
    keys = set()
    for kind in ("selectbox", "radio", "slider", "number_input", "button", "pills", "toggle"):
        keys |= {widget.key for widget in getattr(at, kind) if widget.key}
    return keys


def page_text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for e in (*at.info, *at.success, *at.error, *at.warning)]
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("number", range(1, len(lesson.STEPS) + 1))
def test_each_step_asks_before_it_tells(fixture_models, monkeypatch, number):
    current = lesson.STEPS[number - 1]
    at = start(fixture_models, monkeypatch, {"step": str(number)})
    assert not at.exception and not at.warning and not at.error
    assert at.subheader[0].value == f"Step {number} of {len(lesson.STEPS)}: {current.title}"
    assert len(at.get("image")) == 1  # the step's composite
    keys = present_keys(at)
    assert not keys & set(FREE_PAGE_KEYS)  # none of the workbench's controls
    assert {"lesson_back", "lesson_next"} <= keys
    if current.question is None:
        assert at.get("vega_lite_chart") or decision_panels(at) or "results" in current.panels
        return
    # Before the reveal: the choices and a disabled Reveal, and nothing of the answer.
    assert not at.get("vega_lite_chart") and not decision_panels(at)
    text = page_text(at)
    assert "the answer is" not in text and "Predicted:" not in text and "Label:" not in text
    assert "lesson_threshold" not in keys and "lesson_top_k" not in keys
    assert at.button(key=f"reveal_{current.slug}").disabled
    choice = at.pills(key=f"guess_{current.slug}")
    choice.set_value([choice.options[0]] if current.question.several else choice.options[0])
    at.run()
    assert not at.button(key=f"reveal_{current.slug}").disabled
    at.button(key=f"reveal_{current.slug}").click().run()
    assert not at.exception
    text = page_text(at)
    assert "the answer is" in text and f"You said **{choice.options[0]}**" in text
    if "bars" in current.panels:
        (panel,) = decision_panels(at)
        assert [model["name"] for model in panel["models"]] == list(current.models)
        wanted = [name for name in lesson_step.CONTROLS if name in current.panels]
        assert panel["controls"] == wanted


@pytest.mark.slow
def test_next_and_back_walk_the_address(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch, {"step": "1"})
    assert at.button(key="lesson_back").disabled
    at.button(key="lesson_next").click().run()
    assert at.query_params["step"] in ("2", ["2"])
    assert at.subheader[0].value.startswith("Step 2 of")
    at.button(key="lesson_back").click().run()
    assert at.subheader[0].value.startswith("Step 1 of")
    last = start(fixture_models, monkeypatch, {"step": str(len(lesson.STEPS))})
    assert last.button(key="lesson_next").disabled


@pytest.mark.slow
@pytest.mark.parametrize(("raw", "opened"), [("0", 1), ("99", len(lesson.STEPS)), ("x", 1)])
def test_a_wrong_step_warns_and_opens_the_nearest(fixture_models, monkeypatch, raw, opened):
    at = start(fixture_models, monkeypatch, {"step": raw})
    assert not at.exception
    assert at.warning and "step" in at.warning[0].value
    assert at.subheader[0].value.startswith(f"Step {opened} of")
    assert at.query_params["step"] in (str(opened), [str(opened)])


@pytest.mark.slow
def test_hide_leaves_controls_out_of_the_free_page(fixture_models, monkeypatch):
    query = {"hide": "upload,threshold,models,compose,results", "t": "0.30"}
    at = start(fixture_models, monkeypatch, query)
    assert not at.exception and not at.warning
    assert not present_keys(at) & set(FREE_PAGE_KEYS)
    (panel,) = decision_panels(at)
    assert len(panel["models"]) == 3 and panel["controls"] == [] and panel["threshold"] == 0.3
    assert not any(h.value == "On the test composites" for h in at.header)
    assert at.query_params["hide"] in (query["hide"], [query["hide"]])
    assert at.query_params["t"] in ("0.30", ["0.30"])


@pytest.mark.slow
def test_hiding_an_unknown_control_warns_and_keeps_the_rest(fixture_models, monkeypatch):
    at = start(fixture_models, monkeypatch, {"hide": "threshold,sidebar"})
    assert not at.exception
    assert "`hide`" in at.warning[0].value and "sidebar" not in at.warning[0].value
    keys = present_keys(at)
    assert "threshold" not in keys and "class_0" in keys and "source" in keys


@pytest.mark.slow
def test_the_lesson_s_threshold_can_be_hidden_too(fixture_models, monkeypatch):
    number = next(i for i, s in enumerate(lesson.STEPS, 1) if "threshold" in s.panels)
    current = lesson.STEPS[number - 1]
    at = start(fixture_models, monkeypatch, {"step": str(number), "hide": "threshold"})
    at.pills(key=f"guess_{current.slug}").set_value(current.question.choices[0]).run()
    at.button(key=f"reveal_{current.slug}").click().run()
    assert decision_panels(at)[0]["controls"] == []
    assert "the answer is" in page_text(at)


@pytest.mark.slow
def test_the_lab_step_trains_every_ending_once_and_shows_that_run(fixture_models, monkeypatch):
    from core import lab

    number = next(i for i, s in enumerate(lesson.STEPS, 1) if s.slug == "lab")
    trained = []
    original = lab.train_last_layer

    def counting(config, features, shown=None):
        trained.append(config.loss)
        return original(config, features, shown)

    monkeypatch.setattr(lab, "train_last_layer", counting)
    lesson_step.lab_figures.clear()
    for student in range(2):  # two students: the second costs no training
        at = start(fixture_models, monkeypatch, {"step": str(number)})
        assert len(trained) == student * len(KINDS)  # nothing trains before the reveal
        at.pills(key="guess_lab").set_value(["BCE"]).run()
        at.button(key="reveal_lab").click().run()
        assert not at.exception
    assert sorted(trained) == sorted(KINDS)
    figures = lesson_step.lab_figures("one-to-four")
    table = next(m.value for m in at.markdown if m.value.startswith("| ending |"))
    rows = table.splitlines()[2:]
    assert [row.split("**")[1] for row in rows] == [kind.short for kind in KINDS.values()]
    assert [row.split(" | ")[1] for row in rows] == [
        f"{f['exact_match']:.1%}" for f in figures.values()
    ]
    right, _ = lesson.answer(lesson.STEPS[number - 1], None, figures, {})
    assert f"the answer is **{', '.join(right)}**" in page_text(at)
