"""Class rooms in one SQLite file in WAL mode, shared by the worker processes of one machine."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from demo.rooms.identity import (
    PIN_LOCK_SECONDS,
    TEACHERS_PER_ROOM,
    check_browser,
    check_pin,
    pin_digest,
    pin_is,
    pin_refusal,
    teachers_full,
)
from demo.rooms.model import (
    CLOSED_SECONDS,
    JOIN_WINDOW_SECONDS,
    N_,
    PURGE_EVERY_SECONDS,
    Limits,
    Room,
    RoomError,
    check_choice,
    joining_paced,
    lead_changes,
    new_code,
    normal_code,
    refused_creation,
    removal_criterion,
    room_from_fields,
    room_full,
    room_taking_answers,
    room_taking_students,
)
from demo.rooms.throttle import NO_TRIES, Tries

SCHEMA_VERSION = 4


WAL_WAIT_SECONDS = 30  # how long opening waits for another process that holds a fresh file


SCHEMA = """
CREATE TABLE IF NOT EXISTS rooms (
    code TEXT PRIMARY KEY, creator TEXT NOT NULL, pin TEXT NOT NULL,
    step INTEGER NOT NULL, revealed INTEGER NOT NULL, closed INTEGER NOT NULL,
    expires REAL NOT NULL, version INTEGER NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0, failed_since REAL NOT NULL DEFAULT 0,
    locked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS rooms_by_expiry ON rooms (expires);
CREATE INDEX IF NOT EXISTS rooms_by_creator ON rooms (creator, closed, expires);
CREATE TABLE IF NOT EXISTS teachers (
    code TEXT NOT NULL, browser TEXT NOT NULL, PRIMARY KEY (code, browser));
CREATE TABLE IF NOT EXISTS members (
    code TEXT NOT NULL, student TEXT NOT NULL, joined REAL NOT NULL,
    PRIMARY KEY (code, student));
CREATE INDEX IF NOT EXISTS members_by_time ON members (code, joined);
CREATE TABLE IF NOT EXISTS answers (
    code TEXT NOT NULL, step INTEGER NOT NULL, student TEXT NOT NULL,
    choice TEXT NOT NULL, PRIMARY KEY (code, step, student));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    name TEXT PRIMARY KEY, count INTEGER NOT NULL, first REAL NOT NULL, last REAL NOT NULL,
    until REAL NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_end ON attempts (until)
"""


class SQLiteStore:
    """Rooms in one SQLite file in WAL mode: readers never wait for the writer, and every
    worker process of one machine opens the same file. Expired rooms are purged at most once a
    minute (whichever worker comes first), through an index on expiry."""

    def __init__(self, path: str | os.PathLike, limits: Limits | None = None):
        self.path = Path(path)
        self.limits = limits or Limits.from_environment()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The file holds the key that signs browser ids: only the server's user may read it.
        self.path.touch(mode=0o600, exist_ok=True)
        self.local = threading.local()
        self.secret_value: bytes | None = None
        db = self.connection()
        use_wal(db)
        with self.write() as db:  # one process lays the tables out; the others wait for it
            if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Rooms last hours: a file of an older layout is started afresh.
                for table in ("rooms", "answers", "members", "teachers", "attempts"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in SCHEMA.split(";"):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def connection(self) -> sqlite3.Connection:
        """One connection per thread (Streamlit runs sessions in threads)."""
        if getattr(self.local, "db", None) is None:
            self.local.db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            self.local.db.execute("PRAGMA busy_timeout=5000")
            self.local.db.execute("PRAGMA synchronous=NORMAL")
        return self.local.db

    def write(self):
        """A write transaction that takes the lock at once (so checks and writes agree)."""
        return Transaction(self.connection())

    def tries(self, name: str, seconds: float, add: bool = True) -> Tries:
        """Counts one try of `name` (unless not `add`) in a window of `seconds` that starts with
        its first try; returns what the window holds."""
        now = time.time()
        if not add:
            row = (
                self.connection()
                .execute(
                    "SELECT count, first, last FROM attempts WHERE name = ? AND until >= ?",
                    (name, now),
                )
                .fetchone()
            )
            return Tries(*row) if row else NO_TRIES
        with self.write() as db:
            row = db.execute(
                "INSERT INTO attempts VALUES (?, 1, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "count = CASE WHEN until < ? THEN 1 ELSE count + 1 END, "
                "first = CASE WHEN until < ? THEN ? ELSE first END, last = ?, "
                "until = CASE WHEN until < ? THEN ? ELSE until END "
                "RETURNING count, first, last",
                (name, now, now, now + seconds, now, now, now, now, now, now + seconds),
            ).fetchone()
        return Tries(*row)

    def ping(self) -> None:
        with self.write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('ping', ?)", (str(time.time()),))

    def secret(self) -> bytes:
        """The key that signs browser ids, made once for every worker sharing the file."""
        if self.secret_value is None:
            with self.write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('secret', ?)", (secrets.token_hex(32),)
                )
                row = db.execute("SELECT value FROM meta WHERE name = 'secret'").fetchone()
            self.secret_value = bytes.fromhex(row[0])
        return self.secret_value

    def purge_if_due(self, db: sqlite3.Connection, now: float) -> None:
        due = db.execute(
            "UPDATE meta SET value = ? WHERE name = 'purged' AND CAST(value AS REAL) < ?",
            (str(now), now - PURGE_EVERY_SECONDS),
        ).rowcount
        if not due:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('purged', ?)", (str(now),))
            return
        expired = "SELECT code FROM rooms WHERE expires < ?"
        for table in ("teachers", "members", "answers"):
            db.execute(f"DELETE FROM {table} WHERE code IN ({expired})", (now,))
        db.execute("DELETE FROM rooms WHERE expires < ?", (now,))
        db.execute("DELETE FROM attempts WHERE until < ?", (now,))

    def create(self, teacher: str, pin: str) -> Room:
        check_browser(teacher)
        check_pin(pin)
        digest, now = pin_digest(pin), time.time()
        expires = now + self.limits.idle_seconds
        with self.write() as db:  # its own transaction: kept even when the creation is refused
            self.purge_if_due(db, now)
        with self.write() as db:
            live = db.execute("SELECT COUNT(*) FROM rooms WHERE expires >= ?", (now,))
            mine = db.execute(
                "SELECT COUNT(*) FROM rooms WHERE creator = ? AND closed = 0 AND expires >= ?",
                (teacher, now),
            )
            refusal = refused_creation(live.fetchone()[0], mine.fetchone()[0], self.limits)
            if refusal is not None:
                raise refusal
            for _ in range(20):
                code = new_code()
                inserted = db.execute(
                    "INSERT OR IGNORE INTO rooms (code, creator, pin, step, revealed, closed, "
                    "expires, version) VALUES (?, ?, ?, 1, 0, 0, ?, 1)",
                    (code, teacher, digest, expires),
                ).rowcount
                if inserted:
                    db.execute("INSERT INTO teachers VALUES (?, ?)", (code, teacher))
                    return Room(code, 1, False, False, expires, 1)
        raise RoomError(N_("No free room code; try again."))

    def rooms_of(self, browser: str) -> list[str]:
        """The codes of the open rooms `browser` created."""
        rows = self.connection().execute(
            "SELECT code FROM rooms WHERE creator = ? AND closed = 0 AND expires >= ? "
            "ORDER BY expires",
            (browser, time.time()),
        )
        return [row[0] for row in rows.fetchall()]

    def room(self, code: str | None) -> Room | None:
        code = normal_code(code)
        if code is None:
            return None
        row = (
            self.connection()
            .execute(
                "SELECT step, revealed, closed, expires, version, locked FROM rooms WHERE code = ?",
                (code,),
            )
            .fetchone()
        )
        if row is None:
            return None
        names = ("step", "revealed", "closed", "expires", "version", "locked")
        return room_from_fields(code, dict(zip(names, row, strict=True)), time.time())

    def is_teacher(self, code: str | None, browser: str | None) -> bool:
        code = normal_code(code)
        if code is None or not browser:
            return False
        row = (
            self.connection()
            .execute(
                "SELECT 1 FROM teachers JOIN rooms USING (code) "
                "WHERE code = ? AND browser = ? AND expires >= ?",
                (code, browser, time.time()),
            )
            .fetchone()
        )
        return row is not None

    def sign_in(self, code: str, browser: str, pin: str) -> None:
        """Let `browser` lead the room if `pin` is its teacher's; RoomError with the tries left,
        while the room refuses sign-ins after too many wrong PINs, or when the room has
        TEACHERS_PER_ROOM teachers. The PIN's hash is computed before the write lock is taken."""
        check_browser(browser)
        code, now = normal_code(code), time.time()
        stored = self.connection().execute(
            "SELECT pin FROM rooms WHERE code = ? AND expires >= ?", (code, now)
        )
        row = stored.fetchone()
        if row is None:
            raise RoomError(N_("This room does not exist any more."))
        matches = pin_is(pin, row[0])
        with self.write() as db:
            row = db.execute(
                "SELECT failed, failed_since FROM rooms WHERE code = ? AND expires >= ?",
                (code, now),
            ).fetchone()
            if row is None:
                raise RoomError(N_("This room does not exist any more."))
            failed, since = row
            if since < now - PIN_LOCK_SECONDS:
                failed, since = 0, now
            refusal = pin_refusal(matches, failed)
            if refusal is None:
                self.add_teacher(db, code, browser)
                return
            db.execute(
                "UPDATE rooms SET failed = ?, failed_since = ? WHERE code = ?",
                (failed + 1, since, code),
            )
        raise refusal

    def add_teacher(self, db, code: str, browser: str) -> None:
        teachers = db.execute("SELECT browser FROM teachers WHERE code = ?", (code,))
        known = {row[0] for row in teachers.fetchall()}
        if browser not in known and len(known) >= TEACHERS_PER_ROOM:
            raise teachers_full()
        db.execute("INSERT OR IGNORE INTO teachers VALUES (?, ?)", (code, browser))
        for table in ("members", "answers"):
            db.execute(f"DELETE FROM {table} WHERE code = ? AND student = ?", (code, browser))

    def lead(self, code, browser, step=None, revealed=None, closed=None, locked=None) -> Room:
        """Change the room as one of its teachers: the step (which hides the answer again), the
        reveal, the closing or reopening, whether new students may join. RoomError for a browser
        that may not lead it; RoomLimit for a reopening past its creator's cap."""
        now = time.time()
        with self.write() as db:
            if not self.is_teacher(code, browser):
                raise RoomError(N_("Only this room's teacher can lead it."))
            code = normal_code(code)
            room = self.room(code)
            changes = lead_changes(step, revealed, closed, locked)
            if room.closed and changes.get("closed") == 0:
                self.check_reopening(db, code, now)
            closed_after = changes.get("closed", room.closed)
            expires = now + (CLOSED_SECONDS if closed_after else self.limits.idle_seconds)
            assignments = "".join(f"{name} = ?, " for name in changes)
            db.execute(
                f"UPDATE rooms SET {assignments}expires = ?, version = version + 1 WHERE code = ?",
                (*changes.values(), expires, code),
            )
        return self.room(code)

    def check_reopening(self, db, code: str, now: float) -> None:
        creator = db.execute("SELECT creator FROM rooms WHERE code = ?", (code,)).fetchone()[0]
        mine = db.execute(
            "SELECT COUNT(*) FROM rooms WHERE creator = ? AND closed = 0 AND expires >= ?",
            (creator, now),
        ).fetchone()[0]
        refusal = refused_creation(0, mine, self.limits, reopening=True)
        if refusal is not None:
            raise refusal

    def join(self, code: str, student: str) -> None:
        """Count `student` in the room (once, however often it is called); RoomError when the
        room is closed or locked, RoomLimit when it is full."""
        check_browser(student)
        code, now = normal_code(code), time.time()
        with self.write() as db:
            if db.execute(
                "SELECT 1 FROM members WHERE code = ? AND student = ?", (code, student)
            ).fetchone():
                return
            room_taking_students(self.room(code))
            count = db.execute("SELECT COUNT(*) FROM members WHERE code = ?", (code,)).fetchone()
            if count[0] >= self.limits.students_per_room:
                raise room_full(self.limits)
            if self.joined(code, now - JOIN_WINDOW_SECONDS) >= self.limits.joins_per_minute:
                raise joining_paced(self.limits)
            db.execute("INSERT INTO members VALUES (?, ?, ?)", (code, student, now))
            self.touch(db, code, now)

    def touch(self, db, code: str, now: float) -> None:
        db.execute(
            "UPDATE rooms SET expires = MAX(expires, ?) WHERE code = ? AND closed = 0",
            (now + self.limits.idle_seconds, code),
        )

    def answer(self, code: str, step: int, student: str, choice: str) -> None:
        check_browser(student)
        check_choice(choice)
        code, now = normal_code(code), time.time()
        with self.write() as db:
            room_taking_answers(self.room(code), step)
            member = db.execute(
                "SELECT 1 FROM members WHERE code = ? AND student = ?", (code, student)
            ).fetchone()
            if member is None:
                raise RoomError(N_("Only a student who joined this room can answer in it."))
            db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", (code, step, student, choice)
            )
            self.touch(db, code, now)

    def tally(self, code: str, step: int) -> dict[str, int]:
        rows = self.connection().execute(
            "SELECT choice, COUNT(*) FROM answers WHERE code = ? AND step = ? GROUP BY choice",
            (normal_code(code), step),
        )
        return dict(rows.fetchall())

    def joined(self, code: str, since: float = 0.0) -> int:
        row = self.connection().execute(
            "SELECT COUNT(*) FROM members WHERE code = ? AND joined >= ?",
            (normal_code(code), since),
        )
        return row.fetchone()[0]

    def remove_students(
        self, code: str, teacher: str, joined_since: float | None = None, unanswered_step=None
    ) -> int:
        """As a teacher of the room: removes the students who joined at or after `joined_since`
        (Unix time) or who have no answer to `unanswered_step`, with their answers; returns how
        many."""
        chosen = removal_criterion(joined_since, unanswered_step)
        with self.write() as db:
            if not self.is_teacher(code, teacher):
                raise RoomError(N_("Only this room's teacher can lead it."))
            code = normal_code(code)
            if joined_since is not None:
                rows = db.execute(
                    "SELECT student FROM members WHERE code = ? AND joined >= ?",
                    (code, joined_since),
                )
            else:
                rows = db.execute(
                    "SELECT student FROM members WHERE code = ? AND student NOT IN "
                    "(SELECT student FROM answers WHERE code = ? AND step = ?)",
                    (code, code, chosen),
                )
            students = [(code, row[0]) for row in rows.fetchall()]
            for table in ("members", "answers"):
                db.executemany(f"DELETE FROM {table} WHERE code = ? AND student = ?", students)
        return len(students)

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


def use_wal(db: sqlite3.Connection) -> None:
    """Switches the file to WAL, waiting while another process holds it (the switch takes an
    exclusive lock, for which SQLite's busy timeout does not always wait)."""
    deadline = time.monotonic() + WAL_WAIT_SECONDS
    while True:
        try:
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError(
                f"the room store's file stayed locked for {WAL_WAIT_SECONDS} s while "
                "switching to WAL: another process holds it"
            )
        time.sleep(0.05)


class Transaction:
    """`with Transaction(db) as db:` runs BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error.
    Nested use on the same connection joins the outer transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db, self.outer = db, db.in_transaction

    def __enter__(self) -> sqlite3.Connection:
        if not self.outer:
            self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, error, traceback) -> None:
        if self.outer:
            return
        if kind is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            self.db.execute("ROLLBACK")
