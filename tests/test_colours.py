"""The page's colours can be told apart with red-green colour blindness: every palette is checked
where it is defined (demo.charts, models/models.json) with demo.colour_vision, whose conversions
are checked first against hand-computed values and the distances measured in the issue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from core.manifest import load_manifest
from demo import charts
from demo import colour_vision as cv

WHITE = "#ffffff"  # the page's background
OUTCOMES = ("true positive", "false positive", "false negative", "true negative")

# The palettes before this check, as literals: each must be refused by the same check.
OLD_OUTCOMES = {
    "true positive": "#2e7d32",
    "false positive": "#ef6c00",
    "false negative": "#c62828",
    "true negative": "#9e9e9e",
}
OLD_MODELS = {  # four-distinct, then one-to-four
    "BCE": "#1565c0",
    "CCE": "#ad1457",
    "softmax": "#2e7d32",
    "BCE 1-4": "#64b5f6",
    "CCE 1-4": "#f06292",
    "softmax 1-4": "#81c784",
}
OLD_LAB_RUNS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
# The issue's measurements of the old outcome colours (Machado 2009 at severity 1, CIE76 in
# Lab): (first, second) -> (normal, deuteranopia, protanopia).
ISSUE_MEASURED = {
    ("#2e7d32", "#c62828"): (100.8, 15.8, 18.9),  # true positive vs false negative
    ("#2e7d32", "#ef6c00"): (94.9, 43.2, 19.4),  # true positive vs false positive
    ("#ef6c00", "#c62828"): (36.3, 28.2, 37.2),  # false positive vs false negative
}


def problems(colours: dict[str, str], background: str | None = WHITE) -> list:
    """What keeps a palette from being told apart: pairs closer than `cv.MIN_DISTANCE` under a
    vision checked, and, with `background`, colours that close to it."""
    found = cv.too_close(colours)
    if background is not None:
        found += [
            (name, "background", vision, value)
            for name, colour in colours.items()
            for vision in cv.VISIONS
            if (value := cv.distance(colour, background, vision)) < cv.MIN_DISTANCE
        ]
    return found


def named(colours) -> dict[str, str]:
    return {f"{i} {colour}": colour for i, colour in enumerate(colours, 1)}


# --- the conversions -----------------------------------------------------------------------------


def test_hex_and_the_srgb_curve():
    np.testing.assert_allclose(cv.hex_to_srgb("#ff8000"), [1, 128 / 255, 0])
    np.testing.assert_allclose(cv.hex_to_srgb("0072B2"), cv.hex_to_srgb("#0072b2"))
    with pytest.raises(ValueError, match="rrggbb"):
        cv.hex_to_srgb("#fff")
    # ((0.5 + 0.055) / 1.055) ** 2.4 and, below the knee, 0.04 / 12.92
    np.testing.assert_allclose(
        cv.srgb_to_linear([0.5, 0.04, 0, 1]), [0.2140411, 0.0030960, 0, 1], atol=1e-7
    )
    grid = np.linspace(0, 1, 11)
    np.testing.assert_allclose(cv.linear_to_srgb(cv.srgb_to_linear(grid)), grid, atol=1e-12)


def test_lab_of_white_black_grey_and_red():
    np.testing.assert_allclose(cv.to_lab("#ffffff"), [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(cv.to_lab("#000000"), [0, 0, 0], atol=1e-9)
    # 128/255 -> linear 0.21586 = Y; L* = 116 * Y^(1/3) - 16 = 53.585, and a grey has no hue
    np.testing.assert_allclose(cv.to_lab("#808080"), [53.585, 0, 0], atol=1e-3)
    # the sRGB red's usual reference values
    np.testing.assert_allclose(cv.to_lab("#ff0000"), [53.241, 80.092, 67.203], atol=1e-2)


def test_cie76_is_the_euclidean_distance_in_lab():
    assert cv.cie76([50, 0, 0], [53, 4, 0]) == pytest.approx(5)
    assert cv.distance("#0072b2", "#0072b2", "protanopia") == 0
    assert cv.distance("#000000", "#ffffff") == pytest.approx(100, abs=1e-3)


def test_machado_matrices_keep_greys_grey():
    for vision, matrix in cv.MACHADO_SEVERITY_1.items():
        np.testing.assert_allclose(matrix.sum(axis=1), 1, atol=2e-6, err_msg=vision)
        for grey in ("#000000", "#404040", "#999999", "#ffffff"):
            np.testing.assert_allclose(cv.to_lab(grey, vision), cv.to_lab(grey), atol=1e-3)
    with pytest.raises(ValueError, match="Unknown vision"):
        cv.simulate(np.ones(3), "tritanopia")


def test_a_dichromat_loses_red_and_green_and_keeps_blue_and_yellow():
    seen = cv.simulate(cv.srgb_to_linear(cv.hex_to_srgb("#ff0000")), "deuteranopia")
    assert ((seen >= 0) & (seen <= 1)).all()  # clipped: still a displayable colour
    for vision in ("deuteranopia", "protanopia"):
        assert cv.distance("#2e7d32", "#c62828", vision) < 20  # green and red
        assert cv.distance("#0072b2", "#e69f00", vision) > 100  # blue and orange


def test_the_simulation_reproduces_the_issues_measurements():
    """The issue measured the old outcome colours with Machado's matrices on linear RGB: this
    module gives the same numbers to the published decimal; on gamma-encoded sRGB it does not."""
    for (first, second), measured in ISSUE_MEASURED.items():
        ours = [cv.distance(first, second, vision) for vision in cv.VISIONS]
        np.testing.assert_allclose(ours, measured, atol=0.06, err_msg=f"{first} vs {second}")
    gamma = cv.distance("#2e7d32", "#c62828", "deuteranopia", gamma_encoded=True)
    assert abs(gamma - 15.8) > 5  # 6.2: the other convention is not the issue's


# --- the check itself ----------------------------------------------------------------------------


def test_the_check_refuses_the_old_palettes():
    refused = problems(OLD_OUTCOMES)
    assert ("true positive", "false negative", "deuteranopia") in {r[:3] for r in refused}
    assert ("true positive", "false positive", "protanopia") in {r[:3] for r in refused}
    assert problems(OLD_MODELS)
    assert problems(named(OLD_LAB_RUNS))
    # and a colour on the background itself
    assert problems({"a": "#0072b2", "b": "#fafafa"}) == [
        ("b", "background", vision, pytest.approx(1.73, abs=0.01)) for vision in cv.VISIONS
    ]


def test_the_distance_table_lists_every_pair():
    table = cv.distance_table(OLD_OUTCOMES).splitlines()
    assert table[0] == "pair | normal | deuteranopia | protanopia"
    assert len(table) == 2 + 6
    assert "true positive #2e7d32 vs false negative #c62828 | 100.8 | 15.8 | 18.9" in table
    assert cv.smallest_distance(OLD_OUTCOMES)[1:] == (
        ("true positive", "false negative"),
        "deuteranopia",
    )


# --- the palettes --------------------------------------------------------------------------------


def test_the_outcomes_are_told_apart_under_every_vision():
    colours = {name: charts.OUTCOME_COLOURS[name] for name in OUTCOMES}
    assert problems(colours) == [], cv.distance_table(colours)


def test_above_and_below_the_threshold_are_told_apart():
    colours = {
        name: charts.OUTCOME_COLOURS[name] for name in ("above threshold", "below threshold")
    }
    assert problems(colours) == []
    assert set(charts.OUTCOME_COLOURS) == {*OUTCOMES, "above threshold", "below threshold"}


def test_the_models_shown_together_are_told_apart():
    manifest = load_manifest(REPO / "models")
    for family in manifest.families:
        together = {model.label: model.colour for model in manifest.in_family(family.data)}
        assert len(together) == 3
        assert problems(together) == [], family.data
    assert len(manifest.colours()) == 9
    assert problems(manifest.colours()) == []  # the report's charts show all nine


def test_the_cce_floor_is_drawn_in_cces_colour():
    cce = load_manifest(REPO / "models").by_name("cce").colour
    frame = pd.DataFrame(
        {"model": ["CCE"], "colour": [cce], "split": ["train"], "epoch": [1], "value": [6.0]}
    )
    spec = charts.curves_chart(frame, "loss", floor=5.545).to_dict()
    rules = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rule"]
    assert [rule["mark"]["color"] for rule in rules] == [cce]


def test_the_lab_runs_are_told_apart():
    colours = named(charts.LAB_RUN_COLOURS)
    assert len(colours) == 8 == len(set(charts.LAB_RUN_COLOURS))
    assert problems(colours) == []
    # the runs table writes each run's name in its colour: dark enough for text on white
    assert max(cv.to_lab(colour)[0] for colour in charts.LAB_RUN_COLOURS) <= 62


def test_the_fallback_palette_is_told_apart():
    assert problems(named(charts.FALLBACK_PALETTE)) == []
