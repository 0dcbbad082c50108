"""The room store's interface (`RoomStore`), the errors a failing store raises, and `open_store`,
which picks the store this server uses.

Two stores satisfy the interface: SQLite in WAL mode (`sqlite_store.py`: a file in a data folder,
shared by the workers of one machine; the default) and Redis (`redis_store.py`, `REDIS_URL`, for
replicas on several machines), where every change is one Lua script, so a worker killed
mid-change leaves no half-room.

    store = open_store()                          # Redis if REDIS_URL is set, else SQLite
    room = store.create(teacher="b1...", pin="314159")
    store.lead(room.code, "b1...", step=2)
    store.join(room.code, "b2...")
    store.answer(room.code, 2, "b2...", "3")
    store.tally(room.code, 2)                     # {"3": 1}

A failing store (a folder that is not writable, a full disk, Redis down) raises one of
`STORE_ERRORS`; the pages catch those and say that the class-room service is unavailable.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Protocol

from demo.rooms.model import Limits, Room
from demo.rooms.throttle import Tries

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "data"


def store_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)
    try:
        import redis
    except ImportError:
        return errors
    return (*errors, redis.RedisError)


STORE_ERRORS = store_errors()


class RoomStore(Protocol):
    """What the pages, the health check and the benchmark ask of a store. Every method raises
    `RoomError` for a refusal (in English, with its message marked for translation) and one of
    `STORE_ERRORS` when the store itself fails."""

    limits: Limits

    def ping(self) -> None:
        """Writes once: raises when the store cannot take a write."""

    def secret(self) -> bytes:
        """The key that signs browser ids, the same for every worker sharing the store."""

    def tries(self, name: str, seconds: float, add: bool = True) -> Tries:
        """Counts one try of `name` (e.g. "passphrase:203.0.113.7"; not when `add` is false) in
        a window of `seconds` that starts with its first try; returns the window's count, first
        and latest try (`throttle.Tries`; no tries when the window ended)."""

    def create(self, teacher: str, pin: str) -> Room:
        """A new room led by browser `teacher`, whose PIN lets other browsers lead it."""

    def rooms_of(self, browser: str) -> list[str]:
        """The codes of the open rooms `browser` leads."""

    def room(self, code: str | None) -> Room | None:
        """The room of `code`, or None when there is none (or it expired)."""

    def is_teacher(self, code: str | None, browser: str | None) -> bool:
        """Whether `browser` may lead room `code`."""

    def sign_in(self, code: str, browser: str, pin: str) -> None:
        """Lets `browser` lead room `code` when `pin` is the room's PIN."""

    def lead(self, code, browser, step=None, revealed=None, closed=None, locked=None) -> Room:
        """A teacher's action: another step, the reveal, closing or locking the room."""

    def join(self, code: str, student: str) -> None:
        """Counts browser `student` in the room (once)."""

    def answer(self, code: str, step: int, student: str, choice: str) -> None:
        """`student`'s answer to `step`, replacing an earlier one."""

    def tally(self, code: str, step: int) -> dict[str, int]:
        """{answer: how many students gave it} for `step`."""

    def joined(self, code: str, since: float = 0.0) -> int:
        """How many students joined the room (at or after `since`, Unix time)."""

    def remove_students(
        self, code: str, teacher: str, joined_since: float | None = None, unanswered_step=None
    ) -> int:
        """As one of the room's teachers: removes the students who joined at or after
        `joined_since`, or those without an answer to `unanswered_step` (exactly one is given),
        and their answers; returns how many."""

    def answer_of(self, code: str, step: int, student: str) -> str | None:
        """`student`'s answer to `step`, or None."""


def open_store(redis_url: str | None = None, folder: str | os.PathLike | None = None) -> RoomStore:
    """Redis when `redis_url` (default: $REDIS_URL) is set, else SQLite in `folder` (default:
    $MULTILABEL_DATA_DIR or the repository's data/). Raises one of STORE_ERRORS when the store
    cannot be opened (a folder that is not writable, say)."""
    url = redis_url if redis_url is not None else os.environ.get("REDIS_URL")
    if url:
        from demo.rooms.redis_store import RedisStore

        return RedisStore(url)
    from demo.rooms.sqlite_store import SQLiteStore

    folder = folder or os.environ.get("MULTILABEL_DATA_DIR") or DEFAULT_FOLDER
    return SQLiteStore(Path(folder) / "rooms.sqlite3")
