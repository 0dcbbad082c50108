"""Who may do what in a room: browsers known by a random id the server signs with the time it was
issued (kept in a cookie, refused once `BROWSER_SECONDS` old), the teacher's PIN (stored only as a
salted hash; easy ones refused) and the server's teacher passphrase (chosen in
MULTILABEL_TEACHER_PASSPHRASE, or derived from the store's secret and printed to the log)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time

from demo.rooms.model import N_, RoomError

BROWSER_ID = re.compile(r"[0-9a-f]{32}")


PIN = re.compile(r"[0-9A-Za-z]{6,32}")


PIN_TRIES = 30  # wrong PINs a room accepts per lock period, from every client together


PIN_LOCK_SECONDS = 600


PIN_ITERATIONS = 100_000


BROWSER_COOKIE = "multilabel_browser"  # the cookie that holds a browser's signed id


BROWSER_SECONDS = 12 * 3600  # how long a signed id is accepted (and its cookie kept)


TEACHERS_PER_ROOM = 10  # browsers that may lead one room: its creator and those signed in


# Digit PINs that people choose most often and that are neither one repeated digit nor a run.
COMMON_PINS = frozenset(
    {"121212", "123123", "112233", "123321", "159753", "147258", "696969", "131313", "101010"}
    | {"111222", "000111", "102030", "999000", "753951", "147852", "789456", "456123"}
    | {"password", "qwerty", "abc123", "abcdef", "qwertz", "azerty", "letmein", "teacher"}
)


def new_browser_id() -> str:
    return secrets.token_hex(16)


def sign_browser(browser: str, secret: bytes, issued: float | None = None) -> str:
    """The cookie value that proves the server issued `browser` at `issued` (default: now):
    "id.issued.signature"."""
    check_browser(browser)
    signed = f"{browser}.{int(time.time() if issued is None else issued)}"
    return f"{signed}.{hmac.new(secret, signed.encode(), hashlib.sha256).hexdigest()[:32]}"


def verified_browser(token: str | None, secret: bytes, now: float | None = None) -> str | None:
    """The browser id in `token` if the server signed it less than BROWSER_SECONDS ago, else
    None (a missing, invented, altered or expired cookie)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    browser, issued, _ = token.split(".")
    if not (BROWSER_ID.fullmatch(browser) and issued.isascii() and issued.isdigit()):
        return None
    if len(issued) > 12:
        return None
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= BROWSER_SECONDS:
        return None
    expected = sign_browser(browser, secret, int(issued))
    return browser if hmac.compare_digest(expected, token) else None


class WrongPin(RoomError):
    """A PIN that is not the room's: what the client that sent it pays for."""


def check_browser(browser: str) -> None:
    if not (isinstance(browser, str) and BROWSER_ID.fullmatch(browser)):
        raise RoomError(N_("A browser is a random id of 32 hexadecimal digits."))


def check_pin(pin: str) -> None:
    """RoomError for a PIN that is not 6 to 32 letters or digits, or that is easy to guess."""
    if not (isinstance(pin, str) and PIN.fullmatch(pin)):
        raise RoomError(N_("A teacher PIN has 6 to 32 letters or digits."))
    if is_easy_pin(pin):
        raise RoomError(
            N_(
                "That PIN is too easy to guess (one repeated character, a run such as 123456, "
                "or a common choice): choose another."
            )
        )


def is_easy_pin(pin: str) -> bool:
    """One character repeated, a run up or down (123456, 987654, abcdef), a pattern of two or
    three characters repeated (121212, 123123), or one of the most common PINs."""
    text = pin.lower()
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    repeats = any(text == text[:size] * (len(text) // size) for size in (1, 2, 3))
    return repeats or steps in ({1}, {-1}) or text in COMMON_PINS


def generated_passphrase(secret: bytes) -> str:
    """The server's teacher passphrase when none is chosen: the same for every worker sharing
    the store (it is derived from the store's secret), 20 letters and digits in groups of 5."""
    digest = hmac.new(secret, b"teacher passphrase", hashlib.sha256).digest()
    text = base64.b32encode(digest).decode().lower()[:20]
    return "-".join(text[i : i + 5] for i in range(0, 20, 5))


def pin_digest(pin: str, salt: str | None = None) -> str:
    """ "salt$hash" of `pin` (PBKDF2-SHA256), so that the store never holds the PIN itself."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), PIN_ITERATIONS)
    return f"{salt}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return bool(salt) and hmac.compare_digest(pin_digest(pin, salt), stored)


def pin_is(pin, stored: str) -> bool:
    """Whether `pin` is the PIN whose salted hash is `stored` (a PBKDF2 computation: call it
    outside any write transaction)."""
    return isinstance(pin, str) and bool(PIN.fullmatch(pin)) and pin_matches(pin, stored)


def pin_refusal(matches: bool, failed: int) -> RoomError | None:
    """Why a PIN does not sign in (None when it does), given whether it `matches` and the
    room's wrong tries so far."""
    if failed >= PIN_TRIES:
        return RoomError(
            N_(
                "Too many wrong PINs for this room: sign-in is paused for {minutes} minutes. "
                "The browser that started the room still leads it."
            ),
            minutes=PIN_LOCK_SECONDS // 60,
        )
    if matches:
        return None
    return WrongPin(
        N_("That is not this room's teacher PIN ({left} tries left)."),
        left=PIN_TRIES - failed - 1,
    )


def teachers_full() -> RoomError:
    return RoomError(
        N_(
            "This room already has {count} teacher devices, the most it may. Lead it from one "
            "of them."
        ),
        count=TEACHERS_PER_ROOM,
    )
