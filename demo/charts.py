"""Altair chart builders: pure functions, a DataFrame in and a chart out.

Their titles, axis and legend titles, tooltips and descriptions (each chart's text alternative,
Vega-Lite's top-level `description`) are in the language of the page being drawn: a spec built
once per process must be cached per language (see `demo.i18n`)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from demo.i18n import N_, _

# Told apart by everyone in the class: every pair of the four outcomes, and above / below, is at
# least 30 apart (CIE76 in Lab) with normal vision, deuteranopia and protanopia, and from the
# white page (`demo.colour_vision`; tests/test_colours.py checks). Okabe-Ito blue, orange and
# grey; a dark red for "missed", as Okabe-Ito's vermillion is too near its orange for
# deuteranopes. A threshold's "yes" keeps the true positive's colour and its "no" the true
# negative's: the truth only recolours the mistakes, in the two warm colours.
OUTCOME_COLOURS = {
    N_("true positive"): "#0072b2",
    N_("false positive"): "#e69f00",
    N_("false negative"): "#b2182b",
    N_("true negative"): "#999999",
    N_("above threshold"): "#0072b2",
    N_("below threshold"): "#999999",
}
# Models without a colour of their own (the manifest gives every shipped model one); each pair
# 30 apart under the three visions, as the manifest's colours are.
FALLBACK_PALETTE = ("#5a3d33", "#ad3800", "#6a1b9a", "#038491", "#c6c044")


def vertical_rule(field: str, value, size: float = 1):
    """A dashed black vertical line on the quantitative x axis named `field`: at `value`, or
    wherever the rows of `value` (a DataFrame or `alt.NamedData`) put it."""
    data = value if not isinstance(value, int | float) else pd.DataFrame({field: [value]})
    return (
        alt.Chart(data)
        .mark_rule(color="black", strokeDash=[6, 3], size=size)
        .encode(x=f"{field}:Q")
    )


def arrow_bytes(rows: list[dict]) -> bytes:
    """Rows as an Arrow IPC stream, the form in which Streamlit sends a chart's named dataset:
    a chart whose datasets are bytes already skips Streamlit's pandas round trip."""
    import pyarrow as pa

    table = pa.Table.from_pylist(rows)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def with_data(spec: dict, **datasets: list[dict]) -> dict:
    """A copy of a Vega-Lite `spec` whose named datasets are replaced by `datasets` (rows)."""
    ready = {name: arrow_bytes(rows) for name, rows in datasets.items()}
    return {**spec, "datasets": {**spec.get("datasets", {}), **ready}}


def with_arrow_datasets(spec: dict) -> dict:
    """A copy of a Vega-Lite `spec` (as Altair writes it) with every dataset as Arrow bytes."""
    return with_data(spec, **spec.get("datasets", {}))


def model_colour(frame: pd.DataFrame):
    """A colour encoding that keeps each model's colour the same on every chart: the frame's
    `colour` column where it has one (from the manifest), else a fallback palette."""
    models = list(dict.fromkeys(frame["model"]))
    given = dict(zip(frame["model"], frame["colour"], strict=True)) if "colour" in frame else {}
    colours = [
        given.get(m) or FALLBACK_PALETTE[i % len(FALLBACK_PALETTE)] for i, m in enumerate(models)
    ]
    return alt.Color(
        "model:N",
        scale=alt.Scale(domain=models, range=colours),
        legend=alt.Legend(orient="bottom", title=None),
    )


def probability_chart(
    data, threshold=None, outcomes=None, height: int = 280, legend=True, translated=False
):
    """Horizontal bars of `probability` per `class`, coloured by `outcome`, with a rule at the
    threshold. `data` and `threshold` are rows (a DataFrame, a number) or `alt.NamedData`;
    `outcomes` fixes the colours (default: the outcomes present in `data`); without `legend`
    the page explains them once for several charts. With `translated`, the rows' outcomes are
    in the page's language (`_(outcome)`) and so is the colour scale's domain."""
    if outcomes is None:
        outcomes = [o for o in OUTCOME_COLOURS if o in set(data["outcome"])]
    domain = [_(o) for o in outcomes] if translated else list(outcomes)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y(
                "class:N",
                sort=None,
                title=None,
                axis=alt.Axis(labelFontSize=14, labelOverlap=False),
            ),
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title=None),
            color=alt.Color(
                "outcome:N",
                scale=alt.Scale(domain=domain, range=[OUTCOME_COLOURS[o] for o in outcomes]),
                legend=alt.Legend(orient="bottom", title=None, labelFontSize=12, columns=2)
                if legend
                else None,
            ),
            tooltip=[
                alt.Tooltip("class:N", title=_("class")),
                alt.Tooltip("probability:Q", format=".3f", title=_("output")),
                alt.Tooltip("outcome:N", title=_("outcome")),
            ],
        )
    )
    text = bars.mark_text(align="left", dx=3, fontSize=12).encode(
        text=alt.Text("probability:Q", format=".2f"), color=alt.value("black")
    )
    layers = [bars, text]
    description = _(
        "Bar chart: a model's output for each of the ten classes, from 0 to 1, each bar "
        "coloured by its outcome."
    )
    if threshold is not None:
        layers.append(vertical_rule("threshold", threshold, size=2))
        description = _(
            "Bar chart: a model's output for each of the ten classes, from 0 to 1, each bar "
            "coloured by its outcome; a dashed vertical line marks the decision threshold."
        )
    return alt.layer(*layers).properties(height=height, description=description)


def sweep_chart(frame: pd.DataFrame, threshold: float, metric: str = N_("exact match")):
    """Lines of `value` against `threshold` per `model`, with a rule at the current threshold;
    `metric` is a marked message, translated here."""
    lines = (
        alt.Chart(frame)
        .mark_line(strokeWidth=3)
        .encode(
            x=alt.X("threshold:Q", title=_("decision threshold")),
            y=alt.Y("value:Q", title=_(metric), axis=alt.Axis(format="%")),
            color=model_colour(frame),
            tooltip=[
                alt.Tooltip("model:N", title=_("model")),
                alt.Tooltip("threshold:Q", title=_("threshold")),
                alt.Tooltip("value:Q", format=".2%", title=_(metric)),
            ],
        )
    )
    description = _(
        "Line chart: {metric} on the test composites against the decision threshold from 0 to 1, "
        "one line per model; a dashed vertical line marks the threshold {threshold}."
    ).format(metric=_(metric), threshold=threshold)
    return (lines + vertical_rule("threshold", threshold)).properties(
        height=280, description=description
    )


def per_class_chart(frame: pd.DataFrame, value: str = "F1"):
    """Grouped bars of `value` per `class` and `model`."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X(
                "class:N", sort=None, title=None, axis=alt.Axis(labelAngle=-40, labelOverlap=False)
            ),
            xOffset="model:N",
            y=alt.Y(f"{value}:Q", scale=alt.Scale(domain=[0, 1])),
            color=model_colour(frame),
            tooltip=[
                alt.Tooltip("model:N", title=_("model")),
                alt.Tooltip("class:N", title=_("class")),
                alt.Tooltip(f"{value}:Q", format=".3f"),
            ],
        )
        .properties(
            height=280,
            description=_(
                "Bar chart: {value} on the test composites for each of the ten classes, one bar "
                "per model, from 0 to 1."
            ).format(value=value),
        )
    )


CURVE_TITLES = {
    "loss": N_("loss"),
    "total_acc": N_("exact match"),
    "binary_acc": N_("per-label accuracy"),
}
SPLITS = (N_("train"), N_("validation"))  # the training curves' two line styles


def curves_frame(
    histories: dict[str, dict], labels: dict[str, str], colours: dict[str, str] | None = None
) -> pd.DataFrame:
    """Long table (model, colour, split, metric, epoch, value) from `{name: history JSON}`;
    `labels` and `colours` are keyed by name."""
    rows = []
    for name, history in histories.items():
        for key, values in history.items():
            metric = key.removeprefix("val_")
            if metric not in CURVE_TITLES:
                continue
            split = _(SPLITS[1] if key.startswith("val_") else SPLITS[0])
            for epoch, value in zip(history["epoch"], values, strict=True):
                rows.append(
                    {
                        "model": labels.get(name, name),
                        "colour": (colours or {}).get(name),
                        "split": split,
                        "metric": metric,
                        "epoch": epoch,
                        "value": value,
                    }
                )
    columns = ["model", "colour", "split", "metric", "epoch", "value"]
    return pd.DataFrame(rows, columns=columns)


def curves_chart(frame: pd.DataFrame, metric: str, floor: float | None = None):
    """Training curves: `value` per `epoch`, colour by `model`, dashed for validation; `metric`
    is the y axis's title, as shown (translated by the caller)."""
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title=_("epoch"), axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            color=model_colour(frame),
            strokeDash=alt.StrokeDash("split:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[
                alt.Tooltip("model:N", title=_("model")),
                alt.Tooltip("split:N", title=_("split")),
                alt.Tooltip("epoch:Q", title=_("epoch")),
                alt.Tooltip("value:Q", format=".4f", title=metric),
            ],
        )
    )
    description = _(
        "Line chart: {metric} after each training epoch, one colour per model, solid for the "
        "training composites and dashed for the validation composites."
    ).format(metric=metric)
    if floor is None:
        return lines.properties(height=260, description=description)
    label = _("CCE floor 4 ln 4")
    rule = (
        alt.Chart(pd.DataFrame({"floor": [floor], "label": [label]}))
        .mark_rule(color="#8d004d", strokeDash=[2, 2])
        .encode(
            y="floor:Q",
            tooltip=[
                alt.Tooltip("label:N", title=_("line")),
                alt.Tooltip("floor:Q", title=_("value")),
            ],
        )
    )
    description = _(
        "Line chart: {metric} after each training epoch, one colour per model, solid for the "
        "training composites and dashed for the validation composites; a dotted line marks "
        "categorical cross-entropy's floor, 4 ln 4 = {floor}."
    ).format(metric=metric, floor=f"{floor:.2f}")
    return (lines + rule).properties(height=260, description=description)


def minutes_frame(
    histories: dict[str, dict], labels: dict[str, str], metric: str = "val_total_acc"
) -> pd.DataFrame:
    """Long table (model, minutes, value): `metric` after each epoch against the training
    minutes spent so far (`minutes_elapsed` in the history), starting from (0, 0)."""
    rows = []
    for name, history in histories.items():
        if metric not in history or "minutes_elapsed" not in history:
            raise ValueError(f"History of {name!r} lacks {metric!r} or 'minutes_elapsed'.")
        model = labels.get(name, name)
        rows.append({"model": model, "minutes": 0.0, "value": 0.0})
        for minutes, value in zip(history["minutes_elapsed"], history[metric], strict=True):
            rows.append({"model": model, "minutes": minutes, "value": value})
    return pd.DataFrame(rows, columns=["model", "minutes", "value"])


def minutes_chart(
    frame: pd.DataFrame, title: str, reference: float, reference_label: str, budget: float
):
    """`value` against training minutes per model, with a horizontal rule at `reference` and
    a vertical one at `budget` minutes."""
    lines = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("minutes:Q", title="training minutes (2-core CPU)"),
            y=alt.Y("value:Q", title=title, axis=alt.Axis(format="%")),
            color=model_colour(frame),
            tooltip=[
                "model",
                alt.Tooltip("minutes:Q", format=".1f"),
                alt.Tooltip("value:Q", format=".2%"),
            ],
        )
    )
    marks = pd.DataFrame({"value": [reference], "minutes": [budget], "label": [reference_label]})
    level = alt.Chart(marks).mark_rule(color="black", strokeDash=[2, 2]).encode(y="value:Q")
    # The label starts at the budget line, past the short runs and before the long ones climb.
    level_text = (
        alt.Chart(marks)
        .mark_text(align="left", dx=4, dy=-7, fontSize=11)
        .encode(y="value:Q", x="minutes:Q", text="label:N")
    )
    budget_rule = vertical_rule("minutes", budget)
    budget_text = (
        alt.Chart(pd.DataFrame({"minutes": [budget], "label": [f"{budget:g} min"]}))
        .mark_text(align="left", dx=4, y=8, fontSize=11)
        .encode(x="minutes:Q", text="label:N")
    )
    return (lines + level + level_text + budget_rule + budget_text).properties(height=300)


def loss_versus_scale_chart(data, scale):
    """Loss of each kind against the factor the outputs are multiplied by; `data` and `scale`
    are rows (a DataFrame, a number) or `alt.NamedData`."""
    lines = (
        alt.Chart(data)
        .mark_line(strokeWidth=3)
        .encode(
            x=alt.X("scale:Q", title=_("outputs multiplied by")),
            y=alt.Y("loss:Q", title=_("loss on this composite")),
            color=alt.Color("loss kind:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=[
                alt.Tooltip("loss kind:N", title=_("loss")),
                alt.Tooltip("scale:Q", title=_("factor")),
                alt.Tooltip("loss:Q", format=".3f", title=_("value")),
            ],
        )
    )
    description = _(
        "Line chart: the categorical and the binary cross-entropy of this composite against "
        "the factor from 0.05 to 1 that multiplies the CCE model's outputs; the categorical "
        "line stays flat while the binary one changes. A dashed vertical line marks the factor "
        "chosen."
    )
    return (lines + vertical_rule("scale", scale)).properties(height=240, description=description)


BY_OBJECTS_TITLES = {"exact_match": N_("exact match")}  # others: the column's name in words


def by_objects_chart(frame: pd.DataFrame, value: str = "exact_match"):
    """Grouped bars of `value` (a column of the evaluation's `by_objects` rows) per number of
    `objects` in the composite and per `model`."""
    title = _(BY_OBJECTS_TITLES.get(value, value.replace("_", " ")))
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("objects:O", title=_("objects in the composite"), axis=alt.Axis(labelAngle=0)),
            xOffset="model:N",
            y=alt.Y(
                f"{value}:Q",
                title=title,
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=model_colour(frame),
            tooltip=[
                alt.Tooltip("model:N", title=_("model")),
                alt.Tooltip("objects:O", title=_("objects")),
                alt.Tooltip(f"{value}:Q", format=".1%", title=title),
            ],
        )
        .properties(
            height=260,
            description=_(
                "Bar chart: {metric} on test composites with 1, 2, 3 and 4 objects, one bar per "
                "model for each number of objects."
            ).format(metric=title),
        )
    )


def tally_chart(data, height: int = 200):
    """Horizontal bars of `students` per `choice` (in the order given), each with its count: how
    a class's answers split. `data` is rows (a DataFrame) or `alt.NamedData`."""
    bars = (
        alt.Chart(data)
        .mark_bar(color="#0072b2")
        .encode(
            y=alt.Y("choice:N", sort=None, title=None, axis=alt.Axis(labelFontSize=14)),
            x=alt.X("students:Q", title=_("students"), axis=alt.Axis(tickMinStep=1, format="d")),
            tooltip=[
                alt.Tooltip("choice:N", title=_("answer")),
                alt.Tooltip("students:Q", title=_("students")),
            ],
        )
    )
    counts = bars.mark_text(align="left", dx=4, fontSize=14).encode(text="students:Q")
    description = _("Bar chart: how many students chose each answer, one bar per answer.")
    return alt.layer(bars, counts).properties(height=height, description=description)


LAB_METRICS = {
    "loss": N_("training loss (log scale)"),
    "exact_match": N_("exact match at 0.5"),
    "best_threshold": N_("best threshold"),
}
LOG_SCALED = ("loss",)  # the losses differ by a factor of ten or more: CCE's floor is 5.5
# One colour per lab run, kept by the run while it is shown: as many as a session keeps runs;
# every pair 30 apart under the three visions (blue, orange, green, wine, sky blue, pink, brown,
# black), each dark enough (L* <= 62, about 3:1 against white) for the runs table, which names
# each run in its colour.
LAB_RUN_COLOURS = (
    "#0046a4",
    "#cd8700",
    "#76a164",
    "#740e56",
    "#279de7",
    "#ba7499",
    "#864a00",
    "#000000",
)
AXIS_FONT_SIZE = 13  # readable from the back of a class room
TITLE_FONT_SIZE = 16


def lab_run_colour(number: int) -> str:
    """The colour of the lab's run `number` (1, 2, ...), the same on every chart and the table."""
    return LAB_RUN_COLOURS[(number - 1) % len(LAB_RUN_COLOURS)]


def lab_curves_chart(
    data, metric: str, runs: list[str], colours: list[str], height: int = 200
) -> alt.Chart:
    """The loss lab's per-epoch lines of one metric (a key of LAB_METRICS): `value` per `epoch`,
    one line per `run` in its colour. `data` is rows or `alt.NamedData`. No legend: the runs
    table names each run in its colour, which keeps the three charts the same height."""
    scale = alt.Scale(type="log") if metric in LOG_SCALED else alt.Scale(zero=False)
    axis = alt.Axis(labelFontSize=AXIS_FONT_SIZE, titleFontSize=AXIS_FONT_SIZE)
    title = _(LAB_METRICS[metric])
    return (
        alt.Chart(data, title=alt.Title(title, fontSize=TITLE_FONT_SIZE))
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "epoch:Q",
                title=_("epoch"),
                axis=alt.Axis(tickMinStep=1, format="d", **axis.to_dict()),
            ),
            y=alt.Y("value:Q", title=None, scale=scale, axis=axis),
            color=alt.Color("run:N", scale=alt.Scale(domain=runs, range=colours), legend=None),
            tooltip=[
                alt.Tooltip("run:N", title=_("run")),
                alt.Tooltip("epoch:Q", title=_("epoch")),
                alt.Tooltip("value:Q", format=".3f", title=title),
            ],
        )
        .properties(
            height=height,
            description=_(
                "Line chart: {metric} after each epoch of the loss lab's runs, one line per run "
                "in the colour that names it in the runs table."
            ).format(metric=title),
        )
    )


def accessible(spec: dict, alt: str | None = None) -> tuple[dict, str | None]:
    """(`spec` without its `description`, the chart's text alternative for
    `st.vega_lite_chart(alt=...)`: `alt`, what this chart shows now, then the description of
    what it draws). Streamlit gives the chart its `alt` as the description, and warns, with a
    stack, at every run that sends both."""
    described = spec.get("description")
    if not described:
        return spec, alt
    bare = {key: value for key, value in spec.items() if key != "description"}
    return bare, described if not alt else f"{alt} {described}"
