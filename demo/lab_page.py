"""The loss lab (`?lab=1`): a student picks an ending and loss, an optimizer, a learning rate and
the training data, presses Train, and sees the last layer learn in well under a second.

Only the last Dense layer trains (`core.lab`), on pooled features that a shipped model's frozen
trunk computed once (`core.lab_features`, shipped in `assets/`), so the page works offline and
a run costs a fraction of a CPU second. A class shares one server process: at most
`TRAINING_SLOTS` runs train at once (about one core), the others queue for up to
`WAIT_FOR_SLOT_S` (waiting costs no CPU) and past that are told to press Train again, so the
rest of everyone's page stays responsive.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import streamlit as st

from core import lab
from core.data import CLASS_NAMES
from core.evaluation import THRESHOLD, decide, outcomes
from core.kinds import KINDS
from core.lab_features import DEFAULT_PATH, SHOWN_COMPOSITES, load_features
from demo import charts, resources
from demo.context import PageContext

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1)
TRAINING_SLOTS = 1  # trainings at once per server process: one core's worth
WAIT_FOR_SLOT_S = 5.0  # how long a Train press queues for a slot before saying "busy"
MOST_RUNS = 8  # runs a session keeps side by side
RUNS_KEY = "lab_runs"
TRAIN_KEY = "lab_train"  # the Train button's key: bench/classroom.py presses it too
BUSY_MESSAGE = "Busy: other students' runs are training right now. Press Train again."
CHART_HEIGHT = 260
ROW_HEIGHT = 35  # pixels per row of st.dataframe


@st.cache_resource(show_spinner=False)
def training_slots() -> threading.BoundedSemaphore:
    """The process's training slots, shared by every session."""
    return threading.BoundedSemaphore(TRAINING_SLOTS)


@st.cache_resource(show_spinner="Loading the lab's features…")
def lab_features(path: str = str(DEFAULT_PATH)) -> dict:
    """{data family: FamilyFeatures}, one read-only copy per process."""
    return load_features(path)


def train_when_free(config: lab.LabConfig, features) -> lab.LabRun | None:
    """A run of `config`, or None when every training slot stayed taken for WAIT_FOR_SLOT_S."""
    slots = training_slots()
    if not slots.acquire(timeout=WAIT_FOR_SLOT_S):
        return None
    try:
        return lab.train_last_layer(config, features, features.x_test[:SHOWN_COMPOSITES])
    finally:
        slots.release()


def use_default_rate() -> None:
    st.session_state.lab_rate = lab.DEFAULT_RATES[st.session_state.lab_optimizer]


def lab_controls(families: dict, titles: dict) -> tuple[lab.LabConfig, str]:
    """(the run's settings, the data family) from the four controls."""
    st.session_state.setdefault("lab_rate", lab.DEFAULT_RATES[lab.SGD])
    loss_column, optimizer_column, rate_column, data_column = st.columns([3, 3, 3, 3])
    loss = loss_column.selectbox(
        "Ending and loss", list(KINDS), format_func=lambda k: KINDS[k].title, key="lab_loss"
    )
    optimizer = optimizer_column.radio(
        "Optimizer",
        lab.OPTIMIZERS,
        format_func=lab.OPTIMIZER_TITLES.get,
        key="lab_optimizer",
        on_change=use_default_rate,
    )
    rate = rate_column.select_slider(
        "Learning rate", LEARNING_RATES, key="lab_rate", format_func=lambda r: f"{r:g}"
    )
    data = data_column.radio(
        "Training data", list(families), format_func=titles.get, key="lab_data"
    )
    return lab.LabConfig(loss, optimizer, rate), data


def frozen_note(context: PageContext, features, config: lab.LabConfig) -> None:
    try:
        entry = context.manifest.by_name(features.trunk)
        trunk = f"**{entry.label}** (`{entry.file.name}`, its 12 convolutions)"
    except KeyError:
        trunk = f"**{features.trunk}**"
    st.caption(
        f"**Frozen:** the trunk of {trunk}: "
        f"it turned each composite into 256 pooled numbers once, for {len(features.x_train):,} "
        f"training and {len(features.x_test):,} test composites. **Learns:** only the last "
        f"layer, 256 x 10 weights + 10 biases = 2,570 numbers, from random values, "
        f"{config.epochs} epochs in batches of {config.batch_size}."
    )


def run_label(number: int, config: lab.LabConfig, data: str) -> str:
    family = "1-4" if data.startswith("one") else "4"
    return f"{number}. {KINDS[config.loss].short}, {config.optimizer} {config.rate:g}, {family}"


def keep_run(run: lab.LabRun, data: str) -> None:
    """Adds the run to the session's runs, the oldest dropped past MOST_RUNS."""
    runs = st.session_state.setdefault(RUNS_KEY, [])
    number = runs[-1]["number"] + 1 if runs else 1
    label = run_label(number, run.config, data)
    runs.append({"number": number, "run": label, "data": data, "result": run})
    del runs[:-MOST_RUNS]


def train_button(config: lab.LabConfig, features, data: str) -> None:
    if not st.button("Train", type="primary", key=TRAIN_KEY):
        return
    run = train_when_free(config, features)
    if run is None:
        st.warning(BUSY_MESSAGE)
        return
    keep_run(run, data)


@st.cache_data(show_spinner=False, max_entries=256)
def curves_template(metric: str, runs: tuple[str, ...], colours: tuple[str, ...]) -> dict:
    import altair as alt

    chart = charts.lab_curves_chart(alt.NamedData(name="rows"), metric, list(runs), list(colours))
    return chart.to_dict()


def show_curves(runs: list[dict]) -> None:
    labels = tuple(run["run"] for run in runs)
    colours = tuple(charts.lab_run_colour(run["number"]) for run in runs)
    for metric, column in zip(charts.LAB_METRICS, st.columns(len(charts.LAB_METRICS)), strict=True):
        rows = [
            {"run": run["run"], "epoch": row["epoch"], "value": row[metric]}
            for run in runs
            for row in run["result"].epochs
        ]
        spec = charts.with_data(curves_template(metric, labels, colours), rows=rows)
        column.vega_lite_chart(spec, width="stretch")


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: the end-of-run figures on the test composites."""
    rows = []
    for run in runs:
        final = run["result"].final
        best = f"{final['best_threshold']:.2f} ({final['best_exact_match']:.1%})"
        rows.append(
            {
                "run": run["run"],
                "exact match at 0.5": f"{final['exact_match']:.1%}",
                "best threshold (its exact match)": best,
                "top-k told k": f"{final['top_k_told_k']:.1%}",
                "mAP": f"{final['mean_average_precision']:.3f}",
                "labels answered / true": (
                    f"{final['labels_answered']:.2f} / {final['labels_true']:.2f}"
                ),
                "CPU s": f"{run['result'].seconds:.2f}",
            }
        )
    return pd.DataFrame(rows)


def coloured_runs(runs: list[dict]):
    """The runs table with each run's name in its chart colour: the charts' legend."""
    frame = runs_table(runs)
    colours = [f"color: {charts.lab_run_colour(run['number'])}" for run in runs]
    return frame.style.apply(lambda _: colours, subset=["run"])


def show_outputs(run: dict, features, number: int) -> None:
    """The last run's outputs on one test composite, after the epoch the slider names."""
    result = run["result"]
    epochs = len(result.shown_logits)
    epoch = st.slider("After epoch", 1, epochs, epochs, key="lab_epoch") if epochs > 1 else 1
    kind = KINDS[result.config.loss]
    probabilities = lab.activate(kind, result.shown_logits[epoch - 1][number])
    truth = features.y_test[number]
    bars = [
        {"class": name, "probability": float(p), "outcome": o}
        for name, p, o in zip(
            CLASS_NAMES, probabilities, outcomes(truth, decide(probabilities)), strict=True
        )
    ]
    template = resources.probability_template(True, True, CHART_HEIGHT)
    spec = charts.with_data(template, bars=bars, threshold=[{"threshold": THRESHOLD}])
    st.markdown(f"**{run['run']}** · sum of outputs {probabilities.sum():.2f}")
    st.vega_lite_chart(spec, width="stretch", height=CHART_HEIGHT)


def gradient_table(run: dict, features, number: int) -> pd.DataFrame:
    """Every loss's value and the push it sends each output, at the last run's logits on one
    composite: minus the gradient, so a positive number pushes the output up."""
    logits = run["result"].shown_logits[-1][number][None]
    truth = features.y_test[number][None]
    columns = {}
    for kind in KINDS.values():
        loss, gradient = kind.lab_loss(truth, logits)
        columns[f"{kind.short} ({loss[0]:.2f})"] = np.round(-gradient[0], 3)
    frame = pd.DataFrame(columns, index=CLASS_NAMES)
    frame.insert(0, "true", ["yes" if t else "" for t in truth[0]])
    return frame


def table_height(rows: int) -> int:
    """Pixels that show a data frame's header and `rows` rows without a scroll bar."""
    return (rows + 1) * ROW_HEIGHT + 3


def show_composite_view(runs: list[dict], features, data: str) -> None:
    latest = next((run for run in reversed(runs) if run["data"] == data), None)
    picture, outputs = st.columns([1, 2])
    with picture:
        number = st.selectbox("Test composite", range(SHOWN_COMPOSITES), key="lab_composite")
        st.image(resources.composite_png(features.shown_pixels[number]), width="content")
    if latest is None:
        outputs.info("Train on this data to see its outputs move.")
        return
    with outputs:
        show_outputs(latest, features, number)
    # Full width: a column per kind, each readable, every class in view on a projector.
    st.markdown("**The push each loss sends each output** (loss in brackets; + is up)")
    gradients = gradient_table(latest, features, number)
    st.dataframe(gradients, height=table_height(len(gradients)))


def show_lab(context: PageContext) -> None:
    """The lab page."""
    st.subheader("Loss lab: train the last layer yourself")
    try:
        families = lab_features()
    except ValueError as error:
        st.error(f"{error} Rebuild it with `python -m core.lab_features`.")
        return
    titles = {family.data: family.title for family in context.manifest.families}
    config, data = lab_controls(families, titles)
    frozen_note(context, families[data], config)
    train_button(config, families[data], data)
    runs = st.session_state.get(RUNS_KEY, [])
    if not runs:
        st.info("Press Train: the chart and the table fill in, one line per run.")
        return
    show_curves(runs)
    st.dataframe(coloured_runs(runs), hide_index=True)
    show_composite_view(runs, families[data], data)
