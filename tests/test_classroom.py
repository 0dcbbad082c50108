"""A class room through AppTest: a teacher and students as separate sessions sharing the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import start_app

from demo import classroom_page, lesson, rooms

APP = str(Path(__file__).resolve().parents[1] / "demo" / "app.py")
pytestmark = pytest.mark.slow  # every test here starts the app several times
TEACHER_KEYS = {"room_back", "room_next", "room_reveal", "room_close"}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return tmp_path / "data"


def value(params, name):
    found = params[name]
    return found[0] if isinstance(found, list) else found


def open_room(fixture_models, monkeypatch):
    teacher = start_app(APP, fixture_models, monkeypatch, {"room": "new"})
    assert not teacher.exception
    return teacher, value(teacher.query_params, "room"), value(teacher.query_params, "key")


def keys(at) -> set[str]:
    return {b.key for b in at.button if b.key} | {p.key for p in at.pills if p.key}


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts + [e.value for e in (*at.info, *at.success, *at.warning)])


def test_a_teacher_leads_and_the_students_follow(fixture_models, monkeypatch, data_dir):
    teacher, code, key = open_room(fixture_models, monkeypatch)
    assert keys(teacher) >= TEACHER_KEYS
    assert f"?room={code}" in texts(teacher) and len(teacher.get("image")) == 2  # composite, QR
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
    assert "**3 answered**" in texts(teacher)
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


def test_a_student_cannot_act_as_the_teacher(fixture_models, monkeypatch, data_dir):
    _, code, key = open_room(fixture_models, monkeypatch)
    for query in ({"room": code, "key": "wrong"}, {"room": code, "key": ""}, {"room": code}):
        at = start_app(APP, fixture_models, monkeypatch, query)
        assert not at.exception and not keys(at) & TEACHER_KEYS
        if query.get("key"):
            assert "teacher key is not right" in at.warning[0].value
    with pytest.raises(rooms.RoomError):
        rooms.open_store(redis_url="", folder=data_dir).lead(code, key[:-1], step=5)


@pytest.mark.parametrize("code", ["ZZZZZ", "abc", "<b>x</b>", ""])
def test_an_unknown_or_malformed_code_gets_a_short_message(
    fixture_models, monkeypatch, data_dir, code
):
    at = start_app(APP, fixture_models, monkeypatch, {"room": code})
    assert not at.exception
    assert "There is no open room" in at.warning[0].value


def test_a_student_s_id_stays_in_the_address_and_counts_once(fixture_models, monkeypatch, data_dir):
    _, code, _ = open_room(fixture_models, monkeypatch)
    student = start_app(APP, fixture_models, monkeypatch, {"room": code})
    me = value(student.query_params, "me")
    student.pills(key="room_guess_1").set_value("3").run()
    again = start_app(APP, fixture_models, monkeypatch, {"room": code, "me": me})  # a reload
    assert again.pills(key="room_guess_1").value == "3"
    again.pills(key="room_guess_1").set_value("2").run()
    assert rooms.open_store(redis_url="", folder=data_dir).tally(code, 1) == {"2": 1}
