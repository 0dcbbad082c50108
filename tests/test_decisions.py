"""The rule a browser sends back to the decisions panel: only a threshold 0..1 and a whole top-k
0..10 are taken; anything else a curious student sends changes nothing."""

from __future__ import annotations

import math

import pytest

from demo.ui.decisions import Rule, clean_rule


@pytest.mark.parametrize(
    ("sent", "taken"),
    [
        ({"threshold": 0.3, "top_k": 0}, Rule(0.3, 0)),
        ({"threshold": 0.456, "top_k": 3}, Rule(0.46, 3)),  # to the slider's step
        ({"threshold": 0, "top_k": 10.0}, Rule(0.0, 10)),
        ({"threshold": 1, "top_k": 0}, Rule(1.0, 0)),
    ],
)
def test_a_rule_the_inputs_can_make_is_taken(sent, taken):
    assert clean_rule(sent) == taken


@pytest.mark.parametrize(
    "sent",
    [
        None,
        "0.5",
        [0.5, 0],
        {},
        {"threshold": 0.5},
        {"threshold": "0.5", "top_k": 0},
        {"threshold": "<script>", "top_k": 0},
        {"threshold": True, "top_k": 0},
        {"threshold": 0.5, "top_k": False},
        {"threshold": -0.01, "top_k": 0},
        {"threshold": 1.01, "top_k": 0},
        {"threshold": math.nan, "top_k": 0},
        {"threshold": math.inf, "top_k": 0},
        {"threshold": 0.5, "top_k": 11},
        {"threshold": 0.5, "top_k": -1},
        {"threshold": 0.5, "top_k": 2.5},
        {"threshold": 0.5, "top_k": 10**400},
        {"threshold": {"nested": 1}, "top_k": 0},
    ],
)
def test_anything_else_is_refused(sent):
    assert clean_rule(sent) is None
