"""The decisions panel: the threshold and top-k inputs and, for every shown model, its ten outputs
against them, its predicted set, exact match and per-label accuracy.

The panel decides in the browser (`demo/static/decisions.js`, a frameless `st.components.v2`
component): moving the threshold or top-k re-decides every model at once with no script run.
Once an input has been still for a moment the browser sends the rule back, one short run of the
fragment the panel lives in, so that the session and the page's address carry it. The browser
applies the rule of `core.evaluation` (`decide`, `top_k`); a browser test checks both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import streamlit as st

from core.data import CLASS_NAMES
from core.evaluation import OUTCOME_NAMES
from demo import charts, keys, terms
from demo.i18n import N_, _
from demo.ui import checked

STATIC = Path(__file__).resolve().parent / "static"
RULE = (
    keys.DECISIONS_RULE
)  # the component's state: {"threshold": float, "top_k": int}, sent by the browser
MOST_TOP_K = len(CLASS_NAMES)
CONTROLS = ("threshold", "topk")

# Every word the panel shows, in one place, in English: `panel_text` gives them in the page's
# language. The cues are symbols, the same in every language.
TEXT = {
    "rule": N_("Decision rule"),
    "threshold": N_("Decision threshold"),
    "top_k": N_("Top-k (0 = use the threshold)"),
    "key": N_("Each model's ten outputs; dashed line: the threshold."),
    "predicted": N_("Predicted:"),
    "nothing": N_("nothing"),
    "separator": N_(", "),  # between the predicted classes
    "exact_match": N_("Exact match:"),
    "yes": N_("yes ✓"),
    "no": N_("no ✗"),
    "per_label": N_("per-label accuracy:"),
    "table_caption": N_("The ten outputs of {model}"),
    "columns": [N_("class"), N_("output"), N_("value"), N_("outcome")],
    "cues": {
        "true positive": "✓",
        "false positive": "!",
        "false negative": "✗",
        "true negative": "",
        "above threshold": "",
        "below threshold": "",
    },
    "outcomes": {
        "true positive": N_("true positive (found)"),
        "false positive": N_("false positive (a false alarm)"),
        "false negative": N_("false negative (missed)"),
        "true negative": N_("true negative"),
        "above threshold": N_("at or above the threshold"),
        "below threshold": N_("below"),
    },
}


def panel_text() -> dict:
    """`TEXT` in the page's language (the keys, and the cues, stay as they are)."""
    shown = {}
    for key, value in TEXT.items():
        if key == "cues":
            shown[key] = dict(value)
        elif isinstance(value, dict):
            shown[key] = {name: _(text) for name, text in value.items()}
        elif isinstance(value, list):
            shown[key] = [_(text) for text in value]
        else:
            shown[key] = _(value)
    return shown


@dataclass(frozen=True)
class Rule:
    """How ten outputs become a predicted set: at or above `threshold`, or the `top_k` largest
    when `top_k` is not 0."""

    threshold: float
    top_k: int


def clean_rule(sent) -> Rule | None:
    """The rule a browser sent, or None when it is not one: a threshold 0..1 (kept to two
    decimals, as the slider steps) and a whole top-k 0..10."""
    if not isinstance(sent, dict):
        return None
    threshold, top_k = sent.get("threshold"), sent.get("top_k")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int | float):
        return None
    # Compared before any conversion: a huge integer cannot become a float.
    if not (0 <= threshold <= 1 and 0 <= top_k <= MOST_TOP_K):
        return None  # NaN fails every comparison too
    if top_k != int(top_k):
        return None
    return Rule(round(float(threshold), 2), int(top_k))


def output_sum_note(entry, probabilities: np.ndarray) -> str:
    """Why a softmax model cannot name a set at a threshold, or that sigmoids do not share."""
    total = f"{float(probabilities.sum()):.2f}"
    if entry.kind.shares_one_unit:
        above = int((probabilities >= 0.5).sum())
        return _(
            "Sum of outputs: {total}. The ten classes share one unit, so with several objects "
            "none need reach 0.5 ({above} does here); top-k names k classes, but only if told k."
        ).format(total=total, above=above)
    return _("Sum of outputs: {total}: each sigmoid is its own yes/no.").format(total=total)


def panel_data(entries, predictions: dict, truth, rule: Rule, controls) -> dict:
    """What the browser draws: plain JSON, the same for every session showing these models on
    this composite with this rule in this language. `classes` are the English names (the
    browser's data: `data-predicted`), `class_labels` the names it shows."""
    models = []
    for entry in entries:
        probabilities = np.asarray(predictions[entry.name].probabilities, dtype=np.float64)
        models.append(
            {
                "name": entry.name,
                "label": entry.label,
                "title": terms.term(entry.kind.title),
                "outputs": [float(p) for p in probabilities],
                "note": output_sum_note(entry, probabilities),
            }
        )
    return {
        "classes": list(CLASS_NAMES),
        "class_labels": [terms.term(name) for name in CLASS_NAMES],
        "truth": None if truth is None else [int(t) for t in np.asarray(truth)],
        "models": models,
        "threshold": rule.threshold,
        "top_k": rule.top_k,
        "controls": [name for name in CONTROLS if name in controls],
        "outcomes": list(OUTCOME_NAMES),
        "colours": dict(charts.OUTCOME_COLOURS),
        "text": panel_text(),
    }


@st.cache_resource(show_spinner=False)
def component():
    """The panel's component, registered once per process (its files are read then)."""
    return st.components.v2.component(
        "multilabel.decisions",
        html='<div class="ml-host"></div>',
        js=(STATIC / "decisions.js").read_text(),
        css=(STATIC / "decisions.css").read_text(),
        isolate_styles=False,
    )


def adopt_rule(key: str, threshold_key: str, top_k_key: str) -> None:
    """The panel's callback: the rule the browser sent, when it is one, into session state."""
    state = st.session_state.get(key)
    rule = clean_rule(state.get(RULE) if state is not None else None)
    if rule is None:
        checked.ignored("decisions rule", state)
    else:
        st.session_state[threshold_key] = rule.threshold
        st.session_state[top_k_key] = rule.top_k


def decisions_panel(key: str, entries, predictions, truth, rule_keys, controls) -> None:
    """The panel for `entries`' predictions. `rule_keys` are the session-state keys of the
    threshold and top-k, which the browser's rule replaces; `controls` lists the inputs shown
    ("threshold", "topk"; none: the rule is fixed)."""
    threshold_key, top_k_key = rule_keys
    rule = Rule(float(st.session_state[threshold_key]), int(st.session_state[top_k_key]))
    component()(
        key=key,
        data=panel_data(entries, predictions, truth, rule, controls),
        default={RULE: {"threshold": rule.threshold, "top_k": rule.top_k}},
        on_rule_change=partial(adopt_rule, key, threshold_key, top_k_key),
        height="content",
    )
