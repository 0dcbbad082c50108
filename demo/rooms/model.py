"""A room's rules, with no store behind them: what a room is (`Room`), its caps (`Limits`), its
code, what a teacher's action changes, and why a room refuses (`RoomError`, in English with its
message marked for translation and its values apart, so that a page says it in its own language
and nothing here imports Streamlit)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a projector


CODE_LENGTH = 5


CLOSED_SECONDS = 1800  # a closed room stays reopenable this long


JOIN_WINDOW_SECONDS = 60  # the window of Limits.joins_per_minute


PURGE_EVERY_SECONDS = 60


MAX_STEPS = 32  # the highest step number a room accepts (the lesson has fewer)


MAX_CHOICE_LENGTH = 200  # characters of one stored answer (every choice of a step, joined)


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for the marker
    """Marks `message` for extraction, as `demo.i18n.N_` does, without importing Streamlit."""
    return message


class RoomError(ValueError):
    """An unknown or expired room, a browser that may not lead it, or an answer that cannot be
    counted. `str(error)` says why in English; a page shows `error.text(_)`, its `message`
    (marked with N_) translated and then filled in with its `values`."""

    def __init__(self, message: str, **values):
        self.message, self.values = message, values
        super().__init__(self.text())

    def text(self, translate=None) -> str:
        """The message in the language of `translate` (a gettext function; default: English)."""
        template = translate(self.message) if translate else self.message
        return template.format(**self.values) if self.values else template


class RoomLimit(RoomError):
    """A room that cannot be created or joined because a cap is reached."""


@dataclass(frozen=True)
class Limits:
    rooms_per_browser: int = 5
    rooms_per_client: int = 20  # rooms one network address may start per idle period
    rooms_per_server: int = 1000
    students_per_room: int = 300
    joins_per_minute: int = 100  # new students one room takes in any minute
    idle_hours: float = 2.0

    @classmethod
    def from_environment(cls, environ=os.environ) -> Limits:
        """The defaults, each replaced by its MULTILABEL_* variable when that is set."""
        names = {
            "rooms_per_browser": "MULTILABEL_ROOMS_PER_BROWSER",
            "rooms_per_client": "MULTILABEL_ROOMS_PER_CLIENT",
            "joins_per_minute": "MULTILABEL_JOINS_PER_MINUTE",
            "rooms_per_server": "MULTILABEL_ROOMS_PER_SERVER",
            "students_per_room": "MULTILABEL_STUDENTS_PER_ROOM",
            "idle_hours": "MULTILABEL_ROOM_IDLE_HOURS",
        }
        values = {}
        for field, variable in names.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            try:
                values[field] = type(getattr(cls, field))(raw)
            except ValueError:
                raise ValueError(f"{variable} must be a number, got {raw!r}.") from None
            if values[field] <= 0:
                raise ValueError(f"{variable} must be positive, got {raw!r}.")
        return cls(**values)

    @property
    def idle_seconds(self) -> float:
        return 3600 * self.idle_hours


@dataclass(frozen=True)
class Room:
    code: str
    step: int  # 1-based lesson step
    revealed: bool
    closed: bool
    expires: float  # Unix time; moves on with every teacher's action and answer
    version: int  # grows with every change the teacher makes: students poll it cheaply
    locked: bool = False  # the teacher stopped new students from joining


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(code: str | None) -> str | None:
    """The code as stored (upper case), or None when it cannot be a room code."""
    code = (code or "").strip().upper()
    if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code):
        return code
    return None


def checked_step(step) -> int:
    if not (isinstance(step, int) and 1 <= step <= MAX_STEPS):
        raise RoomError(N_("A step is a number from 1 to {most}."), most=MAX_STEPS)
    return step


def room_from_fields(code: str, fields: dict, now: float) -> Room | None:
    """The Room of stored fields, or None when they are missing, damaged or expired."""
    try:
        room = Room(
            code,
            int(fields["step"]),
            str(fields["revealed"]) == "1",
            str(fields["closed"]) == "1",
            float(fields["expires"]),
            int(fields["version"]),
            str(fields.get("locked", "0")) == "1",
        )
    except (KeyError, TypeError, ValueError):
        return None
    return room if room.expires >= now else None


def refused_creation(
    live_rooms: int, browser_rooms: int, limits: Limits, reopening: bool = False
) -> RoomLimit | None:
    """Why a room cannot be created (or a closed one reopened) now, or None."""
    if browser_rooms >= limits.rooms_per_browser:
        message = (
            N_(
                "This browser already leads {count} open rooms, the most it may. "
                "Close one of them (its Close room button) and reopen this one."
            )
            if reopening
            else N_(
                "This browser already leads {count} open rooms, the most it may. "
                "Close one of them (its Close room button) and start again."
            )
        )
        return RoomLimit(message, count=browser_rooms)
    if live_rooms >= limits.rooms_per_server:
        return RoomLimit(
            N_(
                "This server already holds {count} rooms, the most it may. Rooms end {hours} "
                "hours after their last activity: try again later, or ask whoever runs the "
                "server to raise MULTILABEL_ROOMS_PER_SERVER."
            ),
            count=f"{live_rooms:,}",
            hours=f"{limits.idle_hours:g}",
        )
    return None


def room_full(limits: Limits) -> RoomLimit:
    return RoomLimit(
        N_(
            "This room already has {count} students, the most it may. "
            "Ask your teacher to start a second room."
        ),
        count=limits.students_per_room,
    )


class JoiningPaced(RoomLimit):
    """A room that took its most students for this minute: the student's page tries again."""


def joining_paced(limits: Limits) -> RoomLimit:
    return JoiningPaced(
        N_(
            "More than {count} students joined this room in the last minute, the most it "
            "takes: this page tries again on its own in a few seconds."
        ),
        count=limits.joins_per_minute,
    )


def lead_changes(step=None, revealed=None, closed=None, locked=None) -> dict:
    """The fields a teacher's action sets: a new step hides the answer again."""
    changes = {} if locked is None else {"locked": int(bool(locked))}
    if step is not None:
        changes.update(step=checked_step(step), revealed=0)
    if revealed is not None:
        changes["revealed"] = int(bool(revealed))
    if closed is not None:
        changes["closed"] = int(bool(closed))
    return changes


def room_taking_students(room: Room | None) -> Room:
    """The room, if a new student may join it now; RoomError saying why not."""
    if room is None or room.closed:
        raise RoomError(N_("This room is closed or does not exist."))
    if room.locked:
        raise RoomError(
            N_("This room takes no new students now: ask your teacher to let you join.")
        )
    return room


def removal_criterion(joined_since: float | None, unanswered_step: int | None) -> float | int:
    """Which students a teacher removes: those who joined at or after `joined_since` (Unix
    time), or those without an answer to `unanswered_step`; exactly one of them is given."""
    if (joined_since is None) == (unanswered_step is None):
        raise ValueError("Give either joined_since or unanswered_step, not both or neither.")
    if unanswered_step is not None:
        return checked_step(unanswered_step)
    return float(joined_since)


def check_choice(choice: str) -> None:
    if not (isinstance(choice, str) and 0 < len(choice) <= MAX_CHOICE_LENGTH):
        raise RoomError(N_("An answer is 1 to {most} characters."), most=MAX_CHOICE_LENGTH)


def room_taking_answers(room: Room | None, step: int) -> Room:
    """The room, if it takes answers for `step` now; RoomError saying why not."""
    if room is None or room.closed:
        raise RoomError(N_("This room is closed or does not exist."))
    if step != room.step or room.revealed:
        raise RoomError(N_("Answers are taken for the current step until the reveal."))
    return room
