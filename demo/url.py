"""The page's state in its address: a link opens exactly the composite, threshold, training data
and models that were on the screen.

    ?c0=frog&c1=truck&c2=bird&c3=empty&s0=3&t=0.50&k=0&data=one-to-four&view=all
"""

from __future__ import annotations

import streamlit as st

from core.data import CLASS_NAMES
from core.evaluation import THRESHOLD
from core.manifest import LOSS_TITLES

DEFAULT_CLASSES = ("airplane", "cat", "ship", "dog")
EMPTY = "empty"  # a quadrant choice: no object, a flat grey tile
QUADRANT_CHOICES = (*CLASS_NAMES, EMPTY)
ALL_MODELS = "all"
VIEWS = (ALL_MODELS, *LOSS_TITLES)  # all the family's models side by side, or one loss
OLD_VIEWS = {"both": ALL_MODELS}  # links made before the third model still open


def restore_state_from_url(gallery_sizes: dict[int, int], families: list[str]) -> list[str]:
    """Fill session state from the query string once per session; returns problems found."""
    if st.session_state.get("restored"):
        return []
    st.session_state.restored = True
    params, problems = st.query_params, []
    for quadrant in range(4):
        restore_quadrant(params, quadrant, gallery_sizes, problems)
    threshold = params.get("t", f"{THRESHOLD:.2f}")
    try:
        value = float(threshold)
        if not 0.0 <= value <= 1.0:
            raise ValueError
        st.session_state.threshold = round(value, 2)
    except ValueError:
        problems.append(f"threshold {threshold!r} is not between 0 and 1")
        st.session_state.threshold = THRESHOLD
    k = params.get("k", "0")
    st.session_state.top_k = int(k) if k.isdigit() and 0 <= int(k) <= 10 else 0
    if k != str(st.session_state.top_k):
        problems.append(f"k {k!r} is not 0..10")
    view = params.get("view", ALL_MODELS)
    view = OLD_VIEWS.get(view, view)
    st.session_state.view = view if view in VIEWS else ALL_MODELS
    if view not in VIEWS:
        problems.append(f"view {view!r} is not one of {', '.join(VIEWS)}")
    data = params.get("data", families[0])
    st.session_state.data = data if data in families else families[0]
    if data not in families:
        problems.append(f"data {data!r} is not one of {', '.join(families)}")
    return problems


def restore_quadrant(params, quadrant: int, gallery_sizes: dict[int, int], problems: list):
    name = params.get(f"c{quadrant}", DEFAULT_CLASSES[quadrant])
    if name not in QUADRANT_CHOICES:
        problems.append(f"unknown class {name!r}")
        name = DEFAULT_CLASSES[quadrant]
    st.session_state[f"class_{quadrant}"] = name
    sample = params.get(f"s{quadrant}", "0")
    size = gallery_sizes[CLASS_NAMES.index(name)] if name != EMPTY else 1
    if not sample.isdigit():
        problems.append(f"sample {sample!r} is not a number")
        sample = "0"
    st.session_state[f"sample_{quadrant}"] = int(sample) % size


def write_state_to_url() -> None:
    state = st.session_state
    wanted = {}
    for quadrant in range(4):
        wanted[f"c{quadrant}"] = state[f"class_{quadrant}"]
        wanted[f"s{quadrant}"] = str(state[f"sample_{quadrant}"])
    wanted["t"] = f"{state.threshold:.2f}"
    wanted["k"] = str(state.top_k)
    wanted["data"] = state.data
    wanted["view"] = state.view
    if "hide" in st.query_params:
        wanted["hide"] = st.query_params["hide"]
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


HIDEABLE = ("upload", "threshold", "models", "compose", "results")  # what ?hide= may leave out


def hidden_controls(raw: str | None) -> tuple[set[str], list[str]]:
    """(the controls `?hide=a,b` leaves out, problems); unknown names are reported, not kept."""
    names = [name.strip().lower() for name in (raw or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in HIDEABLE]
    problems = [f"hide {name!r} is not one of {', '.join(HIDEABLE)}" for name in unknown]
    return {name for name in names if name in HIDEABLE}, problems


def lesson_step(raw: str | None, count: int) -> tuple[int | None, list[str]]:
    """(the lesson step `?step=N` opens, 1..count, or None for the free page; problems). A step
    out of range opens the nearest one; one that is not a number opens the first."""
    if raw is None:
        return None, []
    try:
        number = int(raw)
    except ValueError:
        return 1, [f"step {raw!r} is not a number; the lesson starts at step 1"]
    nearest = min(max(number, 1), count)
    if nearest != number:
        return nearest, [f"step {number} is not 1..{count}; showing step {nearest}"]
    return number, []
