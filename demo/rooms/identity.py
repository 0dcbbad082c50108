"""Who may do what in a room: browsers known by a random id the server signs (kept in a cookie), and
the teacher's PIN and the deployment's passphrase, stored and compared only as salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from demo.rooms.model import N_, RoomError

BROWSER_ID = re.compile(r"[0-9a-f]{32}")


PIN = re.compile(r"[0-9A-Za-z]{6,32}")


PIN_TRIES = 5  # wrong PINs a room accepts per lock period before it refuses sign-ins


PIN_LOCK_SECONDS = 600


PIN_ITERATIONS = 100_000


PASSPHRASE_TRIES = 20  # wrong teacher passphrases the server takes per lock period, from anyone


BROWSER_COOKIE = "multilabel_browser"  # the cookie that holds a browser's signed id


def new_browser_id() -> str:
    return secrets.token_hex(16)


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


def passphrase_paused() -> RoomError:
    return RoomError(
        N_(
            "Too many wrong teacher passphrases on this server: starting rooms is paused for "
            "{minutes} minutes. Rooms in progress are not affected."
        ),
        minutes=PIN_LOCK_SECONDS // 60,
    )


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
