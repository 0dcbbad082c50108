"""A student's program against a served class room, over raw websockets (`demo.serve.wire`) from
another loopback address (127.0.0.2: another client; the teacher's laptop is 127.0.0.1)."""

from __future__ import annotations

import asyncio
import re
import time
from urllib.parse import urlparse

import pytest
from conftest import streamlit_server

from demo import keys
from demo.rooms.sqlite_store import SQLiteStore
from demo.serve import wire

pytestmark = pytest.mark.slow
ATTACKER, TEACHER_ELSEWHERE = "127.0.0.2", "127.0.0.3"
JOINER = "127.0.0.4"  # a program inventing students (not slowed by the guesser's tries)
PIN = "503918"
JOINS_PER_MINUTE = 8  # the served room's pace (MULTILABEL_JOINS_PER_MINUTE)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rooms")
    log = folder / "streamlit.log"
    environment = {
        "MULTILABEL_DATA_DIR": str(folder),
        "MULTILABEL_JOINS_PER_MINUTE": str(JOINS_PER_MINUTE),
    }
    with streamlit_server(log, environment) as url:
        address = urlparse(url)
        yield address.hostname, address.port, SQLiteStore(folder / "rooms.sqlite3"), log


class Page(wire.Session):
    """A session that keeps the texts its last run drew."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.texts: list[str] = []

    def on_element(self, element, kind, fragment_id) -> None:
        if kind in ("markdown", "alert"):
            self.texts.append(getattr(element, kind).body)


async def open_page(host, port, query: str, local_address: str) -> tuple:
    socket = await wire.connect(host, port, local_address=local_address)
    page = Page(socket, query=query, page="room")
    await page.run(timeout=120)
    return socket, page


async def submit_start_form(host, port, local_address, passphrase=None) -> Page:
    """The start form sent by a client without a cookie: a new browser each time."""
    socket, page = await open_page(host, port, "room=new", local_address)
    async with socket:
        fields = [wire.widget_state(page.widgets["room_new_pin"].id, text=PIN)]
        if passphrase is not None:
            fields.append(wire.widget_state(page.widgets["room_passphrase"].id, text=passphrase))
        fields.append(wire.widget_state(page.widgets["room_start"].id, trigger=True))
        page.texts = []
        await page.run(fields, timeout=60)
    return page


def live_rooms(store) -> int:
    return store.connection().execute("SELECT COUNT(*) FROM rooms").fetchone()[0]


def test_only_the_passphrase_starts_rooms_from_elsewhere_and_guesses_cost_the_guesser(served):
    host, port, store, log = served

    async def attack() -> list[Page]:
        pages = []
        for _ in range(3):  # 12 forms, four at once
            pages += await asyncio.gather(
                *(submit_start_form(host, port, ATTACKER, "guess") for _ in range(4))
            )
        return pages

    pages = asyncio.run(attack())
    assert live_rooms(store) == 0
    assert any("Too many tries from this network address" in t for p in pages for t in p.texts)
    passphrase = re.search(r"with the passphrase (\S+)", log.read_text())[1]
    elsewhere = asyncio.run(submit_start_form(host, port, TEACHER_ELSEWHERE, passphrase))
    assert elsewhere.query.startswith("room=") and live_rooms(store) == 1
    at_the_laptop = asyncio.run(submit_start_form(host, port, "127.0.0.1"))  # no field: one click
    assert at_the_laptop.query.startswith("room=") and live_rooms(store) == 2


def test_room_code_guesses_are_throttled_per_client(served):
    host, port, store, _ = served
    code = store.create("0" * 32, PIN).code

    async def guess(query: str, local_address: str) -> list[str]:
        socket, page = await open_page(host, port, query, local_address)
        await socket.close()
        return page.texts

    async def attack() -> list[list[str]]:
        return [
            await guess(f"{keys.ROOM_VIEW}=ZZZZ{c}", ATTACKER) for c in "ABCDEFGHJKLMNPQRSTUVWXY"
        ]

    answers = asyncio.run(attack())
    assert "Too many tries" in " ".join(answers[-1]) and "no open room" in " ".join(answers[0])
    student = asyncio.run(guess(f"{keys.ROOM_VIEW}={code}", "127.0.0.1"))
    assert not any("Too many tries" in t for t in student)
    assert store.joined(code) == 1


def test_a_program_joining_invented_students_is_paced_and_removed(served):
    """Two students are in; then 12 cookieless sessions (12 new browsers) join at once: the pace
    lets the minute's 8 in (the two students count) and tells the rest that the page tries
    again; the teacher's removal of the joins since the flood leaves the two and their answers."""
    host, port, store, _ = served
    teacher = "1" * 32
    code = store.create(teacher, PIN).code
    real = ["2" * 32, "3" * 32]
    for student in real:
        store.join(code, student)
        store.answer(code, 1, student, "1")

    async def join(local_address: str) -> list[str]:
        socket, page = await open_page(host, port, f"{keys.ROOM_VIEW}={code}", local_address)
        await socket.close()
        return page.texts

    async def flood() -> list[list[str]]:
        return await asyncio.gather(*(join(JOINER) for _ in range(12)))

    flood_started = time.time()
    answers = asyncio.run(flood())
    paced = [t for t in answers if "students joined this room in the last minute" in " ".join(t)]
    assert store.joined(code) == JOINS_PER_MINUTE  # 2 students and 6 of the program's
    assert len(paced) == 12 - 6
    assert store.remove_students(code, teacher, joined_since=flood_started) == 6
    assert store.joined(code) == 2 and store.tally(code, 1) == {"1": 2}
