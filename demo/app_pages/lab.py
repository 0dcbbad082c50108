"""The loss lab (`/lab`): a student picks an ending and loss, an optimizer, a learning rate and
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
from core.lab_features import SHOWN_COMPOSITES
from demo import cache, charts, i18n, keys
from demo.context import PageContext, page_context
from demo.i18n import N_, _, ngettext
from demo.terms import term
from demo.ui import checked, header

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1)


TRAINING_SLOTS = 1  # trainings at once per server process: one core's worth


WAIT_FOR_SLOT_S = 5.0  # how long a Train press queues for a slot before saying "busy"


MOST_RUNS = 8  # runs a session keeps side by side


RUNS_KEY = "lab_runs"


TRAIN_KEY = keys.LAB_TRAIN  # the Train button's key: bench/ presses it too


BUSY_MESSAGE = N_("Busy: other students' runs are training right now. Press Train again.")


# `core.lab`'s optimizer titles that are words, marked so that the catalogs hold them; a title
# not listed is shown as it is.
OPTIMIZER_WORDS = (N_("SGD, momentum 0.9 (the article's)"),)


# The runs table's column headings, marked for translation (`runs_table` fills their cells).
RUN_COLUMNS = (
    N_("run"),
    N_("exact match at 0.5"),
    N_("best threshold (its exact match)"),
    N_("top-k told k"),
    N_("mAP"),
    N_("labels answered / true"),
    N_("CPU s"),
)


CHART_HEIGHT = 260


ROW_HEIGHT = 35  # pixels per row of st.dataframe


@st.cache_resource(show_spinner=False)
def training_slots() -> threading.BoundedSemaphore:
    """The process's training slots, shared by every session."""
    return threading.BoundedSemaphore(TRAINING_SLOTS)


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
    optimizer = checked.choice(
        "lab optimizer", st.session_state.get("lab_optimizer"), lab.DEFAULT_RATES, lab.SGD
    )
    st.session_state.lab_rate = lab.DEFAULT_RATES[optimizer]


def lab_controls(families: dict, titles: dict) -> tuple[lab.LabConfig, str]:
    """(the run's settings, the data family) from the four controls."""
    st.session_state.setdefault("lab_rate", lab.DEFAULT_RATES[lab.SGD])
    loss_column, optimizer_column, rate_column, data_column = st.columns([3, 3, 3, 3])
    loss = loss_column.selectbox(
        _("Ending and loss"),
        list(KINDS),
        format_func=lambda k: term(KINDS[k].title),
        key="lab_loss",
    )
    optimizer = optimizer_column.radio(
        _("Optimizer"),
        lab.OPTIMIZERS,
        format_func=lambda o: _(lab.OPTIMIZER_TITLES[o]),
        key="lab_optimizer",
        on_change=use_default_rate,
    )
    rate = rate_column.select_slider(
        _("Learning rate"), LEARNING_RATES, key="lab_rate", format_func=lambda r: f"{r:g}"
    )
    data = data_column.radio(
        _("Training data"),
        list(families),
        format_func=lambda family: term(titles.get(family, family)),
        key="lab_data",
    )
    loss = checked.choice("lab loss", loss, KINDS, next(iter(KINDS)))
    optimizer = checked.choice("lab optimizer", optimizer, lab.OPTIMIZERS, lab.SGD)
    rate = checked.choice("lab rate", rate, LEARNING_RATES, lab.DEFAULT_RATES[optimizer])
    data = checked.choice("lab data", data, families, next(iter(families)))
    return lab.LabConfig(loss, optimizer, rate), data


def frozen_note(context: PageContext, features, config: lab.LabConfig) -> None:
    try:
        entry = context.manifest.by_name(features.trunk)
        trunk = _("**{model}** (`{file}`, its 12 convolutions)").format(
            model=entry.label, file=entry.file.name
        )
    except KeyError:
        trunk = f"**{features.trunk}**"
    st.caption(
        _(
            "**Frozen:** the trunk of {trunk}: it turned each composite into 256 pooled numbers "
            "once, for {train} training and {test} test composites. **Learns:** only the last "
            "layer, 256 x 10 weights + 10 biases = 2,570 numbers, from random values, {epochs} "
            "epochs in batches of {batch}."
        ).format(
            trunk=trunk,
            train=f"{len(features.x_train):,}",
            test=f"{len(features.x_test):,}",
            epochs=config.epochs,
            batch=config.batch_size,
        )
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
    if not st.button(_("Train"), type="primary", key=TRAIN_KEY):
        return
    run = train_when_free(config, features)
    if run is None:
        st.warning(_(BUSY_MESSAGE))
        return
    keep_run(run, data)


@st.cache_data(show_spinner=False, max_entries=256)
def curves_template(
    metric: str, runs: tuple[str, ...], colours: tuple[str, ...], language: str
) -> dict:
    """The chart of one metric of the runs, in `language` (the page's), without its data."""
    import altair as alt

    chart = charts.lab_curves_chart(alt.NamedData(name="rows"), metric, list(runs), list(colours))
    return chart.to_dict()


def show_curves(runs: list[dict]) -> None:
    labels = tuple(run["run"] for run in runs)
    colours = tuple(charts.lab_run_colour(run["number"]) for run in runs)
    language = i18n.current_language()
    for metric, column in zip(charts.LAB_METRICS, st.columns(len(charts.LAB_METRICS)), strict=True):
        rows = [
            {"run": run["run"], "epoch": row["epoch"], "value": row[metric]}
            for run in runs
            for row in run["result"].epochs
        ]
        spec = charts.with_data(curves_template(metric, labels, colours, language), rows=rows)
        alt = ngettext(
            "{metric} after each epoch, {count} run: {runs}.",
            "{metric} after each epoch, {count} runs: {runs}.",
            len(runs),
        ).format(metric=_(charts.LAB_METRICS[metric]), count=len(runs), runs="; ".join(labels))
        spec, alt = charts.accessible(spec, alt)
        column.vega_lite_chart(spec, width="stretch", alt=alt)


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: the end-of-run figures on the test composites."""
    rows = []
    for run in runs:
        final = run["result"].final
        best = f"{final['best_threshold']:.2f} ({final['best_exact_match']:.1%})"
        cells = (
            run["run"],
            f"{final['exact_match']:.1%}",
            best,
            f"{final['top_k_told_k']:.1%}",
            f"{final['mean_average_precision']:.3f}",
            f"{final['labels_answered']:.2f} / {final['labels_true']:.2f}",
            f"{run['result'].seconds:.2f}",
        )
        rows.append(dict(zip([_(name) for name in RUN_COLUMNS], cells, strict=True)))
    return pd.DataFrame(rows, columns=[_(name) for name in RUN_COLUMNS])


def coloured_runs(runs: list[dict]):
    """The runs table with each run's name in its chart colour: the charts' legend."""
    frame = runs_table(runs)
    colours = [f"color: {charts.lab_run_colour(run['number'])}" for run in runs]
    return frame.style.apply(lambda column: colours, subset=[_(RUN_COLUMNS[0])])


def show_outputs(run: dict, features, number: int) -> None:
    """The last run's outputs on one test composite, after the epoch the slider names."""
    result = run["result"]
    epochs = len(result.shown_logits)
    epoch = st.slider(_("After epoch"), 1, epochs, epochs, key="lab_epoch") if epochs > 1 else 1
    kind = KINDS[result.config.loss]
    probabilities = lab.activate(kind, result.shown_logits[epoch - 1][number])
    truth = features.y_test[number]
    bars = [
        {"class": term(name), "probability": float(p), "outcome": _(o)}
        for name, p, o in zip(
            CLASS_NAMES, probabilities, outcomes(truth, decide(probabilities)), strict=True
        )
    ]
    language = i18n.current_language()
    template = cache.probability_template(True, True, CHART_HEIGHT, language)
    spec = charts.with_data(template, bars=bars, threshold=[{"threshold": THRESHOLD}])
    total = f"{probabilities.sum():.2f}"
    st.markdown(_("**{run}** · sum of outputs {total}").format(run=run["run"], total=total))
    above = [
        term(name) for name, p in zip(CLASS_NAMES, probabilities, strict=True) if p >= THRESHOLD
    ]
    alt = _(
        "The outputs of run {run} on this composite after epoch {epoch}; at or above "
        "{threshold}: {classes}."
    ).format(
        run=run["run"],
        epoch=epoch,
        threshold=THRESHOLD,
        classes=", ".join(above) or _("nothing"),
    )
    spec, alt = charts.accessible(spec, alt)
    st.vega_lite_chart(spec, width="stretch", height=CHART_HEIGHT, alt=alt)


def gradient_table(run: dict, features, number: int) -> pd.DataFrame:
    """Every loss's value and the push it sends each output, at the last run's logits on one
    composite: minus the gradient, so a positive number pushes the output up."""
    logits = run["result"].shown_logits[-1][number][None]
    truth = features.y_test[number][None]
    columns = {}
    for kind in KINDS.values():
        loss, gradient = kind.lab_loss(truth, logits)
        columns[f"{kind.short} ({loss[0]:.2f})"] = np.round(-gradient[0], 3)
    frame = pd.DataFrame(columns, index=[term(name) for name in CLASS_NAMES])
    frame.insert(0, _("true"), [_("yes") if t else "" for t in truth[0]])
    return frame


def table_height(rows: int) -> int:
    """Pixels that show a data frame's header and `rows` rows without a scroll bar."""
    return (rows + 1) * ROW_HEIGHT + 3


def show_composite_view(runs: list[dict], features, data: str) -> None:
    latest = next((run for run in reversed(runs) if run["data"] == data), None)
    picture, outputs = st.columns([1, 2])
    with picture:
        number = st.selectbox(_("Test composite"), range(SHOWN_COMPOSITES), key="lab_composite")
        present = np.flatnonzero(features.y_test[number])
        names = ", ".join(term(CLASS_NAMES[i]) for i in present) or _("nothing")
        st.image(
            cache.composite_png(features.shown_pixels[number]),
            width=cache.SHOWN_WIDTH,
            alt=_(
                "Test composite {number}: a 64x64 composite of CIFAR-10 pictures, enlarged; "
                "its true label set: {classes}."
            ).format(number=number, classes=names),
        )
    if latest is None:
        outputs.info(_("Train on this data to see its outputs move."))
        return
    with outputs:
        show_outputs(latest, features, number)
    # Full width: a column per kind, each readable, every class in view on a projector.
    st.markdown(_("**The push each loss sends each output** (loss in brackets; + is up)"))
    gradients = gradient_table(latest, features, number)
    st.dataframe(gradients, height=table_height(len(gradients)))


def show_lab(context: PageContext) -> None:
    """The lab page."""
    header.title_bar(_("Loss lab: train the last layer yourself"))
    try:
        families = cache.lab_features()
    except ValueError as error:
        st.error(_("{error} Rebuild it with `python -m core.lab_features`.").format(error=error))
        return
    titles = {family.data: family.title for family in context.manifest.families}
    config, data = lab_controls(families, titles)
    frozen_note(context, families[data], config)
    train_button(config, families[data], data)
    runs = st.session_state.get(RUNS_KEY, [])
    if not runs:
        st.info(_("Press Train: the chart and the table fill in, one line per run."))
        return
    show_curves(runs)
    st.dataframe(coloured_runs(runs), hide_index=True)
    show_composite_view(runs, families[data], data)


def page() -> None:
    context = page_context()
    if context is not None:
        show_lab(context)
