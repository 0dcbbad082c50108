"""A class room: students answer the first step's question, the teacher's tally follows.

Opens a class room (SQLite, or a Redis server it starts), a teacher's page and `--room`
students' pages; every student answers the step's question once within `--seconds`, while the
teacher's page redraws its tally (more often than the browser's timer, to time it closely) and
each student's page runs its timer that follows the teacher. It reports the answers' p50 / p95,
how many the store and the teacher's page counted (the count the page draws with
`demo.rooms.TALLY_TEXT`, read back with `counts_in_tally_text`), how long after the last answer
the teacher's tally was complete, and the store's share of an answer's time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import random
import tempfile
import time
from dataclasses import dataclass

from bench import report
from bench.browser import open_page
from bench.report import RoomResult
from bench.server import HOST, redis_server, served
from bench.tally import Tally
from demo import keys, lesson, rooms
from demo.serve import wire

STEP = 1  # the step the room is on: its question is what the students answer
CHOICES = lesson.STEPS[STEP - 1].question.choices  # what they pick from, as the page offers it
PASSPHRASE = "bench2026"  # the teacher PIN of the benchmark's rooms
TEACHER_REDRAW_EVERY = 0.25  # seconds between two redraws of the teacher's tally
TEACHER_WAITS = 30.0  # seconds the teacher's page waits for a complete tally after the last answer
STORE_CALLS = 200  # answers timed against the store directly


def room_query(code: str) -> str:
    return f"{keys.ROOM_VIEW}={code}"


def follow_fragments(page: wire.Session) -> list[str]:
    """The fragments on the timer by which a student's page follows the teacher."""
    every = keys.every_seconds(keys.FOLLOW_EVERY)
    return [fragment for fragment, s in page.timers.items() if math.isclose(s, every)]


async def room_student(host, port, code, window, seed, tally, answered_at: list[float]) -> None:
    rng = random.Random(seed)
    try:
        socket, page, _ = await open_page(host, port, room_query(code), tally)
        async with socket:
            choices = page.widgets.get(keys.room_guess(STEP))
            if choices is None:
                tally.error("page incomplete", "no answer choices on the student's page")
                return
            # While the student thinks, the page looks for the teacher's changes on its timer,
            # as the browser does.
            think = time.monotonic() + rng.uniform(0, window)
            follow = follow_fragments(page)
            while time.monotonic() < think:
                await asyncio.sleep(min(2.0, max(0.0, think - time.monotonic())))
                for fragment in follow:
                    if time.monotonic() < think:
                        started = time.perf_counter()
                        if await page.send(fragment_id=fragment):
                            tally.follows.append(time.perf_counter() - started)
            started = time.perf_counter()
            if await page.use(choices, strings=[rng.choice(CHOICES)]):
                tally.answers.append(time.perf_counter() - started)
                answered_at.append(time.monotonic())
    except (TimeoutError, *wire.dropped()) as error:
        tally.error("dropped socket", f"{type(error).__name__}: {error}")


@dataclass(frozen=True)
class TeacherSaw:
    answered: int  # the answers the teacher's tally counted last
    complete_at: float | None  # time.monotonic() when it counted every answer; None: never


@dataclass
class GiveUp:
    at: float | None = None  # time.monotonic() after which the teacher's page stops waiting


async def room_teacher(host, port, code, cookie, expected, tally, give_up: GiveUp) -> TeacherSaw:
    """Redraw the teacher's tally until it counts `expected` answers."""
    socket, page, _ = await open_page(host, port, room_query(code), tally, cookie)
    async with socket:
        while True:
            await asyncio.sleep(TEACHER_REDRAW_EVERY)
            if not await page.send(fragment_id=page.teacher_count_fragment):
                break
            if page.teacher_count >= expected:
                return TeacherSaw(page.teacher_count, time.monotonic())
            if give_up.at is not None and time.monotonic() > give_up.at:
                break
        return TeacherSaw(page.teacher_count, None)


async def room_class(host, port, store, students: int, window: float, tally: Tally):
    """(the room's code, answers sent, what the teacher's page saw, the last answer's time)."""
    teacher_browser = rooms.new_browser_id()
    room = store.create(teacher_browser, PASSPHRASE)
    cookie = f"{rooms.BROWSER_COOKIE}={rooms.sign_browser(teacher_browser, store.secret())}"
    answered_at: list[float] = []
    give_up = GiveUp()
    teacher = asyncio.ensure_future(
        room_teacher(host, port, room.code, cookie, students, tally, give_up)
    )
    await asyncio.gather(
        *(
            room_student(host, port, room.code, window, n, tally, answered_at)
            for n in range(students)
        )
    )
    give_up.at = time.monotonic() + TEACHER_WAITS
    saw = await teacher
    return room.code, len(answered_at), saw, max(answered_at) if answered_at else None


def store_seconds_per_answer(store, calls: int = STORE_CALLS) -> float:
    """The store's own time for one answer, called directly (no page, no server)."""
    # The store's answer cost, not the joining pace: this store object takes every join at once.
    store.limits = dataclasses.replace(store.limits, joins_per_minute=calls + 1)
    room = store.create(rooms.new_browser_id(), PASSPHRASE)
    students = [rooms.new_browser_id() for _ in range(calls)]
    for student in students:
        store.join(room.code, student)
    started = time.perf_counter()
    for index, student in enumerate(students):
        store.answer(room.code, STEP, student, CHOICES[index % len(CHOICES)])
    return (time.perf_counter() - started) / calls


def measure(workers: int, checkout: str, students: int, seconds: float, tally: Tally) -> RoomResult:
    """The room's class on a fresh store (the one REDIS_URL names, else SQLite in a new folder)."""
    data = tempfile.mkdtemp(prefix="rooms-")
    os.environ["MULTILABEL_DATA_DIR"] = data  # the workers' store, and the benchmark's
    store = rooms.open_store(folder=data)
    with served(workers, checkout, "room") as server:
        code, sent, saw, last = asyncio.run(
            room_class(HOST, server.port, store, students, seconds, tally)
        )
        per_answer = store_seconds_per_answer(store)
    after = saw.complete_at - last if saw.complete_at and last else None
    stored = sum(store.tally(code, STEP).values())
    return RoomResult(code, sent, stored, saw.answered, after, per_answer)


def run(workers: int, checkout: str, store_name: str, students: int, seconds: float) -> int:
    tally = Tally()
    if store_name == "redis":
        with redis_server() as url:
            os.environ["REDIS_URL"] = url
            result = measure(workers, checkout, students, seconds, tally)
    else:
        os.environ.pop("REDIS_URL", None)
        result = measure(workers, checkout, students, seconds, tally)
    print(report.room_table(store_name, workers, students, seconds, result, tally))
    if tally.error_examples:
        print(report.examples(tally))
    lost = students - result.stored
    complete = result.on_teacher_page == students and result.complete_after_last is not None
    return 0 if lost == 0 and complete and not tally.errors else 1
