"""Class rooms: the state a teacher and the students of one lesson share, across workers.

A room has a short code (what students type or scan), a secret key (only the teacher's link holds
it), the lesson step everyone is on, whether its answer is revealed, and the students' answers:
one per student and step, a later answer replacing an earlier one. Students are random ids; no
names. Rooms expire after `ROOM_HOURS`.

Two stores behind one interface: SQLite in WAL mode (a file in a data folder, shared by the
workers of one machine; the default) and Redis (`REDIS_URL`, for replicas on several machines).

    store = open_store()               # Redis if REDIS_URL is set, else SQLite
    room, key = store.create()
    store.lead(room.code, key, step=2)
    store.answer(room.code, 2, "student-id", "3")
    store.tally(room.code, 2)          # {"3": 1}
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOM_HOURS = 4
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread on a projector
CODE_LENGTH = 5
STUDENT_ID_LENGTH = 16
DEFAULT_FOLDER = Path(__file__).resolve().parents[1] / "data"


class RoomError(ValueError):
    """An unknown or expired room, a wrong key, or an answer that cannot be counted."""


@dataclass(frozen=True)
class Room:
    code: str
    step: int  # 1-based lesson step
    revealed: bool
    closed: bool
    expires: float  # Unix time
    version: int  # grows with every change the teacher makes: students poll it cheaply


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def normal_code(code: str | None) -> str | None:
    """The code as stored (upper case), or None when it cannot be a room code."""
    code = (code or "").strip().upper()
    if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code):
        return code
    return None


def check_student(student: str) -> None:
    if not (isinstance(student, str) and 8 <= len(student) <= 64 and student.isalnum()):
        raise RoomError("A student is a random id of 8 to 64 letters and digits.")


def room_of_teacher(store, code: str, key: str) -> Room:
    """The room `key` may lead; RoomError for a wrong key or a room that is gone."""
    if not store.is_teacher(code, key):
        raise RoomError("Only the teacher's link can lead this room.")
    room = store.room(code)
    if room is None:
        raise RoomError("This room does not exist any more.")
    return room


def room_taking_answers(store, code: str, step: int, student: str) -> Room:
    """The room, if `student` may answer `step` in it now; RoomError saying why not."""
    check_student(student)
    room = store.room(code)
    if room is None or room.closed:
        raise RoomError("This room is closed or does not exist.")
    if step != room.step or room.revealed:
        raise RoomError("Answers are taken for the current step until the reveal.")
    return room


class SQLiteStore:
    """Rooms in one SQLite file in WAL mode: readers never wait for the writer, and every
    worker process of one machine opens the same file."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.local = threading.local()
        with self.connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS rooms (
                    code TEXT PRIMARY KEY, key TEXT NOT NULL, step INTEGER NOT NULL,
                    revealed INTEGER NOT NULL, closed INTEGER NOT NULL, expires REAL NOT NULL,
                    version INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS answers (
                    code TEXT NOT NULL, step INTEGER NOT NULL, student TEXT NOT NULL,
                    choice TEXT NOT NULL, PRIMARY KEY (code, step, student));
                """
            )

    def connection(self) -> sqlite3.Connection:
        """One connection per thread (Streamlit runs sessions in threads)."""
        if getattr(self.local, "db", None) is None:
            self.local.db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self.local.db.execute("PRAGMA busy_timeout=10000")
            self.local.db.execute("PRAGMA synchronous=NORMAL")
        return self.local.db

    def create(self) -> tuple[Room, str]:
        key = secrets.token_urlsafe(16)
        expires = time.time() + 3600 * ROOM_HOURS
        db = self.connection()
        db.execute("DELETE FROM rooms WHERE expires < ?", (time.time(),))
        db.execute("DELETE FROM answers WHERE code NOT IN (SELECT code FROM rooms)")
        for _ in range(20):
            code = new_code()
            try:
                db.execute(
                    "INSERT INTO rooms VALUES (?, ?, 1, 0, 0, ?, 1)",
                    (code, key_digest(key), expires),
                )
                return Room(code, 1, False, False, expires, 1), key
            except sqlite3.IntegrityError:
                continue
        raise RoomError("No free room code; try again.")

    def room(self, code: str | None) -> Room | None:
        code = normal_code(code)
        if code is None:
            return None
        row = (
            self.connection()
            .execute(
                "SELECT code, step, revealed, closed, expires, version FROM rooms WHERE code = ?",
                (code,),
            )
            .fetchone()
        )
        if row is None or row[4] < time.time():
            return None
        return Room(row[0], row[1], bool(row[2]), bool(row[3]), row[4], row[5])

    def is_teacher(self, code: str | None, key: str | None) -> bool:
        code = normal_code(code)
        if code is None or not key:
            return False
        row = self.connection().execute("SELECT key FROM rooms WHERE code = ?", (code,)).fetchone()
        return row is not None and hmac.compare_digest(row[0], key_digest(key))

    def lead(self, code, key, step=None, revealed=None, closed=None) -> Room:
        """Change the room as its teacher: the step (which hides the answer again), the reveal,
        the closing. RoomError for a wrong key or an unknown room."""
        room = room_of_teacher(self, code, key)
        changes = {
            "step": room.step if step is None else int(step),
            "revealed": (False if step is not None else room.revealed)
            if revealed is None
            else bool(revealed),
            "closed": room.closed if closed is None else bool(closed),
        }
        self.connection().execute(
            "UPDATE rooms SET step = ?, revealed = ?, closed = ?, version = version + 1 "
            "WHERE code = ?",
            (changes["step"], int(changes["revealed"]), int(changes["closed"]), room.code),
        )
        return self.room(code)

    def answer(self, code: str, step: int, student: str, choice: str) -> None:
        room = room_taking_answers(self, code, step, student)
        self.connection().execute(
            "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", (room.code, step, student, choice)
        )

    def tally(self, code: str, step: int) -> dict[str, int]:
        rows = self.connection().execute(
            "SELECT choice, COUNT(*) FROM answers WHERE code = ? AND step = ? GROUP BY choice",
            (normal_code(code), step),
        )
        return dict(rows.fetchall())

    def answer_of(self, code: str, step: int, student: str) -> str | None:
        row = (
            self.connection()
            .execute(
                "SELECT choice FROM answers WHERE code = ? AND step = ? AND student = ?",
                (normal_code(code), step, student),
            )
            .fetchone()
        )
        return row[0] if row else None


class RedisStore:
    """Rooms in Redis: a hash per room and one per step's answers, all expiring with the
    room, so that replicas on several machines share them."""

    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)

    def create(self) -> tuple[Room, str]:
        key = secrets.token_urlsafe(16)
        expires = time.time() + 3600 * ROOM_HOURS
        for _ in range(20):
            code = new_code()
            fields = {
                "key": key_digest(key),
                "step": 1,
                "revealed": 0,
                "closed": 0,
                "expires": expires,
                "version": 1,
            }
            if self.redis.hsetnx(f"room:{code}", "key", fields["key"]):
                pipe = self.redis.pipeline()
                pipe.hset(f"room:{code}", mapping=fields)
                pipe.expireat(f"room:{code}", int(expires) + 1)
                pipe.execute()
                return Room(code, 1, False, False, expires, 1), key
        raise RoomError("No free room code; try again.")

    def room(self, code: str | None) -> Room | None:
        code = normal_code(code)
        if code is None:
            return None
        fields = self.redis.hgetall(f"room:{code}")
        if not fields or float(fields["expires"]) < time.time():
            return None
        return Room(
            code,
            int(fields["step"]),
            fields["revealed"] == "1",
            fields["closed"] == "1",
            float(fields["expires"]),
            int(fields["version"]),
        )

    def is_teacher(self, code: str | None, key: str | None) -> bool:
        code = normal_code(code)
        if code is None or not key:
            return False
        stored = self.redis.hget(f"room:{code}", "key")
        return stored is not None and hmac.compare_digest(stored, key_digest(key))

    def lead(self, code, key, step=None, revealed=None, closed=None) -> Room:
        room = room_of_teacher(self, code, key)
        changes = {}
        if step is not None:
            changes.update(step=int(step), revealed=0)
        if revealed is not None:
            changes["revealed"] = int(bool(revealed))
        if closed is not None:
            changes["closed"] = int(bool(closed))
        pipe = self.redis.pipeline()
        if changes:
            pipe.hset(f"room:{room.code}", mapping=changes)
        pipe.hincrby(f"room:{room.code}", "version", 1)
        pipe.execute()
        return self.room(code)

    def answer(self, code: str, step: int, student: str, choice: str) -> None:
        room = room_taking_answers(self, code, step, student)
        answers = f"room:{room.code}:answers:{step}"
        pipe = self.redis.pipeline()
        pipe.hset(answers, student, choice)
        pipe.expireat(answers, int(room.expires) + 1)
        pipe.execute()

    def tally(self, code: str, step: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for choice in self.redis.hvals(f"room:{normal_code(code)}:answers:{step}"):
            counts[choice] = counts.get(choice, 0) + 1
        return counts

    def answer_of(self, code: str, step: int, student: str) -> str | None:
        return self.redis.hget(f"room:{normal_code(code)}:answers:{step}", student)


def open_store(redis_url: str | None = None, folder: str | os.PathLike | None = None):
    """Redis when `redis_url` (default: $REDIS_URL) is set, else SQLite in `folder` (default:
    $MULTILABEL_DATA_DIR or the repository's data/)."""
    url = redis_url if redis_url is not None else os.environ.get("REDIS_URL")
    if url:
        return RedisStore(url)
    folder = folder or os.environ.get("MULTILABEL_DATA_DIR") or DEFAULT_FOLDER
    return SQLiteStore(Path(folder) / "rooms.sqlite3")


def new_student_id() -> str:
    return secrets.token_hex(STUDENT_ID_LENGTH // 2)
