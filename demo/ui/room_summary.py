"""After the lesson, in a class room: the teacher's record of what the class answered (CSV and
JSON downloads), the class's summary on the projector, and each student's own summary on their
phone. What is counted and written is `demo.rooms.record` (no Streamlit, no student in it); here
the lesson's steps become its `Asked`, in the page's language, with the models' answer computed
as the verdict computes it (`lesson.answer`), and the views are drawn.

The summary is the step after the lesson's last (`summary_step`): a room the teacher moves there
takes no more answers, and every student's page shows their own summary. The page decides who
sees what: only a browser that may lead the room is ever drawn the teacher's parts here.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from demo import cache, keys, lesson, rooms
from demo.i18n import _, ngettext
from demo.rooms import record
from demo.ui import lesson_step

RECORD_EVERY = "2s"  # how often the teacher's page rebuilds the record's downloads
ENDED_EVERY_SECONDS = 300  # how long the class's tallies of an ended lesson are shared by pages
# The summary on a projector: its table's text a little larger than the page's.
PROJECTOR_STYLE = """<style>
.st-key-room_class_summary table {font-size: 1.1rem;}
.st-key-room_class_summary td:nth-child(2) {white-space: nowrap;}
</style>"""
SUMMARY_BOX = "room_class_summary"  # the container of the class's summary: its CSS class


def summary_step() -> int:
    """The room's step number of the summary: the one after the lesson's last."""
    return len(lesson.STEPS) + 1


def at_the_end(room) -> bool:
    """Whether the teacher moved the room past the lesson's last step, to the summary."""
    return room.step > len(lesson.STEPS)


def answer_known(room, number: int) -> bool:
    """Whether the class has seen the models' answer to step `number`: a step behind the room's,
    or its current step once revealed."""
    return number < room.step or (number == room.step and room.revealed)


def models_answer(step: lesson.Step, context):
    """The models' answer to the step's question, computed as its verdict computes it; None
    when a model it needs did not load."""
    predictor = context.predictor
    if any(predictor is None or name not in predictor.names for name in step.models):
        return None
    composite, truth = lesson_step.step_composite(step)
    predictions = {}
    if step.models:
        predictions = cache.predict_models(predictor, context.signature, composite, step.models)
    outputs, maps = lesson_step.answer_inputs(step, predictions)
    return lesson.answer(step, truth, outputs, maps)[0]


def filled(message: str) -> str:
    """A marked text of the lesson (a misconception) in the page's language, figures filled in."""
    return lesson.fill(_(message), lesson.lesson_facts(None)) if message else ""


def asked_of(number: int, step: lesson.Step, right) -> record.Asked:
    """Step `number`'s question as the record needs it, in the page's language."""
    question = step.question
    beliefs = zip(question.choices, question.misconceptions, strict=False)
    right_text = ""
    if right is not None:
        right_text = lesson_step.shown_choices(right) or _("nothing")
    return record.Asked(
        number=number,
        title=_(step.title),
        question=lesson_step.prompt_of(step),
        choices=question.choices,
        shown={choice: lesson.choice_text(choice) for choice in question.choices},
        several=question.several,
        right=tuple(right) if isinstance(right, list | tuple) else right,
        right_text=right_text,
        misconceptions={choice: filled(belief) for choice, belief in beliefs if belief},
        naming_extra=filled(question.naming_extra),
        leaving_out=filled(question.leaving_out),
    )


def reached_questions(room) -> tuple[int, ...]:
    """The numbers of the question steps up to the room's (every one at the summary)."""
    reached = lesson.STEPS[: min(room.step, len(lesson.STEPS))]
    return tuple(n for n, step in enumerate(reached, start=1) if step.question is not None)


def asked_steps(room, context, tallies: dict[int, dict[str, int]]) -> list[record.Asked]:
    """The questions the class has reached, each with the models' answer once the class has
    seen it; at the summary only those somebody answered (the teacher may have ended early)."""
    steps = []
    for number in reached_questions(room):
        if at_the_end(room) and not tallies.get(number):
            continue
        step = lesson.STEPS[number - 1]
        right = models_answer(step, context) if answer_known(room, number) else None
        steps.append(asked_of(number, step, right))
    return steps


def tallies_of(room_store, code: str, numbers) -> dict[int, dict[str, int]]:
    """{step: {stored answer: students}} of the steps `numbers`, read now; raises one of
    STORE_ERRORS."""
    return {number: room_store.tally(code, number) for number in numbers}


@st.cache_data(show_spinner=False, ttl=ENDED_EVERY_SECONDS, max_entries=64)
def ended_tallies(_room_store, code: str, version: int, numbers: tuple[int, ...]) -> dict:
    """`tallies_of` a room at its summary, read once for every student's page: a room there
    takes no answers, so its tallies change with nothing but its version."""
    return {number: _room_store.tally(code, number) for number in numbers}


def shown_answer(asked: record.Asked, stored: str) -> str:
    """A stored answer as the page shows it: one choice, or a set's choices as a list."""
    shown = [asked.shown.get(choice, choice) for choice in record.choices_of(asked, stored)]
    return lesson.list_text(shown) or _("nothing")


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


# ---------------------------------------------------------------------------------------------
# The teacher's record
# ---------------------------------------------------------------------------------------------


def record_downloads(room_store, room, context, columns) -> None:
    """The CSV and JSON buttons of the class's record in `columns` (two): answers per choice, as
    the store holds them now; raises one of STORE_ERRORS when it cannot read them."""
    tallies = tallies_of(room_store, room.code, reached_questions(room))
    rows = record.record_rows(asked_steps(room, context, tallies), tallies)
    name = f"room-{room.code}-answers"
    files = (
        (_("Answers as CSV"), record.csv_bytes(rows, _), "csv", "text/csv"),
        (_("Answers as JSON"), record.json_bytes(rows, _), "json", "application/json"),
    )
    for column, (label, data, extension, mime), key in zip(
        columns, files, (keys.ROOM_RECORD_CSV, keys.ROOM_RECORD_JSON), strict=True
    ):
        column.download_button(
            label,
            data,
            file_name=f"{name}.{extension}",
            mime=mime,
            key=key,
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )


@st.fragment(run_every=RECORD_EVERY)
def live_record(room_store, room, context, on_failure: Callable[[BaseException], None]) -> None:
    """The record's downloads, rebuilt every few seconds: answers come in without the teacher's
    page running, and a download holds those given until a moment ago. A store that fails is
    handed to `on_failure` (the page's message that the service is unavailable)."""
    try:
        record_downloads(room_store, room, context, st.columns(2))
    except rooms.STORE_ERRORS as error:
        on_failure(error)


def teacher_record(
    room_store, room, context, go: Callable[..., None], on_failure: Callable[..., None]
) -> None:
    """Under a step on the teacher's page: the button to the class's summary (`go(step=...)`
    moves the room) and the downloads of the class's record (`live_record`)."""
    cells = st.columns([1.4, 2.8, 2.6], vertical_alignment="center")
    cells[0].button(
        _("Class summary"),
        key=keys.ROOM_SUMMARY,
        on_click=go,
        kwargs={"step": summary_step()},
        disabled=room.closed,
        type="primary" if room.step == len(lesson.STEPS) else "secondary",
        icon=":material/summarize:",
        width="stretch",
    )
    with cells[1]:
        live_record(room_store, room, context, on_failure)
    cells[2].caption(_("The record counts the answers per choice; it names no student."))


# ---------------------------------------------------------------------------------------------
# The class's summary, on the projector
# ---------------------------------------------------------------------------------------------


def class_table(lines: list[record.ClassLine]) -> str:
    """The class's summary as a Markdown table: per question, the share that answered as the
    models did, the most common wrong answer and the belief behind it."""
    heads = (
        _("Step"),
        _("answered as the models did"),
        _("most common wrong answer"),
        _("the misconception behind it"),
    )
    rows = ["| " + " | ".join(heads) + " |", "|---|---|---|---|"]
    for line in lines:
        asked = line.asked
        step = f"{asked.number}. {asked.title}"
        if line.share is None:
            share = "–"
        else:
            share = _("**{share}** ({right} of {answered})").format(
                share=percent(line.share), right=line.as_the_model, answered=line.answered
            )
        wrong, belief = "–", ""
        if line.common_wrong is not None:
            wrong = ngettext(
                "{answer} ({students} student)",
                "{answer} ({students} students)",
                line.common_wrong_students,
            ).format(
                answer=shown_answer(asked, line.common_wrong), students=line.common_wrong_students
            )
            belief = line.misconception
        rows.append(f"| {step} | {share} | {wrong} | {belief} |")
    return "\n".join(rows)


def teacher_summary(room_store, room, context, go: Callable[..., None]) -> None:
    """The teacher's view at the end: the class's summary, a way back to the lesson and the
    record's downloads."""
    title, back = st.columns([6, 1.4], vertical_alignment="center")
    heading = _("Room {code} · What the class answered")
    title.subheader(heading.format(code=room.code))
    back.button(
        _("Back to the lesson"),
        key=keys.ROOM_SUMMARY_BACK,
        on_click=go,
        kwargs={"step": len(lesson.STEPS)},
        disabled=room.closed,
        width="stretch",
    )
    tallies = tallies_of(room_store, room.code, reached_questions(room))
    lines = record.class_summary(asked_steps(room, context, tallies), tallies)
    st.html(PROJECTOR_STYLE)
    with st.container(key=SUMMARY_BOX):
        st.markdown(class_table(lines))
    st.caption(
        _(
            "Per question, the share of those who answered that gave the models' answer. Every "
            "student now sees their own answers on their device."
        )
    )
    cells = st.columns([1.4, 1.4, 4], vertical_alignment="center")
    record_downloads(room_store, room, context, cells[:2])
    cells[2].caption(_("The record counts the answers per choice; it names no student."))


# ---------------------------------------------------------------------------------------------
# A student's own summary, on their phone
# ---------------------------------------------------------------------------------------------


def own_line(line: record.OwnLine) -> None:
    asked = line.asked
    st.markdown(f"**{asked.number}. {asked.title}**")
    said = shown_answer(asked, line.stored)
    if line.right is None:
        st.markdown(_("You said **{guess}**.").format(guess=said))
    else:
        verdict = _("Right.") if line.right else _("Not quite.")
        message = _("{verdict} You said **{guess}**; the models' answer: **{answer}**.")
        st.markdown(message.format(verdict=verdict, guess=said, answer=asked.right_text))
    if line.class_share is not None:
        share = _("{share} of the class answered as the models did.")
        st.caption(share.format(share=percent(line.class_share)))


def student_summary(room_store, room, student: str, context) -> None:
    """A student's own answers once the teacher reached the summary: for every step they
    answered, their answer, the models' and the class's share; nobody else's."""
    st.subheader(_("Your answers in this lesson"))
    numbers = reached_questions(room)
    answers = {number: room_store.answer_of(room.code, number, student) for number in numbers}
    tallies = ended_tallies(room_store, room.code, room.version, numbers)
    steps = asked_steps(room, context, {n: t for n, t in tallies.items() if answers[n]})
    lines = record.student_summary(steps, answers, tallies)
    if not lines:
        st.info(_("You did not answer any question in this room."))
        return
    for line in lines:
        with st.container(border=True):
            own_line(line)
