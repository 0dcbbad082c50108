"""The test-set report under the workbench, from the committed evaluation JSON and the models'
training histories only: tables and Vega-Lite specs built once per file and language."""

from __future__ import annotations

import math

import streamlit as st

from core import evaluation
from core.data import CLASS_NAMES
from core.evaluation import THRESHOLD
from demo import cache, charts, i18n, messages
from demo.i18n import N_, _
from demo.terms import term

# (the column's heading, as marked for translation; the report's key): the headings are the
# `cell` formats' names too.
COLUMNS = (
    (N_("exact match"), "exact_match"),
    (N_("per-label accuracy"), "per_label_accuracy"),
    (N_("mAP"), "mean_average_precision"),
    (N_("labels answered"), "mean_predicted_labels"),
)
OBJECTS_EXACT_MATCH = N_("1-4 objects: exact match")
OBJECTS_LABELS = N_("labels answered (1-4)")
# The training-data families' short names in the table (`data` with spaces for hyphens); a
# family not listed here is shown as its name.
FAMILY_NAMES = {
    "four-distinct": N_("four distinct"),
    "one-to-four": N_("one to four"),
    "anywhere": N_("objects anywhere"),
}
# The columns of the table by layout (`core.evaluate`'s `by_layout`): (heading, layout, number of
# objects or None for the whole layout).
LAYOUT_COLUMNS = (
    (N_("one object filling the frame"), "fill", None),
    (N_("one mid-sized object"), "single", None),
    (N_("2 scattered"), "scattered", "2"),
    (N_("3 scattered"), "scattered", "3"),
    (N_("4 scattered"), "scattered", "4"),
    (N_("the article's grid"), "grid", None),
)
ONE_TO_FOUR = "one_to_four"
EVALUATE_HINT = "python -m core.evaluate"
CCE_FLOOR = 4 * math.log(4)  # categorical cross-entropy's least value with four true labels


@st.cache_data(show_spinner=False)
def checked_report(path: str, stamp: int | None) -> tuple[dict | None, str | None]:
    """(the evaluation JSON, None) or (None, why it cannot be shown, a `messages.Message`)."""
    report = cache.load_json(path)
    if report is None:
        message = N_("No test-set evaluation found. Create it with `{command}`.")
        return None, messages.Message(message, command=EVALUATE_HINT)
    try:
        return evaluation.check_report(report), None
    except ValueError as error:
        message = N_(
            "The test-set evaluation `{path}` cannot be shown: {error}. Re-create it with "
            "`{command}`."
        )
        return None, messages.Message(message, path=path, error=str(error), command=EVALUATE_HINT)


def read_report(path: str, stamp: int | None) -> tuple[dict | None, str | None]:
    """(the evaluation JSON, None) or (None, why it cannot be shown, in the page's language);
    read and checked once per version of the file."""
    report, problem = checked_report(path, stamp)
    return report, None if problem is None else messages.translated(problem)


def cell(column: str, value) -> str:
    if value is None:
        return "–"
    if column == "labels answered":
        return f"{value:.2f}"
    return f"{value:.2%}" if column != "mAP" else f"{value:.3f}"


def family_name(data: str) -> str:
    return _(FAMILY_NAMES.get(data, data.replace("-", " ")))


def results_markdown(report: dict, manifest) -> str:
    """Every model on both test sets beside the article and the baselines, as Markdown, in the
    page's language."""
    heads = [_(name) for name, _key in COLUMNS] + [_(OBJECTS_EXACT_MATCH), _(OBJECTS_LABELS)]
    lines = [
        "| | " + _("trained on") + " | " + " | ".join(heads) + " |",
        "|---" * (len(heads) + 2) + "|",
    ]
    families = {family.data: family_name(family.data) for family in manifest.families}
    for entry in manifest.models:
        result = report["models"].get(entry.name)
        if result is None:
            continue
        objects = result["by_set"].get(ONE_TO_FOUR, {})
        values = [cell(name, result[key]) for name, key in COLUMNS]
        values.append(cell("exact match", objects.get("exact_match")))
        values.append(cell("labels answered", objects.get("mean_predicted_labels")))
        lines.append(f"| {entry.label} | {families[entry.data]} | " + " | ".join(values) + " |")
    for loss, numbers in evaluation.ARTICLE_RESULTS.items():
        values = [cell(name, numbers.get(key)) for name, key in COLUMNS] + ["–", "–"]
        row = _("{model} (article)").format(model=loss.upper())
        lines.append(
            f"| {row} | {families.get('four-distinct', '')} | " + " | ".join(values) + " |"
        )
    base = report["baselines"]
    chance = [
        cell("exact match", base["chance_exact_match"]),
        cell("per-label accuracy", base["all_negative_per_label"]),
        "–",
        "–",
        "–",
        "–",
    ]
    baseline = _("chance / all-negative")
    lines.append(f"| {baseline} | | " + " | ".join(chance) + " |")
    return "\n".join(lines)


def summary_markdown(report: dict, manifest) -> str:
    """Three numbers per model, for one projector screen: exact match on four distinct classes,
    on one to four objects, and the labels answered there; in the page's language."""
    heads = [_("model"), _("exact match"), _(OBJECTS_EXACT_MATCH), _(OBJECTS_LABELS)]
    lines = ["| " + " | ".join(heads) + " |", "|---|---|---|---|"]
    for entry in manifest.models:
        result = report["models"].get(entry.name)
        if result is None:
            continue
        objects = result["by_set"].get(ONE_TO_FOUR, {})
        lines.append(
            f"| {entry.label} | {cell('exact match', result['exact_match'])} | "
            f"{cell('exact match', objects.get('exact_match'))} | "
            f"{cell('labels answered', objects.get('mean_predicted_labels'))} |"
        )
    for loss, numbers in evaluation.ARTICLE_RESULTS.items():
        row = _("{model}, the article").format(model=loss.upper())
        lines.append(f"| {row} | {cell('exact match', numbers['exact_match'])} | – | – |")
    return "\n".join(lines)


@st.cache_data(show_spinner=False)
def test_set_specs(
    path: str, stamp: int | None, _manifest, manifest_stamp, data: str, language: str
) -> dict:
    """Vega-Lite specs of the threshold sweep and per-class F1 of one family's models, and of
    exact match by number of objects for every model; their texts, and the results table, in
    `language` (the page's)."""
    import pandas as pd

    report = checked_report(path, stamp)[0]
    family = [e for e in _manifest.in_family(data) if e.name in report["models"]]
    every = [e for e in _manifest.models if e.name in report["models"]]
    sweep_rows, f1_rows, by_objects = [], [], []
    for entry in family:
        result, tag = report["models"][entry.name], {"model": entry.label, "colour": entry.colour}
        sweep = result["threshold_sweep"]
        for t, value in zip(sweep["threshold"], sweep["exact_match"], strict=True):
            sweep_rows.append({**tag, "threshold": t, "value": value})
        for index, value in enumerate(result["per_class"]["f1"]):
            f1_rows.append({**tag, "class": term(CLASS_NAMES[index]), "F1": value})
    for entry in every:
        counts = report["models"][entry.name]["by_set"].get(ONE_TO_FOUR, {}).get("by_objects", {})
        for count, numbers in counts.items():
            tag = {"model": entry.label, "colour": entry.colour, "objects": int(count)}
            by_objects.append({**tag, **numbers})

    def spec(chart):
        return charts.with_arrow_datasets(chart.to_dict())

    return {
        "by_objects": by_objects,
        "by_objects_chart": spec(charts.by_objects_chart(pd.DataFrame(by_objects)))
        if by_objects
        else None,
        "sweep": spec(charts.sweep_chart(pd.DataFrame(sweep_rows), THRESHOLD)) if family else None,
        "f1": spec(charts.per_class_chart(pd.DataFrame(f1_rows))) if family else None,
        "best": {e.label: report["models"][e.name]["best_threshold"] for e in family},
        "table": results_markdown(report, _manifest),
        "composites": report["test_composites"],
    }


@st.cache_data(show_spinner=False)
def curve_specs(_entries: list, names: tuple, stamps: tuple, language: str) -> dict[str, dict]:
    """{metric: Vega-Lite spec} of the training curves of the models with a history file, in
    `language` (the page's)."""
    histories, labels, colours = {}, {}, {}
    for entry in _entries:
        history = cache.load_json(str(entry.history)) if entry.history else None
        if history:
            histories[entry.name] = history
            labels[entry.name], colours[entry.name] = entry.label, entry.colour
    if not histories:
        return {}
    frame = charts.curves_frame(histories, labels, colours)
    specs = {}
    has_categorical = any(entry.kind.categorical for entry in _entries if entry.name in histories)
    for metric, title in charts.CURVE_TITLES.items():
        floor = CCE_FLOOR if metric == "loss" and has_categorical else None
        chart = charts.curves_chart(frame[frame.metric == metric], _(title), floor)
        specs[metric] = charts.with_arrow_datasets(chart.to_dict())
    return specs


def chart(spec: dict, alt: str | None = None) -> None:
    """A cached spec at the column's width, its description (and `alt`, what it shows now) its
    text alternative."""
    spec, alt = charts.accessible(spec, alt)
    st.vega_lite_chart(spec, width="stretch", alt=alt)


def show_test_results(specs: dict) -> None:
    st.markdown(specs["table"])
    st.caption(
        _(
            "{composites} seeded test composites of four distinct classes from the CIFAR-10 "
            "test split, and as many with one to four objects; threshold {threshold}. Exact "
            "match: all 10 decisions right. Chance exact match = 1/210 (guessing 4 of 10 "
            "classes); predicting no label at all already gets 60% per-label accuracy."
        ).format(composites=f"{specs['composites']:,}", threshold=THRESHOLD)
    )
    if specs["sweep"] is None:
        return
    left, right = st.columns(2)
    with left:
        st.markdown(_("**Exact match against the threshold** (this training data)"))
        best = "; ".join(
            f"{label} {b['threshold']:.2f} ({b['exact_match']:.1%})"
            for label, b in specs["best"].items()
        )
        alt = _("Best thresholds on the test set: {best}.").format(best=best)
        chart(specs["sweep"], alt)
        st.caption(
            _("Best threshold on the test set: {best}. The dashed line is at {threshold}.").format(
                best=best, threshold=THRESHOLD
            )
        )
    with right:
        st.markdown(_("**F1 per class at {threshold}**").format(threshold=THRESHOLD))
        chart(specs["f1"])


def show_by_objects(specs: dict, manifest) -> None:
    if specs["by_objects_chart"] is None:
        st.info(_("No evaluation on composites with one to four objects found."))
        return
    left, right = st.columns([3, 2])
    with left:
        st.markdown(_("**Exact match on composites with one to four objects**"))
        chart(specs["by_objects_chart"])
    labels = [
        e.label for e in manifest.models if any(r["model"] == e.label for r in specs["by_objects"])
    ]
    with right:
        st.markdown(_("**How many labels the models answer**"))
        heads = [_("objects"), _("true")]
        rows = [
            "| " + " | ".join(heads + labels) + " |",
            "|---" * (2 + len(labels)) + "|",
        ]
        for count in (1, 2, 3, 4):
            found = {r["model"]: r for r in specs["by_objects"] if r["objects"] == count}
            if not found:
                continue
            true_labels = next(iter(found.values()))["mean_true_labels"]
            answers = [
                f"{found[label]['mean_predicted_labels']:.2f}" if label in found else "–"
                for label in labels
            ]
            rows.append(f"| {count} | {true_labels:.2f} | " + " | ".join(answers) + " |")
        st.markdown("\n".join(rows))
    st.caption(
        _(
            "{composites} test composites with 1, 2, 3 or 4 CIFAR-10 objects (a class may "
            "repeat) and flat quadrants of a random colour, a quarter of each; threshold "
            "{threshold}. The models of the article's data only ever saw four distinct classes."
        ).format(composites=f"{specs['composites']:,}", threshold=THRESHOLD)
    )


def show_training_curves(entries: list) -> None:
    stamps = tuple(cache.file_stamp(e.history) if e.history else None for e in entries)
    language = i18n.current_language()
    specs = curve_specs(entries, tuple(e.name for e in entries), stamps, language)
    if not specs:
        st.info(_("No training history found next to the models."))
        return
    for column, (metric, spec) in zip(st.columns(len(specs)), specs.items(), strict=True):
        title = _(charts.CURVE_TITLES[metric])
        with column:
            st.markdown(f"**{title}**")
            chart(spec)
    st.caption(
        _(
            "Validation composites come from CIFAR-10 training images held out from training. "
            "The categorical losses flatten out above n ln n for n true labels "
            "(4 ln 4 = 5.55)."
        )
    )


def layout_markdown(report: dict, manifest) -> str | None:
    """Every model's exact match at the threshold by layout (objects of any size and place), as
    Markdown in the page's language; None when the evaluation has no such figures."""
    heads = [_("model"), _("trained on")] + [_(name) for name, _layout, _count in LAYOUT_COLUMNS]
    lines = ["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for entry in manifest.models:
        layouts = report["models"].get(entry.name, {}).get("by_layout")
        if not layouts:
            continue
        values = []
        for _name, layout, count in LAYOUT_COLUMNS:
            figures = layouts.get(layout, {})
            if count is not None:
                figures = figures.get("by_objects", {}).get(count, {})
            values.append(cell("exact match", figures.get("exact_match")))
        family = family_name(entry.data)
        lines.append(f"| {entry.label} | {family} | " + " | ".join(values) + " |")
    return "\n".join(lines) if len(lines) > 2 else None


def show_by_layout(report: dict, manifest) -> None:
    table = layout_markdown(report, manifest)
    if table is None:
        message = _("This evaluation has no figures by layout. Re-create it with `{command}`.")
        st.info(message.format(command=EVALUATE_HINT))
        return
    title = _(
        "**Exact match at {threshold} by layout**, on CIFAR-10's test pictures placed "
        "anywhere, at any size"
    )
    st.markdown(title.format(threshold=evaluation.THRESHOLD))
    st.markdown(table)


def show_map_aim(report: dict | None, manifest, container) -> None:
    """In `container`: how often each model's map for a present class puts the most evidence on
    that class's own quadrant (`core.map_aim`), on four distinct classes and on one to four
    objects by their number; a short note when the evaluation has no such figures."""
    if report is None:
        return
    counts = ("1", "2", "3", "4")
    heads = [_("model"), _("four distinct")]
    heads += [
        i18n.ngettext("{count} object", "{count} objects", int(c)).format(count=c) for c in counts
    ]
    lines = ["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for entry in manifest.models:
        aim = report["models"].get(entry.name, {}).get("map_aim")
        if not aim:
            continue
        by_objects = aim.get("one_to_four", {}).get("by_objects", {})
        rates = [aim.get("four_distinct", {}).get("hit_rate")]
        rates += [by_objects.get(count, {}).get("hit_rate") for count in counts]
        lines.append(
            f"| {entry.label} | " + " | ".join(cell("exact match", r) for r in rates) + " |"
        )
    with container:
        if len(lines) == 2:
            message = _(
                "This evaluation does not say where the maps look. Re-create it with `{command}`."
            )
            st.caption(message.format(command=EVALUATE_HINT))
            return
        st.markdown(
            _(
                "**Where the maps look**: how often a present class's activation map puts the "
                "most evidence on its own quadrant, on test composites"
            )
        )
        st.markdown("\n".join(lines))


def show_report(manifest, data: str) -> None:
    """The tabs under the workbench: results, one to four objects, training curves."""
    path = manifest.evaluation
    stamp = cache.file_stamp(path)
    report, problem = read_report(str(path), stamp)
    results, objects, layouts, curves = st.tabs(
        [_("Results"), _("One to four objects"), _("By layout"), _("Training curves")]
    )
    if report is None:
        results.info(problem)
        objects.info(problem)
        layouts.info(problem)
    else:
        manifest_stamp = cache.file_stamp(manifest.folder / "models.json")
        language = i18n.current_language()
        specs = test_set_specs(str(path), stamp, manifest, manifest_stamp, data, language)
        with results:
            show_test_results(specs)
        with objects:
            show_by_objects(specs, manifest)
        with layouts:
            show_by_layout(report, manifest)
    with curves:
        show_training_curves(manifest.in_family(data))
    show_map_aim(report, manifest, layouts)
