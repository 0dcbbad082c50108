"""After the lesson in a class room, through AppTest: the teacher's record and the class's
summary, each student's own summary, what a student's page never gets, a store that fails while
the record is built; and the maps' aim, checked on the test set, as the lesson and report say it."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from conftest import start_app
from test_classroom import APP, open_room, texts

from demo import keys, lesson
from demo.rooms.sqlite_store import SQLiteStore

RECORD_KEYS = {keys.ROOM_RECORD_CSV, keys.ROOM_RECORD_JSON}


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTILABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("MULTILABEL_TEACHER_PASSPHRASE", raising=False)
    return tmp_path / "data"


def download_keys(at) -> set[str]:
    return {button.key for button in at.get("download_button")}


def button_keys(at) -> set[str]:
    return {button.key for button in at.button if button.key}


@pytest.mark.slow
def test_the_teacher_records_and_sums_up_and_each_student_sees_only_their_own(
    fixture_models, monkeypatch, data_dir
):
    teacher, code = open_room(fixture_models, monkeypatch)
    assert download_keys(teacher) == RECORD_KEYS and keys.ROOM_SUMMARY in button_keys(teacher)
    students = [start_app(APP, fixture_models, monkeypatch, {"room": code}) for _ in range(3)]
    for student, said in zip(students, ("1", "1", "4 or more"), strict=True):
        student.pills(key="room_guess_1").set_value(said).run()
    teacher.button(key="room_reveal").click().run()
    teacher.button(key="room_next").click().run()
    late = start_app(APP, fixture_models, monkeypatch, {"room": code})  # joins at step 2
    late.pills(key="room_guess_2").set_value(["cat"]).run()
    for student in (*students, late):
        assert not download_keys(student.run()) and keys.ROOM_SUMMARY not in button_keys(student)
    teacher.button(key=keys.ROOM_SUMMARY).click().run()
    assert not teacher.exception and download_keys(teacher) == RECORD_KEYS
    shown = texts(teacher)
    # Step 1: the image holds four classes; 1 of the 3 answers said so, 2 said "1".
    assert "| 1. What the model sees | **33%** (1 of 3) | 1 (2 students) |" in shown
    assert "an image has one label, as in multi-class classification" in shown
    assert "2. One sigmoid per class" in shown and ("(1 of 1)" in shown or "(0 of 1)" in shown)
    assert "3. The threshold decides the set" not in shown  # nobody answered it
    first = texts(students[0].run())
    assert "Not quite. You said **1**; the models' answer: **4 or more**." in first
    assert "33% of the class answered as the models did." in first
    assert "Right. You said **4 or more**" in texts(students[2].run())
    late_shown = texts(late.run())
    assert "2. One sigmoid per class" in late_shown and "What the model sees" not in late_shown
    assert "You said **cat**" in late_shown
    for student in (*students, late):
        assert not student.exception and not download_keys(student)
        assert not button_keys(student) & {keys.ROOM_SUMMARY, keys.ROOM_SUMMARY_BACK}
    teacher.button(key=keys.ROOM_SUMMARY_BACK).click().run()
    assert teacher.subheader[0].value.startswith(f"Room {code} · Step {len(lesson.STEPS)} of")


@pytest.mark.slow
def test_a_student_s_address_with_anything_added_gets_no_record(
    fixture_models, monkeypatch, data_dir
):
    teacher, code = open_room(fixture_models, monkeypatch)
    for query in (
        {"room": code, "record": "csv"},
        {"room": code, "download": "1", "key": "x"},
        {"room": code.lower()},
    ):
        at = start_app(APP, fixture_models, monkeypatch, query)
        assert not at.exception and not download_keys(at), query


@pytest.mark.slow
def test_a_store_that_fails_while_the_record_is_built_shows_the_usual_message(
    fixture_models, monkeypatch, data_dir
):
    teacher, code = open_room(fixture_models, monkeypatch)

    def failing(self, code, step):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(SQLiteStore, "tally", failing)
    teacher.run()
    assert not teacher.exception
    assert any("class-room service is unavailable" in e.value for e in teacher.error)
    assert not download_keys(teacher)


# ---------------------------------------------------------------------------------------------
# Maps a class can check
# ---------------------------------------------------------------------------------------------


def hand_made_evaluation(with_aim: bool = True) -> dict:
    """The few keys the report and the lesson read, with map aim figures written by hand."""
    model = {"exact_match": 0.5}
    if with_aim:
        by_class = {"cat": {"maps": 120, "hit_rate": 0.875, "mean_own_share": 0.6}}
        model["map_aim"] = {
            "four_distinct": {"maps": 480, "hit_rate": 0.8, "by_class": by_class},
            "one_to_four": {
                "maps": 300,
                "hit_rate": 0.7,
                "by_objects": {"1": {"hit_rate": 0.25}, "4": {"hit_rate": 0.9}},
            },
        }
    return {"models": {"bce": model, "cce": {"exact_match": 0.1}}}


MANIFEST = SimpleNamespace(
    models=(SimpleNamespace(name="bce", label="BCE"), SimpleNamespace(name="cce", label="CCE")),
    by_name=lambda name: SimpleNamespace(name=name, label=name.upper()),
)


def test_the_map_step_says_how_often_the_map_lands_on_the_class_from_the_evaluation():
    from demo.ui.lesson_step import map_aim_text

    step = next(s for s in lesson.STEPS if "maps" in s.panels)
    said = map_aim_text(step, hand_made_evaluation(), MANIFEST)
    assert said == (
        "Checked on the test set: BCE's map for “cat” lands on the quadrant of the cat in 88% of "
        "the 120 test composites that hold one."
    )
    assert map_aim_text(step, hand_made_evaluation(with_aim=False), MANIFEST) is None
    assert map_aim_text(step, None, MANIFEST) is None


MAP_AIM_SCRIPT = """
import json, os
from types import SimpleNamespace
import streamlit as st
from demo.ui import report
manifest = SimpleNamespace(models=(SimpleNamespace(name="bce", label="BCE"),
                                   SimpleNamespace(name="cce", label="CCE")))
evaluation = json.loads(os.environ["HAND_MADE_EVALUATION"])
report.show_map_aim(evaluation, manifest, st.container())
"""


@pytest.mark.parametrize("with_aim", [True, False])
def test_the_report_tables_map_aim_per_model_or_says_it_is_missing(monkeypatch, with_aim):
    import json

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("HAND_MADE_EVALUATION", json.dumps(hand_made_evaluation(with_aim)))
    at = AppTest.from_string(MAP_AIM_SCRIPT).run()
    assert not at.exception
    shown = "\n".join(m.value for m in at.markdown)
    if with_aim:
        assert "| model | four distinct | 1 object | 2 objects | 3 objects | 4 objects |" in shown
        assert "| BCE | 80.00% | 25.00% | – | – | 90.00% |" in shown
        assert "CCE" not in shown  # no figures, no row
    else:
        assert not shown and "does not say where the maps look" in at.caption[0].value
