"""A class room through AppTest: a teacher and students as separate sessions sharing the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import start_app

from demo import lesson, rooms
from demo.app_pages import room as classroom_page

APP = str(Path(__file__).resolve().parents[1] / "demo" / "app.py")
pytestmark = pytest.mark.slow  # every test here starts the app several times
TEACHER_KEYS = set(classroom_page.TEACHER_KEYS)
PIN = "271828"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv(classroom_page.PASSPHRASE_VARIABLE, raising=False)
    return tmp_path / "data"


def value(params, name):
    found = params[name]
    return found[0] if isinstance(found, list) else found


def start_room(at, pin=PIN, passphrase=None):
    """Fill the start form of `at` (a page at ?room=new) and submit it."""
    fields = {field.label: field for field in at.text_input}
    if passphrase is not None:
        fields["This server's teacher passphrase"].input(passphrase)
    next(f for label, f in fields.items() if "PIN" in label).input(pin)
    at.button[0].click()  # the form's submit button
    return at.run()


def open_room(fixture_models, monkeypatch):
    teacher = start_app(APP, fixture_models, monkeypatch, {"room": "new"})
    assert not teacher.exception and not keys(teacher) & TEACHER_KEYS
    start_room(teacher)
    assert not teacher.exception
    assert set(teacher.query_params) == {"room"}  # the address holds the code and nothing else
    return teacher, value(teacher.query_params, "room")


def keys(at) -> set[str]:
    return {b.key for b in at.button if b.key} | {p.key for p in at.pills if p.key}


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts + [e.value for e in (*at.info, *at.success, *at.warning, *at.error)])


def test_a_teacher_leads_and_the_students_follow(fixture_models, monkeypatch, data_dir):
    teacher, code = open_room(fixture_models, monkeypatch)
    assert keys(teacher) >= TEACHER_KEYS - {"room_reopen", "room_unlock"}
    assert f"?room={code}" in texts(teacher) and len(teacher.get("image")) == 2  # composite, QR
    assert "**0 joined · 0 answered**" in texts(teacher)
    students = [start_app(APP, fixture_models, monkeypatch, {"room": code}) for _ in range(3)]
    first = lesson.STEPS[0]
    for index, student in enumerate(students):
        assert not student.exception and not keys(student) & TEACHER_KEYS
        assert student.subheader[0].value == f"Step 1 of {len(lesson.STEPS)}: {first.title}"
        assert "the answer is" not in texts(student)
        choice = first.question.choices[1 if index < 2 else 4]
        student.pills(key="room_guess_1").set_value(choice).run()
    students[0].pills(key="room_guess_1").set_value(first.question.choices[2]).run()  # a change
    teacher.run()
    assert "**3 joined · 3 answered**" in texts(teacher)
    assert classroom_page.counts(first, rooms.open_store(folder=data_dir).tally(code, 1)) == {
        "0": 0,
        "1": 1,
        "2": 1,
        "3": 0,
        "4 or more": 1,
    }
    assert any("tally" in str(chart.proto) for chart in teacher.get("vega_lite_chart"))
    teacher.button(key="room_reveal").click().run()
    assert "The answer is **4 or more**" in texts(teacher)
    for student, said in zip(students, ("2", "1", "4 or more"), strict=True):
        student.run()
        assert f"You said **{said}**" in texts(student)
    assert "Right." in texts(students[2]) and "Not quite." in texts(students[0])
    teacher.button(key="room_next").click().run()
    students[1].run()
    assert students[1].subheader[0].value.startswith("Step 2 of")
    assert "the answer is" not in texts(students[1])


def test_a_closed_room_takes_no_answers_and_its_teacher_reopens_it(
    fixture_models, monkeypatch, data_dir
):
    teacher, code = open_room(fixture_models, monkeypatch)
    student = start_app(APP, fixture_models, monkeypatch, {"room": code})
    teacher.button(key="room_close").click().run()
    assert "This room is closed" in texts(teacher) and "room_reopen" in keys(teacher)
    student.run()
    assert student.pills(key="room_guess_1").disabled
    teacher.button(key="room_reopen").click().run()
    student.run()
    assert not student.pills(key="room_guess_1").disabled
    student.pills(key="room_guess_1").set_value("2").run()
    assert rooms.open_store(folder=data_dir).tally(code, 1) == {"2": 1}


def test_once_the_teacher_locks_joining_a_new_browser_cannot_join(
    fixture_models, monkeypatch, data_dir
):
    teacher, code = open_room(fixture_models, monkeypatch)
    inside = start_app(APP, fixture_models, monkeypatch, {"room": code})
    teacher.button(key="room_lock").click().run()
    assert "Joining is locked" in texts(teacher) and "room_unlock" in keys(teacher)
    late = start_app(APP, fixture_models, monkeypatch, {"room": code})
    assert "takes no new students" in late.error[0].value and not late.pills
    inside.pills(key="room_guess_1").set_value("2").run()
    teacher.run()
    assert "**1 joined · 1 answered**" in texts(teacher)


def test_a_several_choice_answer_counts_each_class_once(fixture_models, monkeypatch, data_dir):
    several = next(s for s in lesson.STEPS if s.question and s.question.several)
    assert classroom_page.encode(["dog", "dog", "cat"]) == "cat,dog"
    assert not classroom_page.valid(several, ["dog"] * 5000)
    assert not classroom_page.valid(several, [["dog"]]) and not classroom_page.valid(several, [])


def test_old_teacher_links_and_invented_ids_give_no_control(fixture_models, monkeypatch, data_dir):
    teacher, code = open_room(fixture_models, monkeypatch)
    for query in ({"room": code, "key": "anything"}, {"room": code, "me": "a" * 32}):
        at = start_app(APP, fixture_models, monkeypatch, query)
        assert not at.exception and not keys(at) & TEACHER_KEYS
        assert set(at.query_params) == {"room"}  # the stale parameter is dropped
    assert "room_next" in keys(teacher.run())


def test_a_second_device_leads_with_the_pin_and_wrong_pins_are_limited(
    fixture_models, monkeypatch, data_dir
):
    projector, code = open_room(fixture_models, monkeypatch)
    phone = start_app(APP, fixture_models, monkeypatch, {"room": code})
    phone.toggle(key="teacher_sign_in").set_value(True).run()
    phone.text_input(key="teacher_pin").input("999999")
    phone.button(key="room_sign_in").click().run()
    assert f"not this room's teacher PIN ({rooms.PIN_TRIES - 1} tries left)" in texts(phone)
    assert not keys(phone) & TEACHER_KEYS
    phone.text_input(key="teacher_pin").input(PIN)
    phone.button(key="room_sign_in").click().run()
    assert "room_next" in keys(phone) and "**0 joined" in texts(phone)
    phone.button(key="room_next").click().run()  # the phone as a remote
    assert "Step 2 of" in projector.run().subheader[0].value


@pytest.mark.parametrize("code", ["ZZZZZ", "abc", "<b>x</b>", "", "[x](https://evil.example)"])
def test_an_unknown_or_malformed_code_gets_a_short_message(
    fixture_models, monkeypatch, data_dir, code
):
    at = start_app(APP, fixture_models, monkeypatch, {"room": code})
    assert not at.exception
    assert "There is no open room" in at.warning[0].value
    assert "evil" not in texts(at) and "<b>" not in texts(at)


def test_back_to_the_start_address_creates_no_room(fixture_models, monkeypatch, data_dir):
    first = start_app(APP, fixture_models, monkeypatch, {"room": "new"})
    again = start_app(APP, fixture_models, monkeypatch, {"room": "new"})  # Back, or a reload
    store = rooms.open_store(folder=data_dir)
    assert store.connection().execute("SELECT COUNT(*) FROM rooms").fetchone()[0] == 0
    assert not first.exception and not again.exception and "Start a room" in again.button[0].label


def test_a_deployment_passphrase_guards_starting_a_room(fixture_models, monkeypatch, data_dir):
    monkeypatch.setenv(classroom_page.PASSPHRASE_VARIABLE, "correct horse battery")
    at = start_app(APP, fixture_models, monkeypatch, {"room": "new"})
    start_room(at, passphrase="wrong")
    assert "not this server's teacher passphrase" in texts(at)
    assert value(at.query_params, "room") == "new"
    start_room(at, passphrase="correct horse battery")
    assert rooms.normal_code(value(at.query_params, "room"))


def test_a_store_that_fails_shows_a_message_and_the_free_page_still_works(
    fixture_models, monkeypatch, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MULTILABEL_DATA_DIR", str(blocker / "data"))  # cannot be created
    at = start_app(APP, fixture_models, monkeypatch, {"room": "ABCDE"})
    assert not at.exception and "class-room service is unavailable" in at.error[0].value
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    at = start_app(APP, fixture_models, monkeypatch, {"room": "new"})
    assert not at.exception and "class-room service is unavailable" in at.error[0].value
    free = start_app(APP, fixture_models, monkeypatch)
    assert not free.exception and not free.error
