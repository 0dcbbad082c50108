"""Class rooms: the state a teacher and the students of one lesson share, across workers.

A room has a short code (what students type or scan), the lesson step everyone is on, whether its
answer is revealed, whether it is closed, the browsers that may lead it (its creator, and any that
signed in with the teacher's PIN) and the browsers that joined it as students, with their answers:
one per student and step, a later answer replacing an earlier one. Nothing secret is ever in an
address: a browser is known by a random id the server signs and keeps in a cookie (see
`sign_browser`), the teacher's PIN is stored only as a salted hash.

Rooms are bounded: `Limits` caps the rooms of one browser and of the server and the students of a
room; a room ends after `Limits.idle_hours` without a teacher's action or a student's answer, and
half an hour after it was closed unless its teacher reopens it.

Two stores behind one interface: SQLite in WAL mode (a file in a data folder, shared by the
workers of one machine; the default) and Redis (`REDIS_URL`, for replicas on several machines),
where every change is one Lua script, so a worker killed mid-change leaves no half-room.

    store = open_store()                          # Redis if REDIS_URL is set, else SQLite
    room = store.create(teacher="b1...", pin="314159")
    store.lead(room.code, "b1...", step=2)
    store.join(room.code, "b2...")
    store.answer(room.code, 2, "b2...", "3")
    store.tally(room.code, 2)                     # {"3": 1}

A failing store (a folder that is not writable, a full disk, Redis down) raises one of
`STORE_ERRORS`; the pages catch those and say that the class-room service is unavailable.

The stores' refusals (`RoomError`) are in English, the language of the source, with their
message marked for translation and its values apart, so that a page says them in its own
language (`RoomError.text`) and nothing here imports Streamlit (the benchmark imports it).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a projector
CODE_LENGTH = 5
BROWSER_ID = re.compile(r"[0-9a-f]{32}")
PIN = re.compile(r"[0-9A-Za-z]{6,32}")
PIN_TRIES = 5  # wrong PINs a room accepts per lock period before it refuses sign-ins
PIN_LOCK_SECONDS = 600
PIN_ITERATIONS = 100_000
CLOSED_SECONDS = 1800  # a closed room stays reopenable this long
PURGE_EVERY_SECONDS = 60
MAX_STEPS = 32  # the highest step number a room accepts (the lesson has fewer)
MAX_CHOICE_LENGTH = 200  # characters of one stored answer (every choice of a step, joined)
PASSPHRASE_TRIES = 20  # wrong teacher passphrases the server takes per lock period, from anyone
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "data"
LOCALES = Path(__file__).resolve().parent / "locales"  # demo.i18n's catalogs


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for the marker
    """Marks `message` for extraction, as `demo.i18n.N_` does, without importing Streamlit."""
    return message


def store_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
    try:
        import redis
    except ImportError:
        return errors
    return (*errors, redis.RedisError)


STORE_ERRORS = store_errors()


# The teacher's count, as the page shows it (translated: `_(TALLY_TEXT).format(...)`).
TALLY_TEXT = N_("**{joined} joined · {answered} answered**")
TALLY_FIELDS = ("joined", "answered")


@functools.cache
def tally_pattern(template: str) -> re.Pattern:
    """What `template` filled in with two counts looks like: its own text around them, each
    count where the template puts it (a translation may put them in either order)."""
    pieces = re.split(r"\{(joined|answered)\}", template.strip())
    regex, named = "", set()
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex += re.escape(piece)
        else:  # a count: a group of digits the first time, the same digits again after that
            regex += f"(?P={piece})" if piece in named else f"(?P<{piece}>\\d+)"
            named.add(piece)
    return re.compile(regex)


@functools.cache
def tally_templates(folder: Path = LOCALES) -> tuple[str, ...]:
    """TALLY_TEXT and its translation in every catalog of `folder` (demo.i18n's, read here
    with Babel so that the benchmark, which reads teachers' pages, needs no Streamlit)."""
    from babel.messages import pofile

    templates = [TALLY_TEXT]
    for path in sorted(Path(folder).glob("*/LC_MESSAGES/messages.po")):
        with path.open("rb") as source:
            message = pofile.read_po(source).get(TALLY_TEXT)
        if message is not None and message.string and not message.fuzzy:
            templates.append(message.string)
    return tuple(dict.fromkeys(templates))


def counts_in_tally_text(text: str, templates=None) -> tuple[int, int] | None:
    """(joined, answered) of a text the page drew from TALLY_TEXT in any of its languages (or
    from one of `templates`), or None for another text."""
    for template in tally_templates() if templates is None else templates:
        found = tally_pattern(template).fullmatch(text.strip())
        if found and set(found.groupdict()) == set(TALLY_FIELDS):
            return int(found["joined"]), int(found["answered"])
    return None


BROWSER_COOKIE = "multilabel_browser"  # the cookie that holds a browser's signed id


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
    rooms_per_server: int = 1000
    students_per_room: int = 300
    idle_hours: float = 2.0

    @classmethod
    def from_environment(cls, environ=os.environ) -> Limits:
        """The defaults, each replaced by its MULTILABEL_* variable when that is set."""
        names = {
            "rooms_per_browser": "MULTILABEL_ROOMS_PER_BROWSER",
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


def new_browser_id() -> str:
    return secrets.token_hex(16)


def normal_code(code: str | None) -> str | None:
    """The code as stored (upper case), or None when it cannot be a room code."""
    code = (code or "").strip().upper()
    if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code):
        return code
    return None


def sign_browser(browser: str, secret: bytes) -> str:
    """The cookie value that proves the server issued `browser`: "id.signature"."""
    check_browser(browser)
    return f"{browser}.{hmac.new(secret, browser.encode(), hashlib.sha256).hexdigest()[:32]}"


def verified_browser(token: str | None, secret: bytes) -> str | None:
    """The browser id in `token` if the server signed it, else None (a missing, invented or
    altered cookie)."""
    if not isinstance(token, str):
        return None
    browser, _, _ = token.partition(".")
    if not BROWSER_ID.fullmatch(browser):
        return None
    return browser if hmac.compare_digest(sign_browser(browser, secret), token) else None


def check_browser(browser: str) -> None:
    if not (isinstance(browser, str) and BROWSER_ID.fullmatch(browser)):
        raise RoomError(N_("A browser is a random id of 32 hexadecimal digits."))


def check_pin(pin: str) -> None:
    if not (isinstance(pin, str) and PIN.fullmatch(pin)):
        raise RoomError(N_("A teacher PIN has 6 to 32 letters or digits."))


def pin_digest(pin: str, salt: str | None = None) -> str:
    """ "salt$hash" of `pin` (PBKDF2-SHA256), so that the store never holds the PIN itself."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), PIN_ITERATIONS)
    return f"{salt}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return bool(salt) and hmac.compare_digest(pin_digest(pin, salt), stored)


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


def check_choice(choice: str) -> None:
    if not (isinstance(choice, str) and 0 < len(choice) <= MAX_CHOICE_LENGTH):
        raise RoomError(N_("An answer is 1 to {most} characters."), most=MAX_CHOICE_LENGTH)


def passphrase_paused() -> RoomError:
    return RoomError(
        N_(
            "Too many wrong teacher passphrases on this server: starting rooms is paused for "
            "{minutes} minutes. Rooms in progress are not affected."
        ),
        minutes=PIN_LOCK_SECONDS // 60,
    )


def room_taking_answers(room: Room | None, step: int) -> Room:
    """The room, if it takes answers for `step` now; RoomError saying why not."""
    if room is None or room.closed:
        raise RoomError(N_("This room is closed or does not exist."))
    if step != room.step or room.revealed:
        raise RoomError(N_("Answers are taken for the current step until the reveal."))
    return room


def pin_refusal(stored: str, pin: str, failed: int) -> RoomError | None:
    """Why `pin` does not sign in (None when it does), given the wrong tries so far."""
    if failed >= PIN_TRIES:
        return RoomError(
            N_(
                "Too many wrong PINs for this room: sign-in is paused for {minutes} minutes. "
                "The browser that started the room still leads it."
            ),
            minutes=PIN_LOCK_SECONDS // 60,
        )
    if isinstance(pin, str) and PIN.fullmatch(pin) and pin_matches(pin, stored):
        return None
    return RoomError(
        N_("That is not this room's teacher PIN ({left} tries left)."),
        left=PIN_TRIES - failed - 1,
    )


def open_store(redis_url: str | None = None, folder: str | os.PathLike | None = None):
    """Redis when `redis_url` (default: $REDIS_URL) is set, else SQLite in `folder` (default:
    $MULTILABEL_DATA_DIR or the repository's data/). Raises one of STORE_ERRORS when the store
    cannot be opened (a folder that is not writable, say)."""
    url = redis_url if redis_url is not None else os.environ.get("REDIS_URL")
    if url:
        from demo.rooms_redis import RedisStore

        return RedisStore(url)
    from demo.rooms_sqlite import SQLiteStore

    folder = folder or os.environ.get("MULTILABEL_DATA_DIR") or DEFAULT_FOLDER
    return SQLiteStore(Path(folder) / "rooms.sqlite3")
