"""A class room on screen: the teacher leads the lesson's steps, the students answer on their own
devices, the projector shows how the answers split; on "Reveal" every student sees the models'
answer next to their own.

    ?room=new                  a teacher starts a room and lands on the teacher link
    ?room=CODE&key=KEY         the teacher's view (the key is the teacher's secret)
    ?room=CODE                 a student's view; `me` (a random id) is added to the address

The room lives in `demo.rooms` (SQLite or Redis), never in the process: every worker sees it, and
it survives a worker being killed. Students' pages follow the teacher through a fragment on a
timer that reads the room's version (one small read) and redraws the page only when it changed.
"""

from __future__ import annotations

import io
import os

import streamlit as st

from demo import charts, lesson, lesson_page, rooms

FOLLOW_EVERY = "2s"  # how often a student's page looks for the teacher's changes
TALLY_EVERY = "2s"  # how often the teacher's page redraws the tally
SEPARATOR = ","  # joins the classes of a several-choice answer


@st.cache_resource(show_spinner=False)
def room_store(redis_url: str, folder: str):
    return rooms.open_store(redis_url=redis_url, folder=folder or None)


def store():
    return room_store(os.environ.get("REDIS_URL", ""), os.environ.get("MULTILABEL_DATA_DIR", ""))


@st.cache_data(show_spinner=False, max_entries=64)
def qr_png(text: str) -> bytes:
    import qrcode

    image = qrcode.make(text, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def student_link(code: str) -> str:
    """The address students open: this page's own origin with ?room=CODE."""
    origin = getattr(st.context, "url", "") or ""
    base = origin.split("?", 1)[0] or "/"
    return f"{base}?room={code}"


def encode(choice) -> str:
    return SEPARATOR.join(sorted(choice)) if isinstance(choice, list | tuple) else str(choice)


def decode(step: lesson.Step, stored: str | None):
    if stored is None:
        return None
    return [c for c in stored.split(SEPARATOR) if c] if step.question.several else stored


def valid(step: lesson.Step, choice) -> bool:
    choices = choice if isinstance(choice, list | tuple) else [choice]
    return bool(choices) and all(c in step.question.choices for c in choices)


def counts(step: lesson.Step, tally: dict[str, int]) -> dict[str, int]:
    """Students per choice (for a set question: how many included each class)."""
    per_choice = dict.fromkeys(step.question.choices, 0)
    for stored, number in tally.items():
        for choice in stored.split(SEPARATOR) if step.question.several else [stored]:
            if choice in per_choice:
                per_choice[choice] += number
    return per_choice


@st.cache_data(show_spinner=False)
def tally_template(height: int) -> dict:
    import altair as alt

    return charts.tally_chart(alt.NamedData(name="tally"), height).to_dict()


def show_tally(step: lesson.Step, tally: dict[str, int]) -> None:
    answered = sum(tally.values())
    st.markdown(f"**{answered} answered**")
    if not step.question:
        return
    rows = [{"choice": c, "students": n} for c, n in counts(step, tally).items()]
    height = 24 * len(rows)
    st.vega_lite_chart(
        charts.with_data(tally_template(height), tally=rows), width="stretch", height=height + 50
    )


# ---------------------------------------------------------------------------------------------
# The teacher
# ---------------------------------------------------------------------------------------------


def lead(code: str, key: str, **change) -> None:
    try:
        store().lead(code, key, **change)
    except rooms.RoomError as error:
        st.session_state.room_problem = str(error)


def teacher_controls(room: rooms.Room, key: str) -> None:
    count = len(lesson.STEPS)
    step = lesson.STEPS[room.step - 1]
    cells = st.columns([6, 1, 1, 1.2, 1.2], vertical_alignment="center")
    cells[0].subheader(f"Room {room.code} · Step {room.step} of {count}: {step.title}")
    cells[1].button(
        "Back",
        key="room_back",
        on_click=lead,
        args=(room.code, key),
        kwargs={"step": room.step - 1},
        disabled=room.step == 1 or room.closed,
        width="stretch",
    )
    cells[2].button(
        "Next",
        key="room_next",
        on_click=lead,
        args=(room.code, key),
        kwargs={"step": room.step + 1},
        disabled=room.step == count or room.closed,
        width="stretch",
    )
    cells[3].button(
        "Reveal",
        key="room_reveal",
        type="primary",
        on_click=lead,
        args=(room.code, key),
        kwargs={"revealed": True},
        width="stretch",
        disabled=room.revealed or room.closed or step.question is None,
    )
    cells[4].button(
        "Close room",
        key="room_close",
        on_click=lead,
        args=(room.code, key),
        kwargs={"closed": True},
        disabled=room.closed,
        width="stretch",
    )


@st.fragment(run_every=TALLY_EVERY)
def live_tally(code: str, step_number: int) -> None:
    step = lesson.STEPS[step_number - 1]
    show_tally(step, store().tally(code, step_number))


def teacher_view(room: rooms.Room, key: str, manifest, predictor, signature, hidden) -> None:
    teacher_controls(room, key)
    step = lesson.STEPS[room.step - 1]
    if room.closed:
        st.info("This room is closed: students see the last step and can no longer answer.")
    left, middle, right = st.columns([1, 2.2, 1], gap="medium")
    composite, truth = lesson_page.step_composite(step)
    with left:
        lesson_page.show_composite(composite)
    with right:
        link = student_link(room.code)
        st.markdown(f"Students open **{link}**  \nor type the code **{room.code}**")
        st.image(qr_png(link), width=150, caption="Scan to join")
    with middle:
        st.markdown(lesson.fill(step.text, lesson_page.step_facts(manifest)))
        if step.question:
            st.markdown(f"**{lesson_page.prompt_of(step)}**")
            live_tally(room.code, room.step)
    if room.revealed or step.question is None:
        lesson_page.show_answer(
            step, composite, truth, manifest, predictor, signature, hidden, lesson_page.NOBODY
        )


# ---------------------------------------------------------------------------------------------
# A student
# ---------------------------------------------------------------------------------------------


def student_id() -> str:
    """The student's random id, kept in the address so that a reload keeps the same vote."""
    me = st.query_params.get("me", "")
    try:
        rooms.check_student(me)
    except rooms.RoomError:
        me = rooms.new_student_id()
        st.query_params["me"] = me
    return me


def send_answer(code: str, step: lesson.Step, number: int, me: str) -> None:
    choice = st.session_state.get(f"room_guess_{number}")
    if not choice or not valid(step, choice):
        return
    try:
        store().answer(code, number, me, encode(choice))
    except rooms.RoomError as error:
        st.session_state.room_problem = str(error)


@st.fragment(run_every=FOLLOW_EVERY)
def follow_the_teacher(code: str, seen: int) -> None:
    """Redraws the page when the teacher changed the room (a step, the reveal, the closing)."""
    room = store().room(code)
    if room is None or room.version != seen:
        st.rerun(scope="app")


def student_view(room: rooms.Room, manifest, predictor, signature, hidden) -> None:
    me = student_id()
    step = lesson.STEPS[room.step - 1]
    st.subheader(f"Step {room.step} of {len(lesson.STEPS)}: {step.title}")
    composite, truth = lesson_page.step_composite(step)
    lesson_page.show_composite(composite)
    stored = decode(step, store().answer_of(room.code, room.step, me)) if step.question else None
    if step.question and not room.revealed:
        key = f"room_guess_{room.step}"
        if key not in st.session_state and stored is not None:
            st.session_state[key] = stored
        st.pills(
            f"**{lesson_page.prompt_of(step)}**",
            step.question.choices,
            selection_mode="multi" if step.question.several else "single",
            key=key,
            on_change=send_answer,
            args=(room.code, step, room.step, me),
            disabled=room.closed,
        )
        st.caption(
            "Your answer is counted (you may change it until the reveal)."
            if stored is not None
            else "Choose your answer; the teacher reveals the models' answer."
        )
    elif room.revealed or step.question is None:
        lesson_page.show_answer(
            step, composite, truth, manifest, predictor, signature, hidden, stored
        )
    if not room.closed:
        follow_the_teacher(room.code, room.version)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def show_room(manifest, predictor, signature, hidden: set[str]) -> None:
    """The room of `?room=`, for its teacher or a student; a short message for a bad code."""
    requested = st.query_params.get("room", "")
    if requested.lower() == "new":
        room, key = store().create()
        st.query_params.from_dict({"room": room.code, "key": key})
        st.rerun()
    room = store().room(requested)
    if room is None:
        st.warning(
            f"There is no open room with the code “{requested[:12]}”: it may have expired or "
            "been mistyped. Ask your teacher for the code."
        )
        return
    if problem := st.session_state.pop("room_problem", None):
        st.warning(problem)
    key = st.query_params.get("key")
    if key and store().is_teacher(room.code, key):
        teacher_view(room, key, manifest, predictor, signature, hidden)
        return
    if key:
        st.warning("This link's teacher key is not right: here is the student view.")
    student_view(room, manifest, predictor, signature, hidden)
