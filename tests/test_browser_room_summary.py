"""After the lesson, in real Chromium: a teacher and three students answer three steps, the
teacher downloads the class's record and finds the tally's counts and no student in it, a
student's browser finds no download, and the summaries are drawn for a projector and a phone."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import ARTIFACTS, BROWSER_TEST, app_served_in
from test_browser import wait_for_text
from test_browser_rooms import PHONE, answer, browser_of, settled, start_a_room

from demo import lesson, rooms
from demo.app_pages.room import counts
from demo.rooms import record
from demo.rooms.sqlite_store import SQLiteStore

pytestmark = BROWSER_TEST
PROJECTOR = {"width": 1280, "height": 720}
# (step, what each of the three students answers): steps 1, 3 and 4, single-choice questions.
ANSWERS = ((1, ("1", "4 or more", "1")), (3, ("get smaller", "get bigger", "get smaller")))
ANSWERS += ((4, ("0", "1", "4 or more")),)
DOWNLOADS = ("Answers as CSV", "Answers as JSON")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rooms")
    with app_served_in(folder) as url:
        yield url, SQLiteStore(folder / "rooms.sqlite3")


def click(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    settled(page)


def go_to_step(teacher, students, now: int, number: int) -> None:
    """The teacher presses Next from step `now` to step `number`; the students follow."""
    for step in range(now + 1, number + 1):
        click(teacher, "Next")
        wait_for_text(teacher, f"Step {step} of")
        settled(teacher)
    for student in students:
        wait_for_text(student, f"Step {number} of")
        settled(student)


def downloaded(page, label: str) -> bytes:
    with page.expect_download(timeout=120_000) as download:
        page.get_by_role("button", name=label).click()
    return download.value.path().read_bytes()


def test_the_teacher_downloads_the_tally_and_no_student_and_students_get_no_download(
    served, chromium
):
    url, store = served
    teacher_context = chromium.new_context(viewport=PROJECTOR, accept_downloads=True)
    teacher, code = start_a_room(teacher_context, url)
    contexts = [chromium.new_context(viewport=PHONE, accept_downloads=True) for _ in range(3)]
    students = [context.new_page() for context in contexts]
    for student in students:
        student.goto(f"{url}/?room={code}")
        wait_for_text(student, "Step 1 of")
        settled(student)
    now = 1
    for number, said in ANSWERS:
        go_to_step(teacher, students, now, number)
        now = number
        for student, choice in zip(students, said, strict=True):
            answer(student, lesson.choice_text(choice))
        wait_for_text(teacher, "3 joined · 3 answered")
        click(teacher, "Reveal")
    for student in students:
        for label in DOWNLOADS:
            assert student.get_by_role("button", name=label).count() == 0
    teacher.wait_for_timeout(3_000)  # a tick of the record's timer after the last answer
    table = list(csv.reader(io.StringIO(downloaded(teacher, DOWNLOADS[0]).decode("utf-8-sig"))))
    assert table[0] == [heading for _field, heading in record.COLUMNS]
    found: dict[int, dict[str, int]] = {}
    for line in table[1:]:
        found.setdefault(int(line[0]), {})[line[3]] = int(line[4])
    for number, said in ANSWERS:
        step = lesson.STEPS[number - 1]
        by_hand = {choice: said.count(choice) for choice in step.question.choices}
        assert found[number] == by_hand == counts(step, store.tally(code, number)), number
    assert set(found) == {1, 2, 3, 4}  # every question reached, step 2 unanswered
    assert sum(found[2].values()) == 0
    rows = json.loads(downloaded(teacher, DOWNLOADS[1]))
    assert len(rows) == len(table) - 1
    everything = "\n".join(",".join(line) for line in table) + json.dumps(rows)
    for context in (*contexts, teacher_context):
        assert browser_of(context) not in everything
        for cookie in context.cookies():
            assert cookie["value"] not in everything
    assert "127.0.0.1" not in everything and code not in everything
    # The summary on the projector, then on each phone.
    click(teacher, "Class summary")
    wait_for_text(teacher, "What the class answered")
    settled(teacher)
    ARTIFACTS.mkdir(exist_ok=True)
    teacher.screenshot(path=str(ARTIFACTS / "room-summary-projector.png"))
    shown = teacher.inner_text("body")
    assert "33% (1 of 3)" in shown  # step 1: one "4 or more" of three
    assert "an image has one label, as in multi-class classification" in shown
    for student in students:
        wait_for_text(student, "Your answers in this lesson")
        settled(student)
        for label in DOWNLOADS:
            assert student.get_by_role("button", name=label).count() == 0
    students[0].screenshot(path=str(ARTIFACTS / "room-summary-student-phone.png"), full_page=True)
    mine = students[0].inner_text("body")
    assert "You said 1; the models' answer: 4 or more." in mine
    assert "33% of the class answered as the models did." in mine
    assert "2. One sigmoid per class" not in mine  # nobody answered it
    assert rooms.normal_code(code) == code
