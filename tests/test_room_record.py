"""`demo.rooms.record`: the class's record, its CSV and JSON, the class's and a student's summary,
against hand-computed counts; and a room at its cap, recorded alike from SQLite and Redis."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time

import pytest
from test_rooms import NO_PERSISTENCE, start_redis

from demo import lesson, rooms
from demo.rooms import record
from demo.rooms.redis_store import RedisStore
from demo.rooms.sqlite_store import SQLiteStore

COUNT = record.Asked(
    number=1,
    title="What the model sees",
    question="How many slots hold a 1?",
    choices=("0", "1", "2", "4 or more"),
    shown={"0": "0", "1": "1", "2": "2", "4 or more": "4 or more"},
    right="4 or more",
    right_text="4 or more",
    misconceptions={"1": "an image has one label", "2": "only some pictures count"},
)
CLASSES = record.Asked(
    number=2,
    title="One sigmoid per class",
    question="Which classes pass?",
    choices=("cat", "dog", "ship"),
    shown={"cat": "cat", "dog": "dog", "ship": "ship"},
    several=True,
    right=("cat", "ship"),
    right_text="cat, ship",
    naming_extra="names what is there",
    leaving_out="the outputs add up to 1",
)
# 10 answered step 1: 6 right, 3 said "1", 1 said "2"; step 2: 7 answered.
TALLIES = {
    1: {"4 or more": 6, "1": 3, "2": 1},
    2: {"cat,ship": 4, "cat": 2, "cat,dog,ship": 1},
}


def parsed(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM, for Excel
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_rows_count_every_choice_by_hand():
    rows = record.record_rows([COUNT, CLASSES], TALLIES)
    assert [(r["step"], r["choice"], r["students"], r["answered"]) for r in rows] == [
        (1, "0", 0, 10),
        (1, "1", 3, 10),
        (1, "2", 1, 10),
        (1, "4 or more", 6, 10),
        (2, "cat", 7, 7),  # each student who named the class, once
        (2, "dog", 1, 7),
        (2, "ship", 5, 7),
    ]
    assert [r["share"] for r in rows] == [0.0, 0.3, 0.1, 0.6, 1.0, 0.1429, 0.7143]
    assert [r["right"] for r in rows] == [False, False, False, True, True, False, True]
    assert [r["misconception"] for r in rows] == [
        "",  # a wrong choice with no line written
        "an image has one label",
        "only some pictures count",
        "",
        "",
        "names what is there",
        "",
    ]
    assert {r["model_answer"] for r in rows[4:]} == {"cat, ship"}


def test_before_the_reveal_nothing_is_said_right_or_wrong():
    hidden = record.Asked(**{**COUNT.__dict__, "right": None, "right_text": ""})
    rows = record.record_rows([hidden], TALLIES)
    assert {(r["right"], r["model_answer"], r["misconception"]) for r in rows} == {(None, "", "")}
    assert [r["students"] for r in rows] == [0, 3, 1, 6]


def test_a_step_nobody_answered_has_no_share_and_unknown_answers_are_not_counted():
    rows = record.record_rows([COUNT], {1: {"7": 2, "<script>": 1}})
    assert [(r["students"], r["share"], r["answered"]) for r in rows] == [(0, 0.0, 3)] * 4
    rows = record.record_rows([COUNT], {})
    assert {(r["students"], r["share"], r["answered"]) for r in rows} == {(0, None, 0)}


def test_the_csv_reads_back_with_numbers_as_numbers_and_headings_translated():
    rows = record.record_rows([COUNT, CLASSES], TALLIES)
    words = {"step": "ステップ", "yes": "はい", "no": "いいえ"}
    table = parsed(record.csv_bytes(rows, lambda text: words.get(text, text)))
    assert table[0][:2] == ["ステップ", "title"] and len(table[0]) == len(record.COLUMNS)
    assert len(table) == 1 + len(rows)
    by_heading = [dict(zip(table[0], line, strict=True)) for line in table[1:]]
    assert [int(r["students who chose it"]) for r in by_heading] == [0, 3, 1, 6, 7, 1, 5]
    assert [float(r["share of those who answered"]) for r in by_heading][1] == 0.3
    assert [r["right"] for r in by_heading] == ["いいえ"] * 3 + ["はい", "はい", "いいえ", "はい"]
    assert by_heading[1]["the misconception it stands for"] == "an image has one label"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_no_text_cell_starts_a_formula(start):
    risky = record.Asked(
        number=3,
        title=f'{start}HYPERLINK("http://x")',
        question=f"{start}1+1",
        choices=("a", "b"),
        shown={"a": f"{start}cmd|' /C calc'!A0", "b": "b"},
        right="b",
        right_text=f"{start}b",
        misconceptions={"a": f"{start}SUM(A1:A9)"},
    )
    rows = record.record_rows([risky], {3: {"a": 2, "b": 1}})
    table = parsed(record.csv_bytes(rows))
    for line in table[1:]:
        for value in line:
            assert not value.startswith(record.FORMULA_STARTS), line
    first = dict(zip(table[0], table[1], strict=True))
    assert first["title"] == f'\'{start}HYPERLINK("http://x")'
    assert first["choice"] == f"'{start}cmd|' /C calc'!A0"
    assert first["the misconception it stands for"] == f"'{start}SUM(A1:A9)"
    assert first["students who chose it"] == "2"  # a number is never prefixed


def test_the_json_reads_back_with_the_same_rows():
    rows = record.record_rows([COUNT, CLASSES], TALLIES)
    back = json.loads(
        record.json_bytes(rows, lambda text: {"right": "正解"}.get(text, text)).decode("utf-8")
    )
    assert len(back) == len(rows)
    assert back[3]["正解"] is True and back[0]["正解"] is False
    assert back[1]["students who chose it"] == 3 and back[1]["share of those who answered"] == 0.3
    assert back[1]["title"] == "What the model sees"


def test_json_headings_default_to_english():
    back = json.loads(record.json_bytes(record.record_rows([COUNT], TALLIES)))
    assert list(back[0]) == [heading for _field, heading in record.COLUMNS]


def test_the_class_summary_names_the_most_common_wrong_answer_and_its_belief():
    first, second = record.class_summary([COUNT, CLASSES], TALLIES)
    assert (first.answered, first.as_the_model, first.share) == (10, 6, 0.6)
    assert (first.common_wrong, first.common_wrong_students) == ("1", 3)
    assert first.misconception == "an image has one label"
    assert (second.answered, second.as_the_model, second.share) == (7, 4, 0.5714)
    assert (second.common_wrong, second.common_wrong_students) == ("cat", 2)
    assert second.misconception == "the outputs add up to 1"  # left out "ship"


def test_a_set_answer_with_a_class_too_many_and_one_missing_stands_for_both_beliefs():
    assert record.misconception_of(CLASSES, "cat,dog") == (
        "names what is there; the outputs add up to 1"
    )
    assert record.misconception_of(CLASSES, "ship,cat") == ""  # right, in any order
    line = record.class_line(CLASSES, {"dog": 2, "cat": 2})  # a tie: the first by its text
    assert (line.common_wrong, line.share) == ("cat", 0.0)


def test_a_class_with_only_right_answers_has_no_wrong_line():
    line = record.class_line(COUNT, {"4 or more": 5})
    assert (line.common_wrong, line.misconception, line.share) == (None, "", 1.0)


def test_a_student_s_summary_has_only_the_steps_they_answered():
    mine = record.student_summary([COUNT, CLASSES], {1: None, 2: "cat"}, TALLIES)
    assert len(mine) == 1
    assert (mine[0].asked.number, mine[0].stored, mine[0].right) == (2, "cat", False)
    assert mine[0].class_share == 0.5714
    assert record.student_summary([COUNT, CLASSES], {}, TALLIES) == []


def test_bad_step_data_is_refused_with_a_helpful_message():
    with pytest.raises(ValueError, match="not among its choices"):
        record.Asked(1, "t", "q", ("a",), {"a": "a"}, misconceptions={"z": "?"})
    with pytest.raises(ValueError, match="counts from 1"):
        record.Asked(0, "t", "q", ("a",), {"a": "a"})
    with pytest.raises(ValueError, match="one per choice"):
        lesson.Question("label_count", "?", ("a", "b"), misconceptions=("only one",))


def test_every_wrong_choice_of_every_question_has_a_misconception():
    for step in lesson.STEPS:
        question = step.question
        if question is None:
            continue
        if question.several:
            assert question.naming_extra and question.leaving_out, step.slug
        else:
            assert len(question.misconceptions) == len(question.choices), step.slug
            assert all(line.strip() for line in question.misconceptions), step.slug


# ---------------------------------------------------------------------------------------------
# A room at its cap: 300 students, every question answered, in either store
# ---------------------------------------------------------------------------------------------

STUDENTS = rooms.Limits().students_per_room


def unpaced_limits() -> rooms.Limits:
    """The default caps, without the pacing of joins and answers per minute (a test fills a
    room at once)."""
    paces = {name: 10**6 for name in vars(rooms.Limits()) if "per_minute" in name}
    return dataclasses.replace(rooms.Limits(), **paces)


def lesson_questions() -> list[record.Asked]:
    """The lesson's questions as the page passes them, each with its first choice as the
    models' answer (no models here)."""
    from demo.ui.room_summary import asked_of

    return [
        asked_of(number, step, step.question.choices[0])
        for number, step in enumerate(lesson.STEPS, start=1)
        if step.question is not None
    ]


def answer_of(number: int, student: int, asked: record.Asked) -> str:
    """Student `student`'s answer to step `number`: choices in turn, pairs for a set question."""
    choices = asked.choices
    first = choices[(student + number) % len(choices)]
    if not asked.several:
        return first
    return ",".join(sorted({first, choices[(student * 7) % len(choices)]}))


def fill_a_room(store) -> str:
    teacher = rooms.new_browser_id()
    code = store.create(teacher, "314159").code
    students = [rooms.new_browser_id() for _ in range(STUDENTS)]
    for student in students:
        store.join(code, student)
    for asked in lesson_questions():
        store.lead(code, teacher, step=asked.number)
        for index, student in enumerate(students):
            store.answer(code, asked.number, student, answer_of(asked.number, index, asked))
    return code


@pytest.fixture(scope="module")
def redis_store(tmp_path_factory):
    process, port = start_redis(tmp_path_factory.mktemp("redis"), *NO_PERSISTENCE)
    try:
        store = RedisStore(f"redis://127.0.0.1:{port}/0", unpaced_limits())
        store.redis.flushdb()
        yield store
    finally:
        process.terminate()
        process.wait(timeout=10)


def timed_record(store, code: str) -> tuple[bytes, bytes, float]:
    started = time.perf_counter()
    steps = lesson_questions()
    tallies = {asked.number: store.tally(code, asked.number) for asked in steps}
    rows = record.record_rows(steps, tallies)
    made = record.csv_bytes(rows), record.json_bytes(rows)
    return *made, time.perf_counter() - started


@pytest.mark.slow
def test_a_full_room_is_recorded_in_well_under_a_second_and_alike_from_either_store(
    tmp_path, redis_store
):
    sqlite_store = SQLiteStore(tmp_path / "rooms.sqlite3", unpaced_limits())
    made = {}
    for name, store in (("sqlite", sqlite_store), ("redis", redis_store)):
        code = fill_a_room(store)
        csv_data, json_data, seconds = timed_record(store, code)
        assert seconds < 0.5, (name, seconds)
        made[name] = csv_data, json_data
    assert made["sqlite"] == made["redis"]
    table = parsed(made["sqlite"][0])
    questions = lesson_questions()
    assert len(table) == 1 + sum(len(asked.choices) for asked in questions)
    by_step: dict[int, list[list[str]]] = {}
    for line in table[1:]:
        by_step.setdefault(int(line[0]), []).append(line)
    for asked in questions:
        expected = dict.fromkeys(asked.choices, 0)
        for student in range(STUDENTS):
            for choice in record.choices_of(asked, answer_of(asked.number, student, asked)):
                expected[choice] += 1
        lines = by_step[asked.number]
        assert [int(line[4]) for line in lines] == list(expected.values()), asked.number
        assert {int(line[6]) for line in lines} == {STUDENTS}  # every student answered
