"""Class rooms in both stores: a real SQLite file (WAL) and a real Redis server."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import time

import pytest
from conftest import free_port

from demo import rooms
from demo.rooms.redis_store import RedisStore
from demo.rooms.sqlite_store import SQLiteStore

REDIS_SERVER = shutil.which("redis-server")


def start_redis(folder, *options: str, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """A real redis-server on `port` (default: a free loopback port) with `options`, once it
    takes connections."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    port = port or free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.1)


NO_PERSISTENCE = ("--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    process, port = start_redis(tmp_path_factory.mktemp("redis"), *NO_PERSISTENCE)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def make_store(kind: str, request, tmp_path, limits: rooms.Limits | None = None):
    limits = limits or rooms.Limits()
    if kind == "sqlite":
        return SQLiteStore(tmp_path / "rooms.sqlite3", limits)
    redis_store = RedisStore(request.getfixturevalue("redis_url"), limits)
    redis_store.redis.flushdb()
    return redis_store


@pytest.fixture(params=["sqlite", "redis"])
def kind(request):
    return request.param


@pytest.fixture
def store(kind, request, tmp_path):
    return make_store(kind, request, tmp_path)


def browsers(count: int) -> list[str]:
    return [rooms.new_browser_id() for _ in range(count)]


def test_only_its_teachers_lead_and_a_new_step_hides_the_answer(store):
    teacher, student = browsers(2)
    room = store.create(teacher, "314159")
    assert (room.step, room.revealed, room.closed) == (1, False, False)
    assert store.room(room.code.lower()) == room  # a code typed in lower case still opens it
    for wrong in ("", student, "x" * 32, teacher.upper()):
        assert not store.is_teacher(room.code, wrong)
        with pytest.raises(rooms.RoomError, match="teacher"):
            store.lead(room.code, wrong, step=2)
    revealed = store.lead(room.code, teacher, revealed=True)
    assert revealed.revealed and revealed.version > room.version
    moved = store.lead(room.code, teacher, step=3)
    assert (moved.step, moved.revealed) == (3, False) and moved.version > revealed.version
    closed = store.lead(room.code, teacher, closed=True)
    assert closed.closed and closed.expires < moved.expires  # a closed room ends sooner
    reopened = store.lead(room.code, teacher, closed=False)
    assert not reopened.closed and reopened.step == 3 and reopened.expires > closed.expires
    with pytest.raises(rooms.RoomError, match="step"):
        store.lead(room.code, teacher, step=rooms.MAX_STEPS + 1)


def test_the_pin_lets_another_device_lead_and_wrong_tries_are_limited(store):
    teacher, phone, student = browsers(3)
    room = store.create(teacher, "teach42")
    store.join(room.code, phone)
    with pytest.raises(rooms.RoomError, match=f"{rooms.PIN_TRIES - 1} tries left"):
        store.sign_in(room.code, student, "teach43")
    store.sign_in(room.code, phone, "teach42")
    assert store.is_teacher(room.code, phone) and not store.is_teacher(room.code, student)
    assert store.joined(room.code) == 0  # the teacher's phone is no longer counted as a student
    assert store.lead(room.code, phone, step=2).step == 2
    for left in range(rooms.PIN_TRIES - 2, -1, -1):
        with pytest.raises(rooms.RoomError, match=f"{left} tries left"):
            store.sign_in(room.code, student, "guess00")
    with pytest.raises(rooms.RoomError, match="paused"):
        store.sign_in(room.code, student, "teach42")  # even the right PIN, while paused
    assert not store.is_teacher(room.code, student) and store.is_teacher(room.code, teacher)
    with pytest.raises(rooms.RoomError, match="PIN has 6"):
        store.create(teacher, "12")


def test_an_answer_counts_once_per_joined_student_and_only_while_it_may(store):
    teacher, *students = browsers(11)
    room = store.create(teacher, "314159")
    for student in students:
        store.join(room.code, student)
        store.join(room.code, student)  # a reload or a second tab joins once
        store.answer(room.code, 1, student, "2")
    store.answer(room.code, 1, students[0], "3")  # a later answer replaces the earlier one
    for _ in range(100):
        store.answer(room.code, 1, students[1], "4")  # a hundred clicks count once
    assert store.tally(room.code, 1) == {"2": 8, "3": 1, "4": 1}
    assert store.joined(room.code) == 10 and store.answer_of(room.code, 1, students[0]) == "3"
    with pytest.raises(rooms.RoomError, match="joined"):
        store.answer(room.code, 1, rooms.new_browser_id(), "1")  # an id that never joined
    with pytest.raises(rooms.RoomError, match="current step"):
        store.answer(room.code, 2, students[2], "1")
    store.lead(room.code, teacher, revealed=True)
    with pytest.raises(rooms.RoomError, match="until the reveal"):
        store.answer(room.code, 1, students[2], "1")
    with pytest.raises(rooms.RoomError, match="random id"):
        store.answer(room.code, 1, "x; DROP TABLE", "1")
    store.lead(room.code, teacher, closed=True)
    with pytest.raises(rooms.RoomError, match="closed"):
        store.answer(room.code, 1, students[2], "1")
    assert sum(store.tally(room.code, 1).values()) == 10


def test_rooms_are_capped_per_browser_per_server_and_students_per_room(kind, request, tmp_path):
    limits = rooms.Limits(rooms_per_browser=2, rooms_per_server=4, students_per_room=3)
    store = make_store(kind, request, tmp_path, limits)
    first, second, third = browsers(3)
    mine = [store.create(first, "314159") for _ in range(2)]
    with pytest.raises(rooms.RoomLimit, match="already leads 2 open rooms.*Close one"):
        store.create(first, "314159")
    store.lead(mine[0].code, first, closed=True)  # closing one makes room for another
    assert store.rooms_of(first) == [mine[1].code]
    store.create(first, "314159")
    store.create(second, "314159")
    with pytest.raises(rooms.RoomLimit, match="already holds 4 rooms"):
        store.create(third, "314159")
    for student in browsers(3):
        store.join(mine[1].code, student)
    with pytest.raises(rooms.RoomLimit, match="already has 3 students"):
        store.join(mine[1].code, rooms.new_browser_id())
    assert store.joined(mine[1].code) == 3


def test_a_room_ends_after_a_period_without_activity_not_at_a_fixed_time(kind, request, tmp_path):
    store = make_store(kind, request, tmp_path, rooms.Limits(idle_hours=1.5 / 3600))
    teacher, student = browsers(2)
    room = store.create(teacher, "314159")
    store.join(room.code, student)
    for _ in range(3):  # 3 s in all, twice the idle time, but never idle for 1.5 s
        time.sleep(1.0)
        store.answer(room.code, 1, student, "2")
    assert store.room(room.code) is not None
    time.sleep(1.7)
    assert store.room(room.code) is None and not store.is_teacher(room.code, teacher)
    with pytest.raises(rooms.RoomError):
        store.lead(room.code, teacher, step=2)


def test_unknown_malformed_and_damaged_rooms_are_not_found(store):
    for code in (None, "", "ABCDE", "abc", "ZZZZZZZZ", "O0I1L", "<script>", "²²²²²"):
        assert store.room(code) is None
        assert not store.is_teacher(code, rooms.new_browser_id())


def test_a_half_written_redis_room_is_not_found_rather_than_raising(request, tmp_path):
    store = make_store("redis", request, tmp_path)
    store.redis.hset("room:ABCDE", mapping={"creator": "x", "step": "1"})  # no expires, version
    assert store.room("ABCDE") is None


def test_browser_ids_are_signed_by_the_server_and_cannot_be_invented(store):
    secret, browser = store.secret(), rooms.new_browser_id()
    assert store.secret() == secret and len(secret) == 32
    token = rooms.sign_browser(browser, secret)
    assert rooms.verified_browser(token, secret) == browser
    other = rooms.sign_browser(browser, b"another server's secret")
    invented = f"{rooms.new_browser_id()}.{token.partition('.')[2]}"
    for bad in (None, "", browser, other, invented, token + "0", token.upper(), "a.b.c"):
        assert rooms.verified_browser(bad, secret) is None


def test_the_sqlite_purge_runs_at_most_once_a_minute_through_the_expiry_index(tmp_path):
    store = SQLiteStore(tmp_path / "rooms.sqlite3", rooms.Limits(idle_hours=0.1 / 3600))
    teacher, student = browsers(2)
    for _ in range(5):
        room = store.create(teacher, "314159")
        store.join(room.code, student)
    time.sleep(0.2)
    db = store.connection()
    assert db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 5  # purged within a minute
    db.execute("UPDATE meta SET value = '0' WHERE name = 'purged'")  # as if a minute went by
    store.limits = rooms.Limits(rooms_per_browser=0, idle_hours=0.1 / 3600)
    with pytest.raises(rooms.RoomLimit):
        store.create(teacher, "314159")  # refused, but the purge it started is kept
    assert db.execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM members").fetchone()[0] == 0
    plan = db.execute("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM rooms WHERE expires >= 0").fetchall()
    assert "rooms_by_expiry" in str(plan)


def test_a_full_redis_refuses_new_rooms_and_keeps_the_live_class(tmp_path, monkeypatch):
    monkeypatch.setattr(
        rooms.identity, "PIN_ITERATIONS", 1
    )  # the flood is about memory, not hashing
    process, port = start_redis(tmp_path, *NO_PERSISTENCE, "--maxmemory", "3mb")
    try:
        store = wait_for_redis(port, rooms.Limits(rooms_per_server=10**6, rooms_per_browser=10**6))
        teacher, *students = browsers(31)
        live = store.create(teacher, "314159")
        for student in students:
            store.join(live.code, student)
            store.answer(live.code, 1, student, "3")
        flooder = rooms.new_browser_id()
        with pytest.raises(rooms.STORE_ERRORS, match="maxmemory"):
            for _ in range(100_000):
                store.create(flooder, "271828")
        store.redis.config_set("maxmemory", "1")  # full for certain, even for a small write
        assert store.redis.ping()
        with pytest.raises(rooms.STORE_ERRORS, match="maxmemory"):
            store.ping()  # the health check sees a full Redis, which still answers PING
        assert store.room(live.code) == store.room(live.code) is not None
        assert store.tally(live.code, 1) == {"3": 30} and store.joined(live.code) == 30
    finally:
        process.kill()
        process.wait(timeout=10)


def wait_for_redis(port: int, limits: rooms.Limits) -> RedisStore:
    deadline = time.monotonic() + 20
    while True:
        try:
            store = RedisStore(f"redis://127.0.0.1:{port}/0", limits)
            store.ping()
            return store
        except rooms.STORE_ERRORS:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_stopped_redis_raises_a_store_error_and_works_again_once_back(tmp_path):
    durable = ("--appendonly", "yes", "--appendfsync", "always")
    process, port = start_redis(tmp_path, *durable)
    store = wait_for_redis(port, rooms.Limits())
    teacher, student = browsers(2)
    room = store.create(teacher, "314159")
    store.join(room.code, student)
    store.answer(room.code, 1, student, "2")
    process.kill()
    process.wait(timeout=10)
    for call in (
        lambda: store.room(room.code),
        store.ping,
        lambda: store.create(teacher, "2718281"),
    ):
        with pytest.raises(rooms.STORE_ERRORS):
            call()
    process, _ = start_redis(tmp_path, *durable, port=port)
    try:
        wait_for_redis(port, rooms.Limits())
        # With the append-only file, a Redis killed with SIGKILL comes back with the room.
        assert store.tally(room.code, 1) == {"2": 1} and store.is_teacher(room.code, teacher)
    finally:
        process.kill()
        process.wait(timeout=10)


def hold_the_write_lock(path: str, ready) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO meta VALUES ('half-written', 'x')")
    ready.set()
    time.sleep(60)


def test_a_writer_killed_inside_a_transaction_loses_only_its_own_change(tmp_path):
    store = SQLiteStore(tmp_path / "rooms.sqlite3", rooms.Limits())
    teacher, student = browsers(2)
    room = store.create(teacher, "314159")
    store.join(room.code, student)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=hold_the_write_lock, args=(str(store.path), ready))
    writer.start()
    assert ready.wait(30)
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(timeout=10)
    store.answer(room.code, 1, student, "4")
    assert store.tally(room.code, 1) == {"4": 1}
    half = store.connection().execute("SELECT 1 FROM meta WHERE name = 'half-written'")
    assert half.fetchone() is None
    assert store.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_data_folder_that_cannot_be_written_raises_a_store_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(rooms.STORE_ERRORS):
        rooms.open_store(redis_url="", folder=blocker / "data")


def answer_many(path: str, code: str, students: list[str]) -> None:
    store = SQLiteStore(path, rooms.Limits(joins_per_minute=1000))
    for index, student in enumerate(students):
        store.join(code, student)
        store.answer(code, 1, student, str(index % 3))


def test_workers_in_separate_processes_share_the_sqlite_file(tmp_path):
    store = SQLiteStore(tmp_path / "rooms.sqlite3", rooms.Limits())
    room = store.create(rooms.new_browser_id(), "314159")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=answer_many, args=(str(store.path), room.code, browsers(100)))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sum(store.tally(room.code, 1).values()) == 300 and store.joined(room.code) == 300
    journal = store.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "wal"


def test_redis_is_chosen_by_its_url_and_sqlite_otherwise(tmp_path, monkeypatch, request):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(rooms.open_store(folder=tmp_path), SQLiteStore)
    monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    assert isinstance(rooms.open_store(folder=tmp_path), RedisStore)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    with pytest.raises(rooms.STORE_ERRORS):
        rooms.open_store(folder=tmp_path)


def test_limits_come_from_the_environment_with_clear_errors():
    assert rooms.Limits.from_environment({}) == rooms.Limits()
    assert (
        rooms.Limits.from_environment({"MULTILABEL_ROOMS_PER_SERVER": "50"}).rooms_per_server == 50
    )
    for bad in ("many", "0", "-3"):
        with pytest.raises(ValueError, match="MULTILABEL_STUDENTS_PER_ROOM"):
            rooms.Limits.from_environment({"MULTILABEL_STUDENTS_PER_ROOM": bad})


def test_the_tally_text_is_read_back_from_the_page_s_own_format():
    text = rooms.TALLY_TEXT.format(joined=31, answered=28)
    assert rooms.counts_in_tally_text(text) == (31, 28)
    assert rooms.counts_in_tally_text("**28 answered**") is None


JA_TALLY = "**参加 {joined}人 · 回答 {answered}人**"  # the Japanese catalog's TALLY_TEXT


@pytest.mark.parametrize(
    "template", [rooms.TALLY_TEXT, JA_TALLY, "**{answered} answered, {joined} joined**"]
)
def test_the_tally_text_is_read_back_in_any_language_s_wording(template):
    templates = (rooms.TALLY_TEXT, template)
    text = template.format(joined=31, answered=28)
    assert rooms.counts_in_tally_text(text, templates) == (31, 28)
    assert rooms.counts_in_tally_text(f"  {template.format(joined=0, answered=7)}\n", templates)
    for other in ("**28 answered**", "**31 joined · x answered**", JA_TALLY, "**Step 1 of 9**"):
        assert rooms.counts_in_tally_text(other, templates) is None


def test_the_tally_text_s_wordings_are_the_catalogs_translations(tmp_path):
    from babel.messages import Catalog, pofile

    from demo import i18n

    catalog = Catalog(locale="ja")
    catalog.add(rooms.TALLY_TEXT, JA_TALLY)
    folder = tmp_path / "ja" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.po").open("wb") as target:
        pofile.write_po(target, catalog)
    templates = rooms.tally.tally_templates(tmp_path)
    assert templates == (rooms.TALLY_TEXT, JA_TALLY)
    assert rooms.counts_in_tally_text(JA_TALLY.format(joined=3, answered=2), templates) == (3, 2)
    # The page's own catalogs: whatever a page in any language draws is read back by default.
    for language in i18n.LANGUAGES:
        catalog_file = i18n.LOCALES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        if language != i18n.SOURCE_LANGUAGE and not catalog_file.exists():
            continue
        drawn = i18n.translations(language).gettext(rooms.TALLY_TEXT)
        assert rooms.counts_in_tally_text(drawn.format(joined=12, answered=9)) == (12, 9)


def test_a_refusal_is_raised_in_english_and_said_in_the_page_s_language():
    refusal = rooms.identity.pin_refusal(False, rooms.PIN_TRIES - 4)
    assert str(refusal) == "That is not this room's teacher PIN (3 tries left)."
    japanese = {refusal.message: "このルームの先生用PINではありません（残り{left}回）。"}
    assert refusal.text(japanese.get) == "このルームの先生用PINではありません（残り3回）。"
    full = rooms.model.room_full(rooms.Limits(students_per_room=30))
    assert isinstance(full, rooms.RoomLimit) and "already has 30 students" in str(full)
    assert rooms.RoomError("No free room code; try again.").text(str.upper).startswith("NO FREE")


def test_answers_are_validated_encoded_and_counted_per_choice():
    from demo import lesson
    from demo.app_pages import room as classroom_page

    several = next(step for step in lesson.STEPS if step.question and step.question.several)
    one = next(step for step in lesson.STEPS if step.question and not step.question.several)
    assert classroom_page.encode(["dog", "cat"]) == "cat,dog"
    assert classroom_page.decode(several, "cat,dog") == ["cat", "dog"]
    assert classroom_page.valid(several, ["cat", "dog"]) and not classroom_page.valid(several, [])
    assert not classroom_page.valid(several, ["cat", "unicorn"])
    assert not classroom_page.valid(one, "7") and classroom_page.valid(one, one.question.choices[0])
    counted = classroom_page.counts(several, {"cat,dog": 2, "cat": 1, "unicorn": 5})
    assert counted["cat"] == 3 and counted["dog"] == 2 and sum(counted.values()) == 5


def test_a_locked_or_closed_room_takes_no_new_students_but_keeps_its_own(store):
    teacher, inside, late = browsers(3)
    room = store.create(teacher, "314159")
    store.join(room.code, inside)
    assert store.lead(room.code, teacher, locked=True).locked
    with pytest.raises(rooms.RoomError, match="no new students"):
        store.join(room.code, late)
    store.join(room.code, inside)  # a student already in comes back (a reload, another worker)
    store.answer(room.code, 1, inside, "2")
    store.lead(room.code, teacher, locked=False)
    store.lead(room.code, teacher, closed=True)
    with pytest.raises(rooms.RoomError, match="closed"):
        store.join(room.code, late)
    assert store.joined(room.code) == 1


def test_reopening_respects_the_browser_s_cap(kind, request, tmp_path):
    store = make_store(kind, request, tmp_path, rooms.Limits(rooms_per_browser=1))
    teacher = rooms.new_browser_id()
    first = store.create(teacher, "314159")
    store.lead(first.code, teacher, closed=True)
    store.create(teacher, "314159")
    with pytest.raises(rooms.RoomLimit, match="reopen this one"):
        store.lead(first.code, teacher, closed=False)


def test_answers_are_bounded_and_a_teacher_s_own_answers_leave_the_tally(store):
    teacher, phone = browsers(2)
    room = store.create(teacher, "314159")
    store.join(room.code, phone)
    for bad in ("", "x" * (rooms.MAX_CHOICE_LENGTH + 1)):
        with pytest.raises(rooms.RoomError, match="An answer is"):
            store.answer(room.code, 1, phone, bad)
    store.answer(room.code, 1, phone, "3")
    store.sign_in(room.code, phone, "314159")
    assert store.tally(room.code, 1) == {} and store.joined(room.code) == 0


def test_tries_are_counted_per_name_in_a_window_from_the_first(store):
    assert store.tries("passphrase:10.0.0.1", 60, add=False).count == 0
    for _ in range(3):
        counted = store.tries("passphrase:10.0.0.1", 60)
    assert counted.count == 3 and counted.first <= counted.last
    assert store.tries("passphrase:10.0.0.1", 60, add=False) == counted
    assert store.tries("passphrase:10.0.0.2", 60, add=False).count == 0
    store.tries("short", 0.2)
    time.sleep(0.4)
    assert store.tries("short", 0.2, add=False).count == 0 and store.tries("short", 0.2).count == 1


def test_pins_tried_at_the_same_moment_cannot_pass_the_limit(kind, request, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = make_store(kind, request, tmp_path)
    room = store.create(rooms.new_browser_id(), "314159")

    def guess(index: int) -> str:
        try:
            store.sign_in(room.code, rooms.new_browser_id(), f"guess{index:04d}")
        except rooms.RoomError as error:
            return str(error)
        return "signed in"

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(guess, range(40)))
    checked = [a for a in answers if "tries left" in a]
    assert len(checked) == rooms.PIN_TRIES and "signed in" not in answers
    with pytest.raises(rooms.RoomError, match="paused"):
        store.sign_in(room.code, rooms.new_browser_id(), "314159")


def test_the_sqlite_file_is_readable_by_the_server_s_user_only(tmp_path):
    store = SQLiteStore(tmp_path / "data" / "rooms.sqlite3", rooms.Limits())
    store.secret()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_easy_pins_are_refused_and_others_taken(store):
    teacher = rooms.new_browser_id()
    for easy in ("123456", "654321", "111111", "121212", "123123", "abcdef", "112233"):
        with pytest.raises(rooms.RoomError, match="too easy to guess"):
            store.create(teacher, easy)
    assert store.create(teacher, "503918").code


def test_browser_ids_expire_and_a_pin_sign_in_is_bounded_per_room(store):
    secret, browser = store.secret(), rooms.new_browser_id()
    old = rooms.sign_browser(browser, secret, issued=time.time() - rooms.BROWSER_SECONDS - 5)
    assert rooms.verified_browser(old, secret) is None
    assert rooms.verified_browser(rooms.sign_browser(browser, secret), secret) == browser
    assert rooms.verified_browser(f"{browser}.{'9' * 5000}.ab", secret) is None
    room = store.create(browser, "503918")
    devices = browsers(rooms.TEACHERS_PER_ROOM)
    for device in devices[1:]:
        store.sign_in(room.code, device, "503918")
    with pytest.raises(rooms.RoomError, match="teacher devices"):
        store.sign_in(room.code, devices[0], "503918")
    store.sign_in(room.code, devices[1], "503918")  # a device that leads it already may again


def test_a_join_flood_is_paced_and_the_teacher_removes_it_with_its_answers(kind, request, tmp_path):
    limits = rooms.Limits(joins_per_minute=20)
    store = make_store(kind, request, tmp_path, limits)
    teacher, *class_ = browsers(11)
    room = store.create(teacher, "503918")
    for student in class_:
        store.join(room.code, student)
        store.answer(room.code, 1, student, "2")
    flood_began = time.time()
    fakes, paced = browsers(15), 0
    for fake in fakes:
        try:
            store.join(room.code, fake)
            store.answer(room.code, 1, fake, "7")
        except rooms.JoiningPaced:
            paced += 1
    assert store.joined(room.code) == 20 and paced == 5  # 10 real, then 10 of 15 fakes
    with pytest.raises(rooms.RoomError, match="teacher"):
        store.remove_students(room.code, class_[0], joined_since=flood_began)
    assert store.remove_students(room.code, teacher, joined_since=flood_began) == 10
    assert store.joined(room.code) == 10 and store.tally(room.code, 1) == {"2": 10}
    store.join(room.code, browsers(1)[0])  # a late student gets in once the flood is gone
    assert store.remove_students(room.code, teacher, unanswered_step=1) == 1
    assert store.joined(room.code) == 10


def test_sign_in_guesses_cost_the_guessing_address_not_the_teacher(kind, request, tmp_path):
    from demo.rooms import throttle

    store = make_store(kind, request, tmp_path)
    teacher, phone = browsers(2)
    room = store.create(teacher, "503918")
    answers = []
    for guess in ("123457", "000001", "999998", "555556", "424243"):
        try:
            throttle.sign_in(store, room.code, rooms.new_browser_id(), guess, "127.0.0.2")
        except rooms.RoomError as error:
            answers.append(str(error))
    assert sum("not this room's teacher PIN" in a for a in answers) == throttle.PIN_GUESSES.free
    assert "Too many tries from this network address" in answers[-1]
    throttle.sign_in(store, room.code, phone, "503918", "127.0.0.3")  # the teacher, elsewhere
    assert store.is_teacher(room.code, phone)
    for _ in range(throttle.SIGN_INS_PER_CLIENT.most):  # a known PIN, signed in in a loop
        throttle.sign_in(store, room.code, phone, "503918", "127.0.0.4")
    with pytest.raises(rooms.RoomError, match="Too many tries"):
        throttle.sign_in(store, room.code, phone, "503918", "127.0.0.4")


def test_an_evicting_redis_is_refused_with_the_reason(tmp_path):
    process, port = start_redis(tmp_path, "--save", "", "--maxmemory-policy", "volatile-ttl")
    try:
        with pytest.raises(rooms.STORE_ERRORS, match="maxmemory-policy volatile-ttl"):
            RedisStore(f"redis://127.0.0.1:{port}/0")
    finally:
        process.terminate()
        process.wait(timeout=10)


def open_fresh(path: str, start, outcomes) -> None:
    start.wait()
    try:
        SQLiteStore(path, rooms.Limits()).ping()
        outcomes.put("ok")
    except sqlite3.Error as error:
        outcomes.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_fresh_sqlite_file_at_once_all_succeed(tmp_path):
    context = multiprocessing.get_context("spawn")
    start, outcomes = context.Event(), context.Queue()
    failures = []
    for run in range(8):
        path = str(tmp_path / f"fresh{run}.sqlite3")
        workers = [context.Process(target=open_fresh, args=(path, start, outcomes)) for _ in "abc"]
        for worker in workers:
            worker.start()
        time.sleep(0.3)
        start.set()
        for worker in workers:
            worker.join(timeout=60)
        start.clear()
        failures += [o for o in (outcomes.get(timeout=10) for _ in workers) if o != "ok"]
    assert failures == []
