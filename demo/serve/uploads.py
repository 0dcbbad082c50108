"""Bound what uploaded files can hold in a serving process's memory.

Streamlit keeps every file PUT to `/_stcore/upload_file/SESSION/FILE` in memory until the page
deletes it or the session ends, and takes any file id for a live session: a program speaking the
protocol can PUT file after file of `server.maxUploadSize` each, and the browser's own limit does
not bind it. A page of this app never holds more than `UPLOADS_PER_SESSION` files at once (the
whole image, four tiles, the camera's photo), so, once per process (the first page run; the
deployments' warm-up runs one before any student arrives):

- a session's upload beyond that many drops the same session's oldest file (one it replaced or
  no longer shows: the page's uploaders delete a replaced file themselves);
- the process holds at most `MULTILABEL_UPLOAD_MEMORY_MB` megabytes of uploads (default
  `UPLOAD_MEMORY_MB`). An upload that would pass it first frees the files of sessions that are
  no longer connected (Streamlit keeps a closed tab's files until its session is dropped, which
  may never happen); if it still would, it is refused with 503 and held nowhere, and every file
  of a connected session stays.

A program that keeps many sessions open can still fill the process's share and so refuse other
students' uploads while its sessions stay connected; what it cannot do is take the memory. A
request still being received is not counted: the proxy in front bounds those (`deploy/`).
"""

from __future__ import annotations

import logging
import os
import threading
import time

UPLOADS_PER_SESSION = 6
UPLOAD_MEMORY_MB = 512  # a class of 100 with a 5 MB phone photo each, and room to spare
MEMORY_VARIABLE = "MULTILABEL_UPLOAD_MEMORY_MB"
REFUSED_STATUS = 503
REFUSED_DETAIL = "The server holds too many uploaded files now; try again in a few minutes."

LOG_EVERY_SECONDS = 60  # refusals are logged at most this often, with their count

LOGGER = logging.getLogger(__name__)


def upload_memory_bytes() -> int:
    """The process's budget for held uploads, from `MULTILABEL_UPLOAD_MEMORY_MB`."""
    text = os.environ.get(MEMORY_VARIABLE, str(UPLOAD_MEMORY_MB))
    try:
        megabytes = int(text)
    except ValueError:
        raise ValueError(
            f"{MEMORY_VARIABLE} must be a whole number of megabytes, not {text!r}."
        ) from None
    if megabytes < 1:
        raise ValueError(f"{MEMORY_VARIABLE} must be at least 1 (megabyte), not {megabytes}.")
    return megabytes * 1024 * 1024


def held_bytes(manager) -> int:
    """Bytes of every file `manager` holds now, in every session."""
    return sum(
        len(file.data) for files in list(manager.file_storage.values()) for file in files.values()
    )


class RefusalLog:
    """Logs refused uploads at most once every `LOG_EVERY_SECONDS`, with how many there were."""

    def __init__(self):
        self.refused, self.logged_at = 0, float("-inf")

    def refuse(self, held: int) -> None:
        self.refused += 1
        if time.monotonic() - self.logged_at >= LOG_EVERY_SECONDS:
            LOGGER.warning(
                "%d upload(s) refused: the process holds %d bytes of uploads (%s).",
                self.refused,
                held,
                MEMORY_VARIABLE,
            )
            self.refused, self.logged_at = 0, time.monotonic()


def bound(manager, per_session: int, budget: int, is_connected=lambda session_id: True) -> bool:
    """Wrap `manager.add_file` (a `MemoryUploadedFileManager`) with both limits, freeing the
    files of sessions `is_connected` says are gone when the budget calls for it; False,
    changing nothing, when this Streamlit's manager is not one (a later version may differ)."""
    from starlette.exceptions import HTTPException

    add_file = getattr(manager, "add_file", None)
    if not hasattr(manager, "file_storage") or getattr(add_file, "bounded", False):
        return False
    lock, refusals = threading.Lock(), RefusalLog()

    def bytes_after(session_id: str, file, dropped: list[str]) -> int:
        held = manager.file_storage.get(session_id, {})
        replaced = held.get(file.file_id)
        after = held_bytes(manager) + len(file.data) - (len(replaced.data) if replaced else 0)
        return after - sum(len(held[file_id].data) for file_id in dropped)

    def bounded_add_file(session_id: str, file) -> None:
        with lock:
            held = manager.file_storage.get(session_id, {})
            others = [file_id for file_id in held if file_id != file.file_id]
            dropped = others[: max(0, len(others) - per_session + 1)]
            if bytes_after(session_id, file, dropped) > budget:
                for gone in [s for s in list(manager.file_storage) if not is_connected(s)]:
                    if gone != session_id:
                        manager.remove_session_files(gone)
            after = bytes_after(session_id, file, dropped)
            if after > budget:
                refusals.refuse(after)
                raise HTTPException(status_code=REFUSED_STATUS, detail=REFUSED_DETAIL)
            for file_id in dropped:
                manager.remove_file(session_id, file_id)
            add_file(session_id, file)

    bounded_add_file.bounded = True
    manager.add_file = bounded_add_file
    return True


def bound_uploads() -> bool:
    """Both limits on this server's upload manager (`bound`); False outside a server."""
    from streamlit import runtime

    if not runtime.exists():
        return False
    server = runtime.get_instance()
    manager = server.uploaded_file_mgr
    if bound(manager, UPLOADS_PER_SESSION, upload_memory_bytes(), server.is_active_session):
        return True
    if not getattr(manager.add_file, "bounded", False):
        LOGGER.warning("Uploads are not bounded: this Streamlit's upload manager is unknown.")
    return False
