"""Class rooms: the state a teacher and the students of one lesson share, across workers. No
Streamlit here: the pages, the health check and the benchmark use the same package.

A room has a short code (what students type or scan), the lesson step everyone is on, whether its
answer is revealed, whether it is closed, the browsers that may lead it (its creator, and any that
signed in with the teacher's PIN) and the browsers that joined it as students, with their answers:
one per student and step, a later answer replacing an earlier one. Nothing secret is ever in an
address: a browser is known by a random id the server signs and keeps in a cookie, the teacher's
PIN is stored only as a salted hash.

Rooms are bounded: `Limits` caps the rooms of one browser, of one network address and of the
server, the students of a room and how many join it per minute; a room ends after
`Limits.idle_hours` without a teacher's action or a student's answer, and half an hour after it
was closed unless its teacher reopens it. What a client may try (passphrases, PINs, sign-ins, room
codes) is counted per network address in the store (`throttle.py`, `clients.py`), never per
browser id, which a program without a cookie gets anew for free.

    model.py         a room's rules: Room, Limits, codes, RoomError
    identity.py      signed, expiring browser ids, PINs, the generated teacher passphrase
    clients.py       a request's client address (trusted proxies), and whether it is local
    throttle.py      rates and backoffs per client, counted by the store's `tries`
    store.py         the RoomStore interface, STORE_ERRORS, open_store
    sqlite_store.py  the SQLite implementation (one file, WAL; the default)
    redis_store.py   the Redis implementation (REDIS_URL; one Lua script per change)
    tally.py         the teacher's count as text, and its reader for the benchmark

The names below are the package's surface: `from demo import rooms; rooms.open_store()`.
"""

from demo.rooms.identity import (
    BROWSER_COOKIE,
    BROWSER_SECONDS,
    PIN_LOCK_SECONDS,
    PIN_TRIES,
    TEACHERS_PER_ROOM,
    check_pin,
    generated_passphrase,
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
    JoiningPaced,
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
    "BROWSER_SECONDS",
    "CLOSED_SECONDS",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "MAX_CHOICE_LENGTH",
    "MAX_STEPS",
    "PIN_LOCK_SECONDS",
    "PIN_TRIES",
    "STORE_ERRORS",
    "TALLY_TEXT",
    "JoiningPaced",
    "Limits",
    "Room",
    "RoomError",
    "RoomLimit",
    "RoomStore",
    "TEACHERS_PER_ROOM",
    "check_pin",
    "counts_in_tally_text",
    "generated_passphrase",
    "new_browser_id",
    "new_code",
    "normal_code",
    "open_store",
    "pin_digest",
    "pin_matches",
    "sign_browser",
    "verified_browser",
]
