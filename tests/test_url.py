"""The address: every parameter of `demo.url.PARAMS` parsed by hand, then every one of them
opened with values a link should never hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FAMILIES, decision_panels, start_app

from demo import lesson, url

APP = str(Path(__file__).resolve().parents[1] / "demo" / "app.py")
LIMITS = url.Limits(tuple(family["data"] for family in FAMILIES), len(lesson.STEPS))
LAST_STEP = len(lesson.STEPS)

BAD_VALUES = [
    "²",  # a Unicode digit: str.isdigit() says yes, int() says no
    "9" * 5000,
    "[x](https://evil.example)",
    "<b>x</b><script>alert(1)</script>",
    "a\x00b",
    "",
]
BAD_IDS = ["unicode-digit", "5000-digits", "markdown", "html", "nul", "empty"]
UNSAFE = ("evil.example", "<script")


# ---------------------------------------------------------------------------------------------
# The table, by hand
# ---------------------------------------------------------------------------------------------


def test_the_table_lists_every_parameter_once():
    names = [param.name for param in url.PARAMS]
    quadrants = [f"{letter}{quadrant}" for quadrant in range(4) for letter in "cs"]
    assert names == [*quadrants, "t", "k", "data", "view", "hide", "step", "lang"]
    keys = [param.key for param in url.PARAMS if param.key]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("name", "raw", "expected", "problem"),
    [
        ("c0", None, "airplane", False),
        ("c3", None, "dog", False),
        ("c1", "frog", "frog", False),
        ("c2", "empty", "empty", False),
        ("c1", "Frog", "cat", True),
        ("c0", "unicorn", "airplane", True),
        ("s0", None, 0, False),
        ("s1", "7", 7, False),
        ("s1", "007", 7, False),
        ("s2", "²", 0, True),
        ("s2", "٣", 0, True),  # an Arabic-Indic three: int() would take it
        ("s2", "-1", 0, True),
        ("s2", "1.5", 0, True),
        ("s3", "1234567890", 0, True),
        ("t", None, 0.5, False),
        ("t", "0.30", 0.3, False),
        ("t", "1", 1.0, False),
        ("t", ".25", 0.25, False),
        ("t", "0.304", 0.3, False),
        ("t", "7", 0.5, True),
        ("t", "-0.1", 0.5, True),
        ("t", "nan", 0.5, True),
        ("t", "inf", 0.5, True),
        ("t", "1e-1", 0.5, True),
        ("t", "٠.٥", 0.5, True),  # float() would read 0.5 from these Arabic-Indic digits
        ("t", " 0.5", 0.5, True),
        ("k", None, 0, False),
        ("k", "3", 3, False),
        ("k", "10", 10, False),
        ("k", "11", 0, True),
        ("k", "³", 0, True),
        ("data", None, "four-distinct", False),
        ("data", "one-to-four", "one-to-four", False),
        ("data", "nope", "four-distinct", True),
        ("view", None, "all", False),
        ("view", "cce", "cce", False),
        ("view", "both", "all", False),  # a link made before the third model
        ("view", "all3", "all", True),
        ("hide", None, frozenset(), False),
        ("hide", "", frozenset(), False),
        ("hide", "results", {"results"}, False),
        ("hide", "threshold, Upload,,unicorn", {"threshold", "upload"}, True),
        ("hide", "threshold," + "x" * 300, {"threshold"}, True),
        ("step", None, None, False),
        ("step", "3", 3, False),
        ("step", "+3", 3, False),
        ("step", "0", 1, True),
        ("step", "-2", 1, True),
        ("step", "99", LAST_STEP, True),
        ("step", "abc", 1, True),
        ("step", "²", 1, True),
        ("step", "9" * 5000, 1, True),
        ("lang", None, None, False),
        ("lang", "ja", "ja", False),
        ("lang", "EN", "en", False),
        ("lang", "fr", None, True),
    ],
)
def test_each_parameter_parses_by_hand(name, raw, expected, problem):
    value, problems = url.parse(name, raw, LIMITS)
    assert value == expected
    assert bool(problems) == problem


@pytest.mark.parametrize("param", url.PARAMS, ids=lambda param: param.name)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
def test_a_problem_names_the_parameter_never_the_value(param, bad):
    value, problems = url.parse(param.name, bad, LIMITS)
    for problem in problems:
        assert problem.startswith(f"`{param.name}` ")
        assert bad == "" or bad not in problem
        assert not any(unsafe in problem for unsafe in UNSAFE)
        assert len(problem) < 200


@pytest.mark.parametrize(
    "param", [p for p in url.PARAMS if p.default(LIMITS) is not None], ids=lambda p: p.name
)
def test_a_default_written_to_the_address_reads_back_the_same(param):
    default = param.default(LIMITS)
    assert url.parse(param.name, param.write(default), LIMITS) == (default, [])


def test_old_helpers_read_through_the_table():
    assert url.hidden_controls(None) == (set(), [])
    assert url.lesson_step("99", LAST_STEP)[0] == LAST_STEP
    assert url.lesson_step(None, LAST_STEP) == (None, [])


# ---------------------------------------------------------------------------------------------
# The page, opened with bad values
# ---------------------------------------------------------------------------------------------

FREE_PAGE_PARAMS = [param for param in url.PARAMS if param.name != "step"]
FREE_PAGE_KEYS = {"class_0", "source", "data", "view", "threshold", "top_k", "random"}


def widget_values(at) -> dict[str, object]:
    values = {}
    for kind in ("selectbox", "radio", "slider", "number_input", "button", "toggle"):
        values |= {widget.key: widget.value for widget in getattr(at, kind) if widget.key}
    for panel in decision_panels(at)[:1]:  # the threshold and top-k are the browser's inputs
        values |= {"threshold": panel["threshold"], "top_k": panel["top_k"]}
    return values


def shown_texts(at) -> list[str]:
    elements = (*at.markdown, *at.caption, *at.text, *at.title, *at.header, *at.subheader)
    elements += (*at.warning, *at.error, *at.info, *at.success)
    texts = [str(element.value) for element in elements] + [str(h.proto) for h in at.get("html")]
    return texts + [json.dumps(panel) for panel in decision_panels(at)]


def assert_nothing_unsafe_is_drawn(at) -> None:
    for text in shown_texts(at):
        assert not any(unsafe in text for unsafe in UNSAFE), text


@pytest.mark.slow
@pytest.mark.parametrize("bad", BAD_VALUES, ids=BAD_IDS)
def test_every_free_page_parameter_survives_a_bad_value(fixture_models, monkeypatch, bad):
    query = {param.name: bad for param in FREE_PAGE_PARAMS}
    at = start_app(APP, fixture_models, monkeypatch, query)
    assert not at.exception
    assert_nothing_unsafe_is_drawn(at)
    warning = "\n".join(w.value for w in at.warning)
    widgets = widget_values(at)
    for param in FREE_PAGE_PARAMS:
        nothing_to_report = bad == "" and param.name == "hide"  # an empty list hides nothing
        assert nothing_to_report or f"`{param.name}`" in warning, param.name
        if param.key is None:
            continue
        default = param.default(LIMITS)
        assert at.session_state[param.key] == default, param.name
        assert widgets[param.key] == default, param.name
        assert at.query_params[param.name] in (param.write(default), [param.write(default)])
    assert FREE_PAGE_KEYS.issubset(widgets)  # nothing hidden
    assert len(decision_panels(at)[0]["models"]) == 3


@pytest.mark.slow
def test_a_bad_step_opens_the_first_step(fixture_models, monkeypatch):
    at = start_app(APP, fixture_models, monkeypatch, {"step": BAD_VALUES[0]})
    for bad in BAD_VALUES:
        at.query_params["step"] = bad
        at.run()
        assert not at.exception, bad
        assert_nothing_unsafe_is_drawn(at)
        assert "`step`" in at.warning[0].value
        assert at.subheader[0].value.startswith(f"Step 1 of {LAST_STEP}")
        assert at.query_params["step"] in ("1", ["1"])
