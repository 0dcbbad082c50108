"""How often a client may try something, counted in the room store so that every worker counts
the same tries: a rate (`Rate`: so many per period) or a backoff after wrong guesses (`Backoff`:
a few free, then a wait that doubles with each further wrong guess). No Streamlit here.

A client is what a program cannot renew for free: its address (`demo.rooms.clients`), never a
browser id, which a client without a cookie gets anew on every request. The counts are named
"what:who" (e.g. "passphrase:203.0.113.7") and kept by the store's `tries`.

    refusal = throttle.backoff_refusal(store, PASSPHRASE_GUESSES, client)
    if refusal is None and not right:
        throttle.count_failure(store, PASSPHRASE_GUESSES, client)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

from demo.rooms.identity import WrongPin
from demo.rooms.model import N_, RoomError, RoomLimit


class Tries(NamedTuple):
    """What a store counted of one name in its current window."""

    count: int  # tries in the window (0 when none)
    first: float  # Unix time of the window's first try
    last: float  # Unix time of the latest try


NO_TRIES = Tries(0, 0.0, 0.0)


@dataclass(frozen=True)
class Rate:
    """At most `most` tries of `name` per window of `seconds` (from the window's first try)."""

    name: str
    most: int
    seconds: float


@dataclass(frozen=True)
class Backoff:
    """`free` wrong guesses of `name`, then a wait of 2, 4, 8 ... seconds (at most `longest`)
    after each further one; the count starts afresh `seconds` after the first."""

    name: str
    free: int
    longest: float
    seconds: float


PASSPHRASE_GUESSES = Backoff("passphrase", free=5, longest=600, seconds=3600)
PIN_GUESSES = Backoff("pin", free=3, longest=600, seconds=3600)  # a client's, in every room
SIGN_INS_PER_CLIENT = Rate("sign-in", most=10, seconds=600)  # right or wrong, before hashing
SIGN_INS_PER_ROOM = Rate("room-sign-in", most=30, seconds=600)
CODE_GUESSES = Rate("code", most=20, seconds=60)  # unknown room codes a client asked for


def key(name: str, who: str) -> str:
    return f"{name}:{who}"


def wait_text(seconds: float) -> str:
    return f"{max(1, round(seconds)):,}"


def too_many(seconds: float) -> RoomError:
    return RoomError(
        N_("Too many tries from this network address: wait {seconds} seconds and try again."),
        seconds=wait_text(seconds),
    )


def rate_wait(tries: Tries, most: int, seconds: float, now: float) -> float:
    """Seconds until another try is allowed (0: now), given the window's count."""
    return 0.0 if tries.count <= most else max(0.0, tries.first + seconds - now)


def backoff_wait(tries: Tries, backoff: Backoff, now: float) -> float:
    """Seconds until the next guess is taken (0: now), given the wrong guesses so far."""
    if tries.count < backoff.free:
        return 0.0
    pause = min(backoff.longest, 2.0 ** (tries.count - backoff.free + 1))
    return max(0.0, tries.last + pause - now)


def spend(store, rate: Rate, who: str) -> RoomError | None:
    """Counts one try of `rate` by `who`; why it is refused (too many in the window), or None."""
    tries = store.tries(key(rate.name, who), rate.seconds)
    wait = rate_wait(tries, rate.most, rate.seconds, time.time())
    return too_many(wait) if wait else None


def rate_refusal(store, rate: Rate, who: str) -> RoomError | None:
    """Why `who` may not try `rate`'s thing now (its window is full), counting nothing."""
    tries = store.tries(key(rate.name, who), rate.seconds, add=False)
    wait = rate_wait(tries, rate.most - 1, rate.seconds, time.time())
    return too_many(wait) if wait else None


def backoff_refusal(store, backoff: Backoff, who: str) -> RoomError | None:
    """Why `who` may not guess now (it still waits after wrong guesses), or None."""
    tries = store.tries(key(backoff.name, who), backoff.seconds, add=False)
    wait = backoff_wait(tries, backoff, time.time())
    return too_many(wait) if wait else None


def count_failure(store, backoff: Backoff, who: str) -> None:
    store.tries(key(backoff.name, who), backoff.seconds)


def start_refusal(store, client: str) -> RoomLimit | None:
    """Why `client` may not start another room now (it started Limits.rooms_per_client in the
    last idle period), or None. `count_start` counts a room it started."""
    limits = store.limits
    tries = store.tries(key("start", client), limits.idle_seconds, add=False)
    if tries.count < limits.rooms_per_client:
        return None
    return RoomLimit(
        N_(
            "This network address started {count} rooms in the last {hours} hours, the most "
            "it may. Lead one of them, or ask whoever runs the server to raise "
            "MULTILABEL_ROOMS_PER_CLIENT."
        ),
        count=tries.count,
        hours=f"{limits.idle_hours:g}",
    )


def count_start(store, client: str) -> None:
    store.tries(key("start", client), store.limits.idle_seconds)


def sign_in(store, code: str, browser: str, pin: str, client: str) -> None:
    """`store.sign_in`, bounded: a client that sent wrong PINs waits (PIN_GUESSES), a client
    and a room take so many sign-ins per period, counted before the PIN is hashed."""
    refusal = (
        backoff_refusal(store, PIN_GUESSES, client)
        or spend(store, SIGN_INS_PER_CLIENT, client)
        or spend(store, SIGN_INS_PER_ROOM, code)
    )
    if refusal is not None:
        raise refusal
    try:
        store.sign_in(code, browser, pin)
    except WrongPin:
        count_failure(store, PIN_GUESSES, client)
        raise
