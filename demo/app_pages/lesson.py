"""The guided lesson (`/lesson?step=N`): one step on screen, its composite and question with a
Reveal button, and after the reveal the models' answer and the panels the step lists
(`demo.ui.step`)."""

from __future__ import annotations

import streamlit as st

from demo import keys, lesson, url
from demo.context import PageContext, page_context
from demo.i18n import _
from demo.ui.lesson_step import (
    prompt_of,
    show_answer,
    show_composite,
    step_composite,
    step_facts,
    step_heading,
    step_text,
)


def go_to(number: int) -> None:
    st.query_params["step"] = str(number)


def navigation(number: int, count: int, step: lesson.Step) -> None:
    """The step's title with Back and Next beside it: a projected page shows Next without
    scrolling, and Tab visits them first, then the question's choices and Reveal."""
    title, back, forward = st.columns([8, 1, 1], vertical_alignment="center")
    title.subheader(step_heading(number, count, step))
    back.button(
        _("Back"),
        key=keys.LESSON_BACK,
        on_click=go_to,
        args=(number - 1,),
        disabled=number == 1,
        width="stretch",
    )
    forward.button(
        _("Next"),
        key=keys.LESSON_NEXT,
        on_click=go_to,
        args=(number + 1,),
        disabled=number == count,
        width="stretch",
        type="primary",
    )


def reveal(slug: str) -> None:
    """Keep the student's guess (the choices are not drawn again) and show the answer."""
    st.session_state[f"answer_{slug}"] = st.session_state.get(keys.lesson_guess(slug))
    st.session_state[f"revealed_{slug}"] = True


def ask(step: lesson.Step) -> None:
    """The question, its choices and the Reveal button (enabled once the student has chosen)."""
    question = step.question
    guess = st.pills(
        f"**{prompt_of(step)}**",
        question.choices,
        selection_mode="multi" if question.several else "single",
        format_func=lesson.choice_text,
        key=keys.lesson_guess(step.slug),
    )
    answered = bool(guess)
    st.button(
        _("Reveal"),
        key=keys.lesson_reveal(step.slug),
        type="primary",
        disabled=not answered,
        on_click=reveal,
        args=(step.slug,),
    )
    if not answered:
        st.caption(_("Choose your answer first; then press Reveal."))


def show_step(number: int, context: PageContext) -> None:
    """Step `number` (1-based) of the lesson: before the reveal the composite and the question;
    after it, the composite, the step's panels, and the question with the verdict beside them."""
    step = lesson.STEPS[number - 1]
    count = len(lesson.STEPS)
    navigation(number, count, step)
    st.markdown(step_text(step, step_facts(context.manifest)))
    composite, truth = step_composite(step)
    revealed = step.question is None or st.session_state.get(f"revealed_{step.slug}", False)
    left, right = st.columns([1, 3], gap="medium")
    with left:
        show_composite(composite, step, revealed)
    with right:
        if revealed:
            guess = st.session_state.get(f"answer_{step.slug}")
            show_answer(step, composite, truth, context, guess)
        else:
            ask(step)


def page() -> None:
    """The lesson step of `?step=`, the nearest one (written back) when it is out of range."""
    context = page_context()
    if context is None:
        return
    number = url.lesson_step(st.query_params.get("step"), len(lesson.STEPS))[0]
    url.write_step(number)
    show_step(number, context)
