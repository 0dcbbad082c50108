"""What a class answered, without Streamlit and without a student in it: the teacher's record
(one row per step and choice, as CSV and JSON), the class's summary per question and a student's
own summary, all from the store's tallies (counts per stored answer, never who gave them).

The lesson's steps come in as `Asked`, already in the page's language, with the models' answer
computed by the page (`demo.lesson.answer`), so that everything here is plain data and functions:

    asked = [Asked(1, "What the model sees", "How many…", ("0", "1"), {"0": "0", "1": "1"},
                   right="1", right_text="1", misconceptions={"0": "…"})]
    rows = record_rows(asked, {1: {"1": 20, "0": 9}})
    csv_bytes(rows, translate)       # UTF-8 with a BOM, text cells safe for a spreadsheet
    json_bytes(rows, translate)

A stored answer is one choice, or for a set question its choices sorted and joined by
`SEPARATOR` (`demo.app_pages.room.encode`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from demo.rooms.model import N_

SEPARATOR = ","  # joins the choices of a set answer, as the class room stores it
SHARE_DIGITS = 4  # a share is a number from 0 to 1, rounded to this many digits
# What a spreadsheet reads as a formula (or a command) at the start of a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_PREFIX = "'"  # put before such a text, so that it stays text

# (a row's field, its column heading marked for translation), in the record's order.
COLUMNS = (
    ("step", N_("step")),
    ("title", N_("title")),
    ("question", N_("question")),
    ("choice", N_("choice")),
    ("students", N_("students who chose it")),
    ("share", N_("share of those who answered")),
    ("answered", N_("students who answered")),
    ("right", N_("right")),
    ("model_answer", N_("the models' answer")),
    ("misconception", N_("the misconception it stands for")),
)
YES, NO = N_("yes"), N_("no")


@dataclass(frozen=True)
class Asked:
    """One step's question as the record needs it, its texts in the page's language."""

    number: int  # the step's number in the lesson, from 1
    title: str
    question: str
    choices: tuple[str, ...]  # the stored values, in the order the page offers them
    shown: Mapping[str, str]  # {stored value: as the page shows it}
    several: bool = False  # a set question: a stored answer is some of the choices
    right: str | tuple[str, ...] | None = None  # the models' answer; None before the reveal
    right_text: str = ""  # the models' answer as the page shows it
    misconceptions: Mapping[str, str] = field(default_factory=dict)  # {wrong choice: belief}
    naming_extra: str = ""  # a set question: the belief behind naming a choice the answer lacks
    leaving_out: str = ""  # a set question: the belief behind leaving out one it holds

    def __post_init__(self):
        if not isinstance(self.number, int) or self.number < 1:
            raise ValueError(f"A step's number counts from 1, got {self.number!r}.")
        unknown = set(self.misconceptions) - set(self.choices)
        if unknown:
            raise ValueError(
                f"Step {self.number} has misconceptions for {sorted(unknown)}, which are not "
                f"among its choices {list(self.choices)}."
            )


def stored_choices(stored: str, several: bool) -> tuple[str, ...]:
    """The choices of a stored answer: one, or for a set question each of them once."""
    if not several:
        return (stored,)
    return tuple(sorted({choice for choice in stored.split(SEPARATOR) if choice}))


def choices_of(asked: Asked, stored: str) -> tuple[str, ...]:
    return stored_choices(stored, asked.several)


def right_choices(asked: Asked) -> frozenset[str]:
    right = asked.right
    if right is None:
        return frozenset()
    return frozenset(right) if isinstance(right, tuple | list) else frozenset([right])


def is_right(asked: Asked, stored: str) -> bool | None:
    """Whether a stored answer is the models' answer; None while that is not known."""
    if asked.right is None:
        return None
    if asked.several:
        return set(choices_of(asked, stored)) == right_choices(asked)
    return stored == asked.right


def misconception_of(asked: Asked, stored: str) -> str:
    """The belief a wrong stored answer stands for ("" for a right one, or when none is known):
    a set question's answer that names a choice too many and leaves one out stands for both."""
    if is_right(asked, stored) is not False:
        return ""
    if not asked.several:
        return asked.misconceptions.get(stored, "")
    named, right = set(choices_of(asked, stored)), right_choices(asked)
    beliefs = [
        asked.naming_extra if named - right else "",
        asked.leaving_out if right - named else "",
    ]
    return "; ".join(belief for belief in beliefs if belief)


def count_choices(
    choices: Sequence[str], several: bool, tally: Mapping[str, int]
) -> dict[str, int]:
    """Students per choice, in the order of `choices` (for a set question: how many included
    each), from a tally {stored answer: students}; stored answers that are not among the
    choices are not counted."""
    per_choice = dict.fromkeys(choices, 0)
    for stored, number in tally.items():
        for choice in stored_choices(stored, several):
            if choice in per_choice:
                per_choice[choice] += number
    return per_choice


def choice_counts(asked: Asked, tally: Mapping[str, int]) -> dict[str, int]:
    return count_choices(asked.choices, asked.several, tally)


def share(part: int, whole: int) -> float | None:
    return round(part / whole, SHARE_DIGITS) if whole else None


def choice_is_right(asked: Asked, choice: str) -> bool | None:
    """Whether picking `choice` agrees with the models: for a set question, whether the answer
    holds it."""
    if asked.right is None:
        return None
    return choice in right_choices(asked) if asked.several else choice == asked.right


def choice_misconception(asked: Asked, choice: str) -> str:
    if choice_is_right(asked, choice) is not False:
        return ""
    return asked.naming_extra if asked.several else asked.misconceptions.get(choice, "")


def record_rows(
    steps: Iterable[Asked], tallies: Mapping[int, Mapping[str, int]]
) -> list[dict[str, object]]:
    """One row per step and choice, its fields those of `COLUMNS`: how many chose it and their
    share of those who answered the step, whether it is right (None before the reveal), the
    models' answer and the belief a wrong choice stands for."""
    rows = []
    for asked in steps:
        tally = tallies.get(asked.number, {})
        answered = sum(tally.values())
        for choice, students in choice_counts(asked, tally).items():
            rows.append(
                {
                    "step": asked.number,
                    "title": asked.title,
                    "question": asked.question,
                    "choice": asked.shown.get(choice, choice),
                    "students": students,
                    "share": share(students, answered),
                    "answered": answered,
                    "right": choice_is_right(asked, choice),
                    "model_answer": asked.right_text if asked.right is not None else "",
                    "misconception": choice_misconception(asked, choice),
                }
            )
    return rows


def identity(text: str) -> str:
    return text


def headings(translate: Callable[[str], str] | None = None) -> list[str]:
    """The column headings in the language of `translate` (a gettext function; default: English)."""
    return [(translate or identity)(heading) for _field, heading in COLUMNS]


def spreadsheet_text(text: str) -> str:
    """`text` as a spreadsheet keeps it as text: a leading =, +, -, @, tab or carriage return
    (a formula to Excel, LibreOffice and Google Sheets) gets an apostrophe before it."""
    return TEXT_PREFIX + text if text.startswith(FORMULA_STARTS) else text


def cell(value, translate: Callable[[str], str]):
    """A value as a CSV cell: numbers as numbers, True/False as yes/no, None as empty, text
    safe for a spreadsheet."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return translate(YES if value else NO)
    if isinstance(value, int | float):
        return value
    return spreadsheet_text(str(value))


def csv_bytes(rows: Sequence[Mapping], translate: Callable[[str], str] | None = None) -> bytes:
    """The rows as CSV in UTF-8 with a byte order mark (so that Excel reads the accents and the
    Japanese), headings in the language of `translate`."""
    translate = translate or identity
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([spreadsheet_text(heading) for heading in headings(translate)])
    for row in rows:
        writer.writerow([cell(row[name], translate) for name, _heading in COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def json_bytes(rows: Sequence[Mapping], translate: Callable[[str], str] | None = None) -> bytes:
    """The rows as a JSON array of objects keyed by the headings in the language of `translate`:
    numbers as numbers, right as true/false (null before the reveal)."""
    names = headings(translate)
    objects = [
        {name: row[field_] for name, (field_, _heading) in zip(names, COLUMNS, strict=True)}
        for row in rows
    ]
    return json.dumps(objects, ensure_ascii=False, indent=1).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Summaries: the class's, per question, and a student's own
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassLine:
    """How the class answered one question."""

    asked: Asked
    answered: int  # students who answered it
    as_the_model: int  # of them, how many gave the models' answer
    common_wrong: str | None  # the stored wrong answer given most often, or None
    common_wrong_students: int
    misconception: str  # the belief behind `common_wrong` ("" if none is known)

    @property
    def share(self) -> float | None:
        """The share of those who answered that answered as the models did."""
        return share(self.as_the_model, self.answered)


def class_line(asked: Asked, tally: Mapping[str, int]) -> ClassLine:
    """The class's line for one question; the most common wrong answer is the first of the
    tied ones in the order of their stored text, so that the line does not change between runs."""
    answered = sum(tally.values())
    right = sum(number for stored, number in tally.items() if is_right(asked, stored))
    wrong = sorted(
        ((number, stored) for stored, number in tally.items() if is_right(asked, stored) is False),
        key=lambda pair: (-pair[0], pair[1]),
    )
    common, students = (wrong[0][1], wrong[0][0]) if wrong else (None, 0)
    belief = misconception_of(asked, common) if common is not None else ""
    return ClassLine(asked, answered, right, common, students, belief)


def class_summary(
    steps: Iterable[Asked], tallies: Mapping[int, Mapping[str, int]]
) -> list[ClassLine]:
    return [class_line(asked, tallies.get(asked.number, {})) for asked in steps]


@dataclass(frozen=True)
class OwnLine:
    """One question a student answered: their answer, whether it was the models', and the share
    of the class that answered as the models did."""

    asked: Asked
    stored: str
    right: bool | None
    class_share: float | None


def student_summary(
    steps: Iterable[Asked],
    answers: Mapping[int, str | None],
    tallies: Mapping[int, Mapping[str, int]],
) -> list[OwnLine]:
    """A student's lines, for the steps they answered only (`answers`: {step: stored answer or
    None}); nothing about any other student but the class's shares."""
    lines = []
    for asked in steps:
        stored = answers.get(asked.number)
        if stored is None:
            continue
        whole = class_line(asked, tallies.get(asked.number, {}))
        lines.append(OwnLine(asked, stored, is_right(asked, stored), whole.share))
    return lines
