"""Class rooms in both stores: a real SQLite file (WAL) and a real Redis server."""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
import time

import pytest
from conftest import free_port

from demo import rooms

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return rooms.open_store(redis_url="", folder=tmp_path)
    return rooms.open_store(redis_url=request.getfixturevalue("redis_url"))


def test_only_the_key_leads_and_a_new_step_hides_the_answer(store):
    room, key = store.create()
    assert (room.step, room.revealed, room.closed) == (1, False, False)
    assert rooms.normal_code(room.code) == room.code
    assert store.room(room.code.lower()) == room  # a code typed in lower case still opens it
    for wrong in ("", "x" * 22, key[:-1] + ("A" if key[-1] != "A" else "B")):
        assert not store.is_teacher(room.code, wrong)
        with pytest.raises(rooms.RoomError, match="teacher"):
            store.lead(room.code, wrong, step=2)
    revealed = store.lead(room.code, key, revealed=True)
    assert revealed.revealed and revealed.version > room.version
    moved = store.lead(room.code, key, step=3)
    assert (moved.step, moved.revealed) == (3, False) and moved.version > revealed.version
    assert store.lead(room.code, key, closed=True).closed


def test_an_answer_counts_once_and_only_while_it_may(store):
    room, key = store.create()
    students = [rooms.new_student_id() for _ in range(10)]
    for student in students:
        store.answer(room.code, 1, student, "2")
    store.answer(room.code, 1, students[0], "3")  # a later answer replaces the earlier one
    for _ in range(100):
        store.answer(room.code, 1, students[1], "4")  # a hundred clicks count once
    assert store.tally(room.code, 1) == {"2": 8, "3": 1, "4": 1}
    assert store.answer_of(room.code, 1, students[0]) == "3"
    with pytest.raises(rooms.RoomError, match="current step"):
        store.answer(room.code, 2, students[2], "1")
    store.lead(room.code, key, revealed=True)
    with pytest.raises(rooms.RoomError, match="until the reveal"):
        store.answer(room.code, 1, students[2], "1")
    with pytest.raises(rooms.RoomError, match="random id"):
        store.answer(room.code, 1, "x; DROP TABLE", "1")
    store.lead(room.code, key, closed=True)
    with pytest.raises(rooms.RoomError, match="closed"):
        store.answer(room.code, 1, students[2], "1")
    assert sum(store.tally(room.code, 1).values()) == 10


def test_unknown_malformed_and_expired_rooms_are_not_found(store, monkeypatch):
    for code in (None, "", "ABCDE", "abc", "ZZZZZZZZ", "O0I1L", "<script>"):
        assert store.room(code) is None
        assert not store.is_teacher(code, "anything")
    monkeypatch.setattr(rooms, "ROOM_HOURS", -1)
    old, key = store.create()
    assert store.room(old.code) is None
    with pytest.raises(rooms.RoomError):
        store.lead(old.code, key, step=2)


def answer_many(path: str, code: str, offset: int) -> None:
    store = rooms.SQLiteStore(path)
    for index in range(150):
        store.answer(code, 1, f"student{offset + index:08d}", str(index % 3))


def test_workers_in_separate_processes_share_the_sqlite_file(tmp_path):
    store = rooms.open_store(redis_url="", folder=tmp_path)
    room, _ = store.create()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=answer_many, args=(str(store.path), room.code, 1000 * n))
        for n in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sum(store.tally(room.code, 1).values()) == 450
    journal = store.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_redis_is_chosen_by_its_url_and_sqlite_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(rooms.open_store(folder=tmp_path), rooms.SQLiteStore)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert isinstance(rooms.open_store(folder=tmp_path), rooms.RedisStore)


def test_answers_are_validated_encoded_and_counted_per_choice():
    from demo import classroom_page, lesson

    several = next(step for step in lesson.STEPS if step.question and step.question.several)
    one = next(step for step in lesson.STEPS if step.question and not step.question.several)
    assert classroom_page.encode(["dog", "cat"]) == "cat,dog"
    assert classroom_page.decode(several, "cat,dog") == ["cat", "dog"]
    assert classroom_page.valid(several, ["cat", "dog"]) and not classroom_page.valid(several, [])
    assert not classroom_page.valid(several, ["cat", "unicorn"])
    assert not classroom_page.valid(one, "7") and classroom_page.valid(one, one.question.choices[0])
    counted = classroom_page.counts(several, {"cat,dog": 2, "cat": 1, "unicorn": 5})
    assert counted["cat"] == 3 and counted["dog"] == 2 and sum(counted.values()) == 5
