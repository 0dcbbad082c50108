"""What a lesson step and a class room's step both draw: the step's composite with its alt text,
its heading, text and question in the page's language, the verdict on an answer, and the panels
the step lists after its reveal. The steps themselves are data in `demo.lesson`; the panels are
the workbench's (`demo.ui.panels`).

Every text is translated here, where it is shown: a step's texts (`step_heading`, `step_text`,
`prompt_of`), its choices through `lesson.choice_text` (their values stay English), the verdict
and the panels' words."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import lab
from core.data import CLASS_NAMES, enlarge
from core.evaluation import THRESHOLD
from core.gallery import DEFAULT_PATH as GALLERY_PATH
from core.kinds import KINDS
from demo import cache, lesson, terms
from demo.context import PageContext
from demo.i18n import N_, _, ngettext
from demo.ui import decisions, panels, report

# Words of `core` and of the manifest that the lab panel's caption shows, marked here so that
# the catalogs hold them: the lesson's optimizer (`lab.OPTIMIZER_TITLES`) and the data families'
# names (`Step.lab_data`). A word missing here is shown as it is.
LAB_WORDS = (N_("SGD, momentum 0.9 (the article's)"), N_("one-to-four"), N_("four-distinct"))


def step_composite(step: lesson.Step) -> tuple[np.ndarray, np.ndarray]:
    """The step's composite from the gallery, and its multi-hot truth: its classes tiled 2x2, or
    for a "fill" step its first class's picture enlarged to fill the frame."""
    gallery = cache.gallery(str(GALLERY_PATH))
    if step.layout == "fill":
        label = CLASS_NAMES.index(step.classes[0])
        picture = gallery[label][step.samples[0] % len(gallery[label])]
        truth = np.zeros(len(CLASS_NAMES), dtype=np.float32)
        truth[label] = 1.0
        return enlarge(picture), truth
    picked = []
    for name, sample in zip(step.classes, step.samples, strict=True):
        if name == lesson.EMPTY:
            picked.append((None, 0))
        else:
            label = CLASS_NAMES.index(name)
            picked.append((label, sample % len(gallery[label])))
    return panels.composite_of(picked, gallery)


def step_heading(number: int, count: int, step: lesson.Step) -> str:
    """The step's heading in the page's language: "Step 3 of 9: The threshold decides the set"."""
    return _("Step {number} of {count}: {title}").format(
        number=number, count=count, title=_(step.title)
    )


def step_text(step: lesson.Step, facts: dict[str, str]) -> str:
    """The step's text in the page's language, its figures filled in (translated, then filled)."""
    return lesson.fill(_(step.text), facts)


def prompt_of(step: lesson.Step) -> str:
    """The step's question in the page's language (translated, then filled)."""
    cam_class = terms.term(step.cam_class) if step.cam_class else None
    facts = lesson.lesson_facts(None)
    return lesson.fill(_(step.question.prompt), facts, cam_class=cam_class)


NOBODY = object()  # the guess of a view that asked no one: the teacher's in a class room


@st.cache_data(show_spinner=False, max_entries=4)
def lab_figures(data: str) -> dict[str, dict]:
    """{kind: final figures} of one lab run of every kind on `data`'s shipped features, SGD as
    in the article: computed once per process (`st.cache_data` computes a value once while
    other sessions wait for it), so a whole class costs one training per kind. Numbers only:
    its entries are shared by the pages of every language."""
    features = cache.lab_features()[data]
    return {loss: lab.train_last_layer(lab.LabConfig(loss), features).final for loss in KINDS}


def lab_figures_shown(data: str) -> dict[str, dict]:
    """`lab_figures`, with a spinner in the page's language while it trains (a cached value
    comes back before the spinner would show)."""
    with st.spinner(_("Training every ending on this server…")):
        return lab_figures(data)


def answer_inputs(step: lesson.Step, predictions: dict) -> tuple[dict, dict]:
    """(outputs, maps) that the step's answer is computed from: see `lesson.answer`."""
    if step.lab_data is not None:
        return lab_figures_shown(step.lab_data), {}
    outputs = {name: np.asarray(p.probabilities) for name, p in predictions.items()}
    return outputs, {name: p.maps for name, p in predictions.items()}


def verdict(step: lesson.Step, truth, predictions, facts, guess) -> None:
    """The question, the student's guess, the models' answer and why."""
    outputs, maps = answer_inputs(step, predictions)
    right, why = lesson.answer(step, truth, outputs, maps)
    named = shown_choices(right) or _("nothing")
    st.markdown(f"**{prompt_of(step)}**")
    if guess is NOBODY:
        st.success(_("The answer is **{answer}**. {why}").format(answer=named, why=why))
    elif guess is None or guess == []:
        message = _("You did not answer; the answer is **{answer}**. {why}")
        st.info(message.format(answer=named, why=why))
    else:
        fields = {"guess": shown_choices(guess), "answer": named, "why": why}
        if lesson.is_right(step, guess, right):
            message = _("Right. You said **{guess}**; the answer is **{answer}**. {why}")
            st.success(message.format(**fields))
        else:
            message = _("Not quite. You said **{guess}**; the answer is **{answer}**. {why}")
            st.info(message.format(**fields))
    if step.after:
        st.markdown(lesson.fill(_(step.after), facts))


def shown_choices(choice) -> str:
    """A choice, or a set of them, as the page shows it: "cat, ship" in the page's language."""
    if isinstance(choice, list | tuple):
        return lesson.list_text(lesson.choice_text(c) for c in choice)
    return lesson.choice_text(choice)


@dataclass
class Shown:
    """What a step's panels draw from."""

    step: lesson.Step
    composite: np.ndarray
    truth: np.ndarray
    entries: list  # the step's models, manifest entries
    predictions: dict  # {model name: Prediction}
    manifest: object
    hidden: frozenset[str]


def label_panel(shown: Shown) -> None:
    slots = " ".join(f"{int(v)}" for v in shown.truth)
    st.markdown(_("**Label:** `[{slots}]`").format(slots=slots))
    classes = lesson.list_text(terms.term(name) for name in CLASS_NAMES)
    st.caption(_("Slots in class order: {classes}.").format(classes=classes))


LESSON_RULE_KEYS = ("lesson_threshold", "lesson_top_k")


def bars_panel(shown: Shown) -> None:
    """The models' decisions, with the inputs the step lists (panels "threshold", "topk") above
    them; the browser re-decides as they move."""
    threshold_key, top_k_key = LESSON_RULE_KEYS
    st.session_state.setdefault(threshold_key, THRESHOLD)
    st.session_state.setdefault(top_k_key, 0)
    hidden = "threshold" in shown.hidden
    controls = () if hidden else [name for name in CONTROLS if name in shown.step.panels]
    decisions.decisions_panel(
        "lesson_decisions",
        shown.entries,
        shown.predictions,
        shown.truth,
        LESSON_RULE_KEYS,
        controls,
    )


def scale_panel(shown: Shown) -> None:
    categorical = [entry for entry in shown.entries if entry.kind.scale_free]
    if categorical:
        panels.why_cce_panel(shown.predictions[categorical[0].name], shown.truth, explain=False)


def maps_panel(shown: Shown) -> None:
    cam_class = CLASS_NAMES.index(shown.step.cam_class)
    panels.show_activation_maps(shown.composite, shown.predictions, shown.entries, cam_class)
    path = shown.manifest.evaluation
    found = report.read_report(str(path), cache.file_stamp(path))[0]
    checked = map_aim_text(shown.step, found, shown.manifest)
    if checked:
        st.markdown(checked)


def map_aim_text(step: lesson.Step, evaluation: dict | None, manifest) -> str | None:
    """How often the step's first model's map for its class lands on that class's quadrant, on
    the test composites of four distinct classes (`core.evaluate`'s `map_aim`), in the page's
    language; None when the evaluation has no such figure."""
    name = step.models[0]
    figures = (evaluation or {}).get("models", {}).get(name, {}).get("map_aim", {})
    by_class = figures.get("four_distinct", {}).get("by_class", {}).get(step.cam_class, {})
    if by_class.get("hit_rate") is None:
        return None
    message = _(
        "Checked on the test set: {model}'s map for “{cam_class}” lands on the quadrant of the "
        "{cam_class} in {rate} of the {maps} test composites that hold one."
    )
    return message.format(
        model=manifest.by_name(name).label,
        cam_class=terms.term(step.cam_class),
        rate=f"{by_class['hit_rate']:.0%}",
        maps=f"{by_class['maps']:,}",
    )


def results_panel(shown: Shown) -> None:
    manifest = shown.manifest
    path = manifest.evaluation
    found, problem = report.read_report(str(path), cache.file_stamp(path))
    if found is None:
        st.info(problem)
        return
    st.markdown(report.summary_markdown(found, manifest))


def lab_panel(shown: Shown) -> None:
    """The figures of the lab's run of every ending, as trained on this server: a Markdown
    table, drawn at once and wrapped to the column (a data frame's canvas is neither)."""
    data = shown.step.lab_data
    header = (
        _("ending"),
        _("exact match at {threshold}").format(threshold=THRESHOLD),
        _("best threshold (its exact match)"),
        _("labels answered / true"),
    )
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|"]
    for loss, figures in lab_figures_shown(data).items():
        lines.append(
            f"| **{lesson.short_text(KINDS[loss].short)}** | {figures['exact_match']:.1%} | "
            f"{figures['best_threshold']:.2f} ({figures['best_exact_match']:.1%}) | "
            f"{figures['labels_answered']:.2f} / {figures['labels_true']:.2f} |"
        )
    st.markdown("\n".join(lines))
    config = lab.LabConfig()
    caption = _(
        "Trained on this server: the last layer only, {epochs} epochs of {optimizer} at {rate}, "
        "on the shipped features of {data} composites; figures on the lab's test composites."
    )
    st.caption(
        caption.format(
            epochs=config.epochs,
            optimizer=_(lab.OPTIMIZER_TITLES[config.optimizer]),
            rate=f"{config.rate:g}",
            data=_(data),
        )
    )


PANELS = {
    "label": label_panel,
    "bars": bars_panel,
    "scale": scale_panel,
    "maps": maps_panel,
    "results": results_panel,
    "lab": lab_panel,
}


CONTROLS = decisions.CONTROLS  # not panels of their own: the inputs of the "bars" panel


def step_facts(manifest) -> dict[str, str]:
    path = manifest.evaluation
    return lesson.lesson_facts(report.read_report(str(path), cache.file_stamp(path))[0])


def composite_alt(step: lesson.Step | None = None, revealed: bool = False) -> str:
    """What the composite shows, for a screen reader: before the reveal without its classes (the
    question may ask for them), after it with the class of every quadrant."""
    if step is None:
        return _("The step's composite: CIFAR-10 pictures tiled 2x2 into one image.")
    if step.layout == "fill":
        if revealed:
            alt = _("The step's picture: one CIFAR-10 picture of a {name}, enlarged to fill it.")
            return alt.format(name=terms.term(step.classes[0]))
        return _("The step's picture: one CIFAR-10 picture, enlarged to fill it.")
    if revealed:
        places = ("top_left", "top_right", "bottom_left", "bottom_right")
        named = dict(zip(places, step.classes, strict=True))
        alt = _(
            "The step's composite, tiled 2x2: {top_left} at the top left, {top_right} at the top "
            "right, {bottom_left} at the bottom left, {bottom_right} at the bottom right."
        )
        return alt.format(**{place: terms.term(name) for place, name in named.items()})
    pictures = sum(name != lesson.EMPTY for name in step.classes)
    if pictures == len(step.classes):
        return _("The step's composite: four CIFAR-10 pictures tiled 2x2.")
    alt = ngettext(
        "The step's composite, tiled 2x2: {count} of its four quadrants holds a CIFAR-10 "
        "picture, the others are empty.",
        "The step's composite, tiled 2x2: {count} of its four quadrants hold CIFAR-10 "
        "pictures, the others are empty.",
        pictures,
    )
    return alt.format(count=pictures)


def show_composite(composite, step: lesson.Step | None = None, revealed: bool = False) -> None:
    """The step's composite, with an alt text that names its classes only after the reveal."""
    panels.show_picture(composite, composite_alt(step, revealed))


def show_answer(step, composite, truth, context: PageContext, guess) -> None:
    """After the reveal: the step's panels beside the verdict on `guess` (the student's answer,
    or NOBODY for a teacher) and the step's controls, drawn from the page's `context`."""
    charts_column, talk_column = st.columns([2, 1], gap="medium")
    predictor = context.predictor
    missing = [n for n in step.models if predictor is None or n not in predictor.names]
    if missing:
        message = _("This step needs the model(s) {models}, which did not load.")
        talk_column.error(message.format(models=lesson.list_text(missing)))
        return
    predictions = cache.predict_models(predictor, context.signature, composite, step.models)
    manifest = context.manifest
    entries = [manifest.by_name(name) for name in step.models]
    shown = Shown(step, composite, truth, entries, predictions, manifest, context.hidden)
    with talk_column:
        if step.question:
            verdict(step, truth, predictions, step_facts(manifest), guess)
    with charts_column:
        for name in step.panels:
            if name not in CONTROLS:
                PANELS[name](shown)
