"""One step of the guided lesson on screen: the step's composite, its question with a Reveal
button, and after the reveal the models' answer and the panels the step lists. The steps
themselves are data in `demo.lesson`; the panels are the workbench's (`demo.panels`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import lab
from core.data import CLASS_NAMES
from core.evaluation import THRESHOLD
from core.gallery import DEFAULT_PATH as GALLERY_PATH
from core.kinds import KINDS
from demo import decisions, lab_page, lesson, panels, report, resources
from demo.context import PageContext


def step_composite(step: lesson.Step) -> tuple[np.ndarray, np.ndarray]:
    """The step's composite from the gallery, and its multi-hot truth."""
    gallery = resources.gallery(str(GALLERY_PATH))
    picked = []
    for name, sample in zip(step.classes, step.samples, strict=True):
        if name == lesson.EMPTY:
            picked.append((None, 0))
        else:
            label = CLASS_NAMES.index(name)
            picked.append((label, sample % len(gallery[label])))
    return panels.composite_of(picked, gallery)


def go_to(number: int) -> None:
    st.query_params["step"] = str(number)


def navigation(number: int, count: int) -> None:
    """The step's title with Back and Next beside it."""
    title, back, forward = st.columns([8, 1, 1], vertical_alignment="center")
    step = lesson.STEPS[number - 1]
    title.subheader(f"Step {number} of {count}: {step.title}")
    back.button(
        "Back",
        key="lesson_back",
        on_click=go_to,
        args=(number - 1,),
        disabled=number == 1,
        width="stretch",
    )
    forward.button(
        "Next",
        key="lesson_next",
        on_click=go_to,
        args=(number + 1,),
        disabled=number == count,
        width="stretch",
        type="primary",
    )


def prompt_of(step: lesson.Step) -> str:
    return lesson.fill(step.question.prompt, lesson.lesson_facts(None), cam_class=step.cam_class)


def reveal(slug: str) -> None:
    """Keep the student's guess (the choices are not drawn again) and show the answer."""
    st.session_state[f"answer_{slug}"] = st.session_state.get(f"guess_{slug}")
    st.session_state[f"revealed_{slug}"] = True


def ask(step: lesson.Step) -> None:
    """The question, its choices and the Reveal button (enabled once the student has chosen)."""
    question = step.question
    guess = st.pills(
        f"**{prompt_of(step)}**",
        question.choices,
        selection_mode="multi" if question.several else "single",
        key=f"guess_{step.slug}",
    )
    answered = bool(guess)
    st.button(
        "Reveal",
        key=f"reveal_{step.slug}",
        type="primary",
        disabled=not answered,
        on_click=reveal,
        args=(step.slug,),
    )
    if not answered:
        st.caption("Choose your answer first; then press Reveal.")


NOBODY = object()  # the guess of a view that asked no one: the teacher's in a class room


@st.cache_data(show_spinner="Training every ending on this server…", max_entries=4)
def lab_figures(data: str) -> dict[str, dict]:
    """{kind: final figures} of one lab run of every kind on `data`'s shipped features, SGD as
    in the article: computed once per process (`st.cache_data` computes a value once while
    other sessions wait for it), so a whole class costs one training per kind."""
    features = lab_page.lab_features()[data]
    return {loss: lab.train_last_layer(lab.LabConfig(loss), features).final for loss in KINDS}


def answer_inputs(step: lesson.Step, predictions: dict) -> tuple[dict, dict]:
    """(outputs, maps) that the step's answer is computed from: see `lesson.answer`."""
    if step.lab_data is not None:
        return lab_figures(step.lab_data), {}
    outputs = {name: np.asarray(p.probabilities) for name, p in predictions.items()}
    return outputs, {name: p.maps for name, p in predictions.items()}


def verdict(step: lesson.Step, truth, predictions, facts, guess) -> None:
    """The question, the student's guess, the models' answer and why."""
    outputs, maps = answer_inputs(step, predictions)
    right, why = lesson.answer(step, truth, outputs, maps)
    named = ", ".join(right) if isinstance(right, tuple) else right
    answer = f"the answer is **{named or 'nothing'}**"
    st.markdown(f"**{prompt_of(step)}**")
    if guess is NOBODY:
        st.success(f"{answer[0].upper()}{answer[1:]}. {why}")
    elif guess is None or guess == []:
        st.info(f"You did not answer; {answer}. {why}")
    else:
        yours = ", ".join(guess) if isinstance(guess, list | tuple) else guess
        message = f"You said **{yours}**; {answer}. {why}"
        if lesson.is_right(step, guess, right):
            st.success("Right. " + message)
        else:
            st.info("Not quite. " + message)
    if step.after:
        st.markdown(lesson.fill(step.after, facts))


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
    st.markdown(f"**Label:** `[{slots}]`")
    st.caption("Slots in class order: " + ", ".join(CLASS_NAMES) + ".")


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


def results_panel(shown: Shown) -> None:
    manifest = shown.manifest
    path = manifest.evaluation
    found, problem = report.read_report(str(path), resources.file_stamp(path))
    if found is None:
        st.info(problem)
        return
    st.markdown(report.summary_markdown(found, manifest))


def lab_panel(shown: Shown) -> None:
    """The figures of the lab's run of every ending, as trained on this server: a Markdown
    table, drawn at once and wrapped to the column (a data frame's canvas is neither)."""
    data = shown.step.lab_data
    lines = [
        f"| ending | exact match at {THRESHOLD} | best threshold (its exact match) "
        "| labels answered / true |",
        "|---|---|---|---|",
    ]
    for loss, figures in lab_figures(data).items():
        lines.append(
            f"| **{KINDS[loss].short}** | {figures['exact_match']:.1%} | "
            f"{figures['best_threshold']:.2f} ({figures['best_exact_match']:.1%}) | "
            f"{figures['labels_answered']:.2f} / {figures['labels_true']:.2f} |"
        )
    st.markdown("\n".join(lines))
    config = lab.LabConfig()
    st.caption(
        f"Trained on this server: the last layer only, {config.epochs} epochs of "
        f"{lab.OPTIMIZER_TITLES[config.optimizer]} at {config.rate:g}, on the shipped features "
        f"of {data} composites; figures on the lab's test composites."
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
    return lesson.lesson_facts(report.read_report(str(path), resources.file_stamp(path))[0])


def show_composite(composite) -> None:
    st.image(
        resources.composite_png(composite),
        caption="What the models see (64x64, enlarged)",
        width="content",
        output_format="PNG",
    )


def show_answer(step, composite, truth, context: PageContext, guess) -> None:
    """After the reveal: the step's panels beside the verdict on `guess` (the student's answer,
    or NOBODY for a teacher) and the step's controls, drawn from the page's `context`."""
    charts_column, talk_column = st.columns([2, 1], gap="medium")
    predictor = context.predictor
    missing = [n for n in step.models if predictor is None or n not in predictor.names]
    if missing:
        talk_column.error(f"This step needs the model(s) {', '.join(missing)}, which did not load.")
        return
    predictions = resources.predict_models(predictor, context.signature, composite, step.models)
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


def show_step(number: int, context: PageContext) -> None:
    """Step `number` (1-based) of the lesson: before the reveal the composite and the question;
    after it, the composite, the step's panels, and the question with the verdict beside them."""
    step = lesson.STEPS[number - 1]
    navigation(number, len(lesson.STEPS))
    st.markdown(lesson.fill(step.text, step_facts(context.manifest)))
    composite, truth = step_composite(step)
    revealed = step.question is None or st.session_state.get(f"revealed_{step.slug}", False)
    left, right = st.columns([1, 3], gap="medium")
    with left:
        show_composite(composite)
    with right:
        if not revealed:
            ask(step)
            return
        guess = st.session_state.get(f"answer_{step.slug}")
        show_answer(step, composite, truth, context, guess)
