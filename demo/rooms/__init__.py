"""Class rooms: the state a teacher and the students of one lesson share, across workers. No
Streamlit here: the pages, the health check and the benchmark use the same package.

A room has a short code (what students type or scan), the lesson step everyone is on, whether its
answer is revealed, whether it is closed, the browsers that may lead it (its creator, and any that
signed in with the teacher's PIN) and the browsers that joined it as students, with their answers:
one per student and step, a later answer replacing an earlier one. Nothing secret is ever in an
address: a browser is known by a random id the server signs and keeps in a cookie, the teacher's
PIN is stored only as a salted hash.

Rooms are bounded: `Limits` caps the rooms of one browser and of the server and the students of a
room; a room ends after `Limits.idle_hours` without a teacher's action or a student's answer, and
half an hour after it was closed unless its teacher reopens it.

    model.py         a room's rules: Room, Limits, codes, RoomError
    identity.py      signed browser ids, PINs, the passphrase's pause
    store.py         the RoomStore interface, STORE_ERRORS, open_store
    sqlite_store.py  the SQLite implementation (one file, WAL; the default)
    redis_store.py   the Redis implementation (REDIS_URL; one Lua script per change)
    tally.py         the teacher's count as text, and its reader for the benchmark

The names below are the package's surface: `from demo import rooms; rooms.open_store()`.
"""

from demo.rooms.identity import (
    BROWSER_COOKIE,
    PASSPHRASE_TRIES,
    PIN_LOCK_SECONDS,
    PIN_TRIES,
    check_pin,
    new_browser_id,
    pin_digest,
    pin_matches,
    sign_browser,
    verified_browser,
)
from demo.rooms.model import (
    CLOSED_SECONDS,
    CODE_ALPHABET,
    CODE_LENGTH,
    MAX_CHOICE_LENGTH,
    MAX_STEPS,
    Limits,
    Room,
    RoomError,
    RoomLimit,
    new_code,
    normal_code,
)
from demo.rooms.store import STORE_ERRORS, RoomStore, open_store
from demo.rooms.tally import TALLY_TEXT, counts_in_tally_text

__all__ = [
    "BROWSER_COOKIE",
    "CLOSED_SECONDS",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_CHOICE_LENGTH",
    "MAX_STEPS",
    "PASSPHRASE_TRIES",
    "PIN_LOCK_SECONDS",
    "PIN_TRIES",
    "STORE_ERRORS",
    "TALLY_TEXT",
    "Limits",
    "Room",
    "RoomError",
    "RoomLimit",
    "RoomStore",
    "check_pin",
    "counts_in_tally_text",
    "new_browser_id",
    "new_code",
    "normal_code",
    "open_store",
    "pin_digest",
    "pin_matches",
    "sign_browser",
    "verified_browser",
]
