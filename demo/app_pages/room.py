"""A class room on screen: the teacher leads the lesson's steps, the students answer on their own
devices, the projector shows how the answers split; on "Reveal" every student sees the models'
answer next to their own.

    ?room=new      a "Start a room" form (the teacher chooses a PIN; a room is made only on submit)
    ?room=CODE     the room: its teacher's view in a browser that may lead it, else a student's

Nothing the projector shows is secret: the teacher's and the students' addresses are the same.
Each browser is known by a random id that the server signs and keeps in a cookie (set by a small
script on the page), so a new tab, a reload or Back keeps the same student and the same teacher,
and an id cannot be typed in or copied from an address. The teacher leads from the browser that
started the room, or from any other browser that signed in with the room's PIN.

The room lives in `demo.rooms` (SQLite or Redis), never in the process: every worker sees it, and
it survives a worker being killed. Students' pages follow the teacher through a fragment on a
timer that reads the room's version (one small read) and redraws the page only when it changed.
A store that fails gets a message and a page that tries again on its own.

Every text is in the page's language (`demo.i18n`); the store's refusals are raised in English with
their message marked and their values apart (`rooms.RoomError`) and said here with `refusal`. The
choices' values stay English: they are what the store keeps, shown through `lesson.choice_text`.
A student's page is sized for a phone (`PHONE_STYLE`): its question, choices and captions in text
of at least 16 px, every control at least 44 px tall, the question and its choices above the fold.
"""

from __future__ import annotations

import functools
import hmac
import io
import json
import logging
import os
import time

import streamlit as st

from demo import charts, i18n, keys, lesson, rooms, routes
from demo.context import page_context
from demo.i18n import N_, _
from demo.rooms import clients, record, throttle
from demo.rooms.record import SEPARATOR
from demo.ui import lesson_step, room_summary

FOLLOW_EVERY = keys.FOLLOW_EVERY  # how often a student's page looks for the teacher's changes
TALLY_EVERY = "2s"  # how often the teacher's page redraws the tally
RETRY_EVERY = "5s"  # how often a page whose store failed tries again
PASSPHRASE_VARIABLE = "MULTILABEL_TEACHER_PASSPHRASE"
JOIN_RETRY_EVERY = "5s"  # how often a student's page paced out of a busy room tries again
REMOVE_MINUTES = (1, 2, 5, 10, 30)  # the teacher's choices of "joined in the last ... minutes"
LANGUAGE_PARAM = routes.LANGUAGE_PARAM
TEACHER_KEYS = (
    "room_back",
    "room_next",
    "room_reveal",
    "room_close",
    "room_reopen",
    "room_lock",
    "room_unlock",
    keys.ROOM_REMOVE_RECENT,
    keys.ROOM_REMOVE_SILENT,
)
UNAVAILABLE = N_(
    "The class-room service is unavailable right now, so this room cannot be shown. This page "
    "tries again on its own every few seconds; nothing you answered is lost. The rest of the "
    "demo works meanwhile: the [free page](/) and the [guided lesson](/?step=1)."
)
STUDENT_BOX = "room_student"  # the container of a student's view: `st-key-room_student` in CSS
# A student's page on a phone: text of at least 16 px (Streamlit draws labels, pills and captions
# at 0.875rem) and controls at least 44 px tall and wide, in the student's view only. The image's
# caption wraps under the composite instead of widening it (Streamlit sizes an image to its
# caption), so that a longer caption, in Japanese say, does not push the question down.
PHONE_STYLE = """<style>
.st-key-room_student [data-testid="stWidgetLabel"],
.st-key-room_student [data-testid="stWidgetLabel"] p,
.st-key-room_student [data-testid="stButtonGroup"] button,
.st-key-room_student [data-testid="stButtonGroup"] button p,
.st-key-room_student [data-testid="stCaptionContainer"],
.st-key-room_student [data-testid="stCaptionContainer"] p,
.st-key-room_student [data-testid="stImageCaption"],
.st-key-room_student [data-testid="stImageCaption"] p {font-size: max(1rem, 16px);}
.st-key-room_student [data-testid="stButtonGroup"] button,
.st-key-room_student [data-testid="stButton"] button {min-height: 44px; min-width: 44px;}
.st-key-room_student [data-testid="stCheckbox"] label {min-height: 44px; align-items: center;}
.st-key-room_student [data-testid="stImageCaption"] {contain: inline-size;}
</style>"""
log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def room_store(redis_url: str, folder: str):
    """The store, opened once per process, which then says in its log how teachers start rooms
    (the generated passphrase, when none is chosen), as Jupyter prints its token."""
    opened = rooms.open_store(redis_url=redis_url, folder=folder or None)
    if not os.environ.get(PASSPHRASE_VARIABLE):
        log.warning(
            "Teachers start class rooms on this server with the passphrase %s (or choose one "
            "in %s). A browser on this machine that opens it as localhost needs none.",
            rooms.generated_passphrase(opened.secret()),
            PASSPHRASE_VARIABLE,
        )
    return opened


def store():
    """The process's store; raises one of rooms.STORE_ERRORS when it cannot be opened."""
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
    return SEPARATOR.join(sorted(set(choice))) if isinstance(choice, list | tuple) else str(choice)


def decode(step: lesson.Step, stored: str | None):
    if stored is None:
        return None
    return [c for c in stored.split(SEPARATOR) if c] if step.question.several else stored


def valid(step: lesson.Step, choice) -> bool:
    """Whether `choice` is an answer to `step`: one of its choices, or for a set question some
    of them, each once."""
    choices = list(choice) if isinstance(choice, list | tuple) else [choice]
    known = all(isinstance(c, str) and c in step.question.choices for c in choices)
    return bool(choices) and known and len(set(choices)) == len(choices)


def counts(step: lesson.Step, tally: dict[str, int]) -> dict[str, int]:
    """Students per choice (for a set question: how many included each class)."""
    return record.count_choices(step.question.choices, step.question.several, tally)


# ---------------------------------------------------------------------------------------------
# Who this browser is
# ---------------------------------------------------------------------------------------------


def client() -> str:
    """This session's network address (`rooms.clients`): what the per-client limits count."""
    headers = st.context.headers
    return clients.client_address(
        st.context.ip_address, headers.get("X-Forwarded-For"), clients.trusted_proxies()
    )


def is_local() -> bool:
    """Whether this session's request comes from this machine for its own loopback name (a
    laptop's `streamlit run`), or from no request at all (a script's AppTest)."""
    headers = st.context.headers
    if not headers:
        return True
    return clients.is_local_request(
        st.context.ip_address,
        headers.get("X-Forwarded-For"),
        headers.get("Host"),
        clients.trusted_proxies(),
    )


def cookie_script(token: str) -> str:
    """A script that keeps `token` in this browser's cookie for the demo's address."""
    cookie = json.dumps(
        f"{rooms.BROWSER_COOKIE}={token}; Max-Age={rooms.BROWSER_SECONDS}; Path=/; SameSite=Lax"
    )
    secure = '(location.protocol === "https:" ? "; Secure" : "")'
    return f"<script>document.cookie = {cookie} + {secure};</script>"


def browser_id(secret: bytes) -> str:
    """This browser's id: the one its cookie holds if the server signed it, else a new one,
    which a script on the page puts into the cookie (the next tab or reload sends it)."""
    state = st.session_state
    if "browser" not in state:
        known = rooms.verified_browser(st.context.cookies.get(rooms.BROWSER_COOKIE), secret)
        state.browser_known = known is not None
        state.browser = known or rooms.new_browser_id()
    if not state.browser_known:
        st.html(
            cookie_script(rooms.sign_browser(state.browser, secret)), unsafe_allow_javascript=True
        )
    return state.browser


def refusal(error: rooms.RoomError) -> str:
    """A store's refusal in the page's language."""
    return error.text(_)


def unavailable(error: BaseException) -> None:
    log.warning("class-room store failed: %s: %s", type(error).__name__, error)
    st.error(_(UNAVAILABLE))
    st.session_state.store_failed_at = time.monotonic()
    retry_the_store()


@st.fragment(run_every=RETRY_EVERY)
def retry_the_store() -> None:
    """Redraws the whole page once the store takes a write again, at most once per tick of the
    timer (never from the run that just failed, which would loop)."""
    if time.monotonic() - st.session_state.get("store_failed_at", 0.0) < 1.0:
        return
    try:
        store().ping()
    except rooms.STORE_ERRORS:
        return
    st.rerun(scope="app")


def act(action, *args, **kwargs) -> None:
    """A button's callback: `action(store, ...)`, its refusal kept for the next run to show."""
    try:
        action(store(), *args, **kwargs)
    except rooms.RoomError as error:
        st.session_state.room_problem = refusal(error)
    except rooms.STORE_ERRORS as error:
        log.warning("class-room store failed: %s", error)
        st.session_state.room_problem = _(
            "The class-room service did not answer, so that was not saved: please try again."
        )


# ---------------------------------------------------------------------------------------------
# Starting a room
# ---------------------------------------------------------------------------------------------


def language_param() -> dict[str, str]:
    """The address's `lang`, if it names one, for the addresses this page leads its teacher to
    (the room it started, the rooms it leads): the teacher stays in the language chosen."""
    asked = st.query_params.get(LANGUAGE_PARAM, "").lower()
    return {LANGUAGE_PARAM: asked} if asked in i18n.LANGUAGES else {}


def wanted_passphrase(room_store_) -> str | None:
    """The passphrase that starts a room from this session: the one chosen in
    MULTILABEL_TEACHER_PASSPHRASE, else the one derived from the store's secret (printed to the
    log), else none for a request from this machine's own loopback."""
    chosen = os.environ.get(PASSPHRASE_VARIABLE, "")
    if chosen:
        return chosen
    return None if is_local() else rooms.generated_passphrase(room_store_.secret())


def passphrase_refusal(room_store_, given: str) -> str | None:
    """Why the passphrase does not let this page start a room, or None. Wrong guesses cost their
    network address a wait that grows (`throttle.PASSPHRASE_GUESSES`), not other addresses."""
    wanted = wanted_passphrase(room_store_)
    if wanted is None:
        return None
    address = client()
    if waiting := throttle.backoff_refusal(room_store_, throttle.PASSPHRASE_GUESSES, address):
        return refusal(waiting)
    if hmac.compare_digest(given.strip().encode(), wanted.encode()):
        return None
    throttle.count_failure(room_store_, throttle.PASSPHRASE_GUESSES, address)
    return _("That is not this server's teacher passphrase.")


def start_room(room_store_, pin: str) -> rooms.Room:
    """A new room, led by a browser id issued for it (this session's cookie follows), counted
    against this network address's rooms."""
    address = client()
    if limited := throttle.start_refusal(room_store_, address):
        raise limited
    teacher = rooms.new_browser_id()
    room = room_store_.create(teacher, pin)
    throttle.count_start(room_store_, address)
    st.session_state.browser, st.session_state.browser_known = teacher, False
    return room


def start_page(room_store_, browser: str) -> None:
    """The form that starts a room, and the rooms this browser already leads."""
    st.subheader(_("Start a class room"))
    with st.form("start_room"):
        passphrase = ""
        if wanted_passphrase(room_store_) is not None:
            passphrase = st.text_input(
                _("This server's teacher passphrase"),
                type="password",
                key="room_passphrase",
                help=_(
                    "Whoever runs the server chose it, or finds it in the server's log (the "
                    "terminal that runs it). A browser on the server's own machine that opens "
                    "it as localhost needs none."
                ),
            )
        pin = st.text_input(
            _("Choose a teacher PIN (6 or more letters or digits)"),
            type="password",
            key="room_new_pin",
            help=_(
                "With it you can lead this room from another device, e.g. your phone: open the "
                "student link there and sign in. Nobody else sees it."
            ),
        )
        pressed = st.form_submit_button(_("Start a room"), type="primary", key="room_start")
    if pressed:
        refused = passphrase_refusal(room_store_, passphrase)
        if refused is None:
            try:
                room = start_room(room_store_, pin)
            except rooms.RoomError as error:
                refused = refusal(error)
            except rooms.STORE_ERRORS as error:
                log.warning("class-room store refused a new room: %s", error)
                refused = _(
                    "The class-room service refused a new room (it may be full): try again in a "
                    "few minutes. Rooms already in progress are not affected."
                )
            else:
                st.query_params.from_dict({"room": room.code, **language_param()})
                st.rerun()
        st.error(refused)
    mine = room_store_.rooms_of(browser)
    if mine:
        language = language_param().get(LANGUAGE_PARAM)
        links = lesson.list_text(
            f"[{code}]({routes.link(routes.ROOM.name, language, room=code)})" for code in mine
        )
        st.markdown(_("Rooms this browser leads: {rooms}").format(rooms=links))


# ---------------------------------------------------------------------------------------------
# The teacher
# ---------------------------------------------------------------------------------------------


def markdown_text(text: str) -> str:
    """`text` shown as it is by st.markdown (every Markdown and HTML character escaped)."""
    return "".join(f"\\{c}" if c in MARKDOWN_SPECIALS else c for c in text)


MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~:&")


def joining_control(room: rooms.Room, browser: str) -> None:
    """Lock the room once the class is in: from then on no new browser can join it."""
    label, key, locked = (
        (_("Let new students join"), "room_unlock", False)
        if room.locked
        else (_("Lock joining"), "room_lock", True)
    )
    st.button(
        label, key=key, on_click=act, args=(lead, room.code, browser), kwargs={"locked": locked}
    )
    if room.locked:
        st.caption(_("Joining is locked: students already in keep answering."))
    removal_controls(room, browser)


def removal_controls(room: rooms.Room, browser: str) -> None:
    """Remove at once the browsers that joined in the last minutes (a flood of invented
    students), or every browser without an answer to this step; their answers leave the tally."""
    with st.expander(_("Remove students")):
        # Plain numbers, no translated format: a choice keeps its value in every language.
        st.selectbox(
            _("Who joined in the last … minutes"),
            REMOVE_MINUTES,
            index=2,
            key=keys.ROOM_REMOVE_MINUTES,
        )
        st.button(
            _("Remove those who joined in that time"),
            key=keys.ROOM_REMOVE_RECENT,
            on_click=act,
            args=(remove_recent, room.code, browser),
        )
        if lesson.STEPS[room.step - 1].question:
            st.button(
                _("Remove everyone without an answer to this step"),
                key=keys.ROOM_REMOVE_SILENT,
                on_click=act,
                args=(remove_silent, room.code, browser, room.step),
            )
        st.caption(_("Lock joining first, or those removed can join again with a new browser."))


def remove_recent(room_store_, code: str, browser: str) -> None:
    minutes = st.session_state.get(keys.ROOM_REMOVE_MINUTES)
    if minutes not in REMOVE_MINUTES:
        return
    since = time.time() - 60 * minutes
    removed = room_store_.remove_students(code, browser, joined_since=since)
    st.session_state.room_notice = _("Removed {count} students.").format(count=removed)


def remove_silent(room_store_, code: str, browser: str, step: int) -> None:
    removed = room_store_.remove_students(code, browser, unanswered_step=step)
    st.session_state.room_notice = _("Removed {count} students.").format(count=removed)


def lead(room_store_, code: str, browser: str, **change) -> None:
    room_store_.lead(code, browser, **change)


def teacher_controls(room: rooms.Room, browser: str) -> None:
    count = len(lesson.STEPS)
    step = lesson.STEPS[room.step - 1]
    cells = st.columns([6, 1, 1, 1.2, 1.6], vertical_alignment="center")
    heading = _("Room {code} · Step {number} of {count}: {title}")
    cells[0].subheader(
        heading.format(code=room.code, number=room.step, count=count, title=_(step.title))
    )
    buttons = [
        (_("Back"), "room_back", {"step": room.step - 1}, room.step == 1 or room.closed),
        (_("Next"), "room_next", {"step": room.step + 1}, room.step == count or room.closed),
        (
            _("Reveal"),
            "room_reveal",
            {"revealed": True},
            room.revealed or room.closed or step.question is None,
        ),
    ]
    for cell, (label, key, change, disabled) in zip(cells[1:4], buttons, strict=True):
        cell.button(
            label,
            key=key,
            on_click=act,
            args=(lead, room.code, browser),
            kwargs=change,
            disabled=disabled,
            type="primary" if key == "room_reveal" else "secondary",
            width="stretch",
        )
    closing = (
        (_("Reopen room"), "room_reopen", False)
        if room.closed
        else (_("Close room"), "room_close", True)
    )
    cells[4].button(
        closing[0],
        key=closing[1],
        on_click=act,
        args=(lead, room.code, browser),
        kwargs={"closed": closing[2]},
        width="stretch",
    )


@st.cache_data(show_spinner=False)
def tally_template(height: int, language: str) -> dict:
    """The tally chart's spec without its rows, once per height and language (its words)."""
    import altair as alt

    return charts.tally_chart(alt.NamedData(name="tally"), height).to_dict()


def show_tally(step: lesson.Step, joined: int, tally: dict[str, int]) -> None:
    st.markdown(_(rooms.TALLY_TEXT).format(joined=joined, answered=sum(tally.values())))
    if not step.question:
        return
    rows = [
        {"choice": lesson.choice_text(c), "students": n} for c, n in counts(step, tally).items()
    ]
    height = 24 * len(rows)
    spec = tally_template(height, i18n.current_language())
    st.vega_lite_chart(charts.with_data(spec, tally=rows), width="stretch", height=height + 50)


@st.fragment(run_every=TALLY_EVERY)
def live_tally(code: str, step_number: int) -> None:
    step = lesson.STEPS[step_number - 1]
    try:
        joined, tally = store().joined(code), store().tally(code, step_number)
        recent = store().joined(code, time.time() - 60)
    except rooms.STORE_ERRORS:
        st.caption(_("The class-room service did not answer; the count comes back on its own."))
        return
    show_tally(step, joined, tally)
    if recent:
        st.caption(_("{count} joined in the last minute.").format(count=recent))


def teacher_view(room: rooms.Room, browser: str, context) -> None:
    go = functools.partial(act, lead, room.code, browser)  # a button's callback: go(step=...)
    if room_summary.at_the_end(room):
        room_summary.teacher_summary(store(), room, context, go)
        follow_the_teacher(room.code, room.version)
        return
    teacher_controls(room, browser)
    step = lesson.STEPS[room.step - 1]
    if room.closed:
        st.info(
            _(
                "This room is closed: students see the last step and can no longer answer. "
                "Reopen it to go on."
            )
        )
    left, middle, right = st.columns([1, 2.2, 1], gap="medium")
    composite, truth = lesson_step.step_composite(step)
    answered = room.revealed or step.question is None
    with left:
        lesson_step.show_composite(composite, step, answered)
    with right:
        link = student_link(room.code)
        joining = _("Students open **{link}**  \nor type the code **{code}**")
        st.markdown(joining.format(link=markdown_text(link), code=room.code))
        st.image(
            qr_png(link),
            width=150,
            caption=_("Scan to join"),
            alt=_("QR code of the student link {link}").format(link=link),
        )
        joining_control(room, browser)
        st.caption(
            _(
                "You lead from this browser. To lead from another device, open the student link "
                "there and sign in with your PIN."
            )
        )
    with middle:
        st.markdown(lesson_step.step_text(step, lesson_step.step_facts(context.manifest)))
        if step.question:
            st.markdown(f"**{lesson_step.prompt_of(step)}**")
        live_tally(room.code, room.step)
    if answered:
        lesson_step.show_answer(step, composite, truth, context, lesson_step.NOBODY)
    room_summary.teacher_record(store(), room, context, go, unavailable)
    follow_the_teacher(room.code, room.version)  # a change made from the teacher's phone


# ---------------------------------------------------------------------------------------------
# A student
# ---------------------------------------------------------------------------------------------


def answer(room_store_, code: str, step: lesson.Step, number: int, student: str) -> None:
    choice = st.session_state.get(keys.room_guess(number))
    if choice and valid(step, choice):
        room_store_.answer(code, number, student, encode(choice))


@st.fragment(run_every=FOLLOW_EVERY)
def follow_the_teacher(code: str, seen: int) -> None:
    """Redraws the page when the room changed (a step, the reveal, the closing), whichever of
    the teacher's devices changed it."""
    try:
        room = store().room(code)
    except rooms.STORE_ERRORS:
        return  # the next tick tries again; the page stays as it is
    if room is None or room.version != seen:
        st.rerun(scope="app")


def sign_in(code: str, browser: str) -> None:
    """The Sign in button's callback: the PIN field is emptied whatever the outcome."""
    pin, st.session_state.teacher_pin = st.session_state.get("teacher_pin", ""), ""
    try:
        throttle.sign_in(store(), code, browser, pin if isinstance(pin, str) else "", client())
    except rooms.RoomError as error:
        st.session_state.sign_in_problem = refusal(error)
    except rooms.STORE_ERRORS:
        st.session_state.sign_in_problem = _("The class-room service did not answer: try again.")


def teacher_sign_in(code: str, browser: str) -> None:
    """A toggle (it keeps its state across reruns, unlike an expander) that opens the PIN field."""
    label = _("I am this room's teacher: lead it from this device")
    if not st.toggle(label, key="teacher_sign_in"):
        return
    if problem := st.session_state.pop("sign_in_problem", None):
        st.warning(problem)
    st.text_input(_("The room's teacher PIN"), type="password", key="teacher_pin")
    st.button(_("Sign in"), key="room_sign_in", on_click=sign_in, args=(code, browser))


def join_once(room_store_, code: str, student: str) -> None:
    """Counts this browser among the room's students (a store write only on the first run)."""
    if st.session_state.get("joined_room") != code:
        room_store_.join(code, student)
        st.session_state.joined_room = code


@st.fragment(run_every=JOIN_RETRY_EVERY)
def join_again() -> None:
    """Redraws the page on the timer's next tick (not from the run that drew it), so that a
    student turned away while many joined tries again by itself."""
    if st.session_state.get("join_retry_armed"):
        st.session_state.join_retry_armed = False
        st.rerun(scope="app")
    st.session_state.join_retry_armed = True


def student_view(room_store_, room: rooms.Room, student: str, context) -> None:
    """A student's page, sized for a phone (`PHONE_STYLE`)."""
    st.html(PHONE_STYLE)
    with st.container(key=STUDENT_BOX):
        student_page(room_store_, room, student, context)


def student_page(room_store_, room: rooms.Room, student: str, context) -> None:
    try:
        join_once(room_store_, room.code, student)
    except rooms.RoomError as error:
        st.error(refusal(error))
        if isinstance(error, rooms.JoiningPaced):
            join_again()
        return
    if room_summary.at_the_end(room):
        room_summary.student_summary(room_store_, room, student, context)
        follow_the_teacher(room.code, room.version)
        teacher_sign_in(room.code, student)
        return
    step = lesson.STEPS[room.step - 1]
    st.subheader(lesson_step.step_heading(room.step, len(lesson.STEPS), step))
    composite, truth = lesson_step.step_composite(step)
    lesson_step.show_composite(composite, step, room.revealed or step.question is None)
    stored = room_store_.answer_of(room.code, room.step, student) if step.question else None
    stored = decode(step, stored) if step.question else None
    if step.question and not room.revealed:
        key = keys.room_guess(room.step)
        if key not in st.session_state and stored is not None:
            st.session_state[key] = stored
        st.pills(
            f"**{lesson_step.prompt_of(step)}**",
            step.question.choices,
            selection_mode="multi" if step.question.several else "single",
            format_func=lesson.choice_text,
            key=key,
            on_change=act,
            args=(answer, room.code, step, room.step, student),
            disabled=room.closed,
        )
        st.caption(
            _("Your answer is counted (you may change it until the reveal).")
            if stored is not None
            else _("Choose your answer; the teacher reveals the models' answer.")
        )
    elif room.revealed or step.question is None:
        lesson_step.show_answer(step, composite, truth, context, stored)
    follow_the_teacher(room.code, room.version)  # a closed room may be reopened
    teacher_sign_in(room.code, student)


# ---------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------


def show_room(context) -> None:
    """The page of `?room=`: the start form, the teacher's view or a student's; a message for
    a bad code or a store that fails."""
    for stale in ("key", "me"):  # identities once carried in the address are never used
        if stale in st.query_params:
            del st.query_params[stale]
    try:
        room_page(context)
    except rooms.STORE_ERRORS as error:
        unavailable(error)


def room_page(context) -> None:
    room_store_ = store()
    browser = browser_id(room_store_.secret())
    requested = st.query_params.get(keys.ROOM_VIEW, "")
    if requested.strip().lower() == "new":
        start_page(room_store_, browser)
        return
    if guessing := throttle.rate_refusal(room_store_, throttle.CODE_GUESSES, client()):
        st.warning(refusal(guessing))
        return
    room = room_store_.room(requested)
    if room is None:
        throttle.spend(room_store_, throttle.CODE_GUESSES, client())
        st.warning(
            _(
                "There is no open room with this code: it may have ended or been mistyped. "
                "Ask your teacher for the code."
            )
        )
        return
    if problem := st.session_state.pop("room_problem", None):
        st.warning(problem)
    if notice := st.session_state.pop("room_notice", None):
        st.success(notice)
    if room_store_.is_teacher(room.code, browser):
        teacher_view(room, browser, context)
    else:
        student_view(room_store_, room, browser, context)


def page() -> None:
    context = page_context()
    if context is not None:
        show_room(context)
