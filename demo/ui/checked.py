"""Values the browser sends, checked before Python turns them into numbers or keys: a value that is
not one of the choices is ignored (the caller keeps its default) and logged, at most once a
minute per kind of value, so that a script sending bad values fills neither the page with a
traceback nor the log with a line per message."""

from __future__ import annotations

import logging
import threading
import time

LOG_EVERY_SECONDS = 60


log = logging.getLogger(__name__)
last_logged: dict[str, float] = {}
lock = threading.Lock()


def ignored(what: str, value) -> None:
    """Logs that a bad `what` was ignored, unless one was logged less than a minute ago."""
    now = time.monotonic()
    with lock:
        if now - last_logged.get(what, -LOG_EVERY_SECONDS) < LOG_EVERY_SECONDS:
            return
        last_logged[what] = now
    log.warning("ignored a %s the browser sent that is not one: %.80r", what, value)


def choice(what: str, value, choices, default):
    """`value` if it is one of `choices`, else `default` (logged by `ignored`)."""
    try:
        if value in choices:
            return value
    except TypeError:  # an unhashable value looked up in a dict's keys
        pass
    ignored(what, value)
    return default
