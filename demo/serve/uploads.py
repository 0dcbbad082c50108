"""Bound what uploaded files can hold in a serving process's memory.

Streamlit keeps every file PUT to `/_stcore/upload_file/SESSION/FILE` in memory until the page
deletes it or the session ends, and takes any file id for a live session: a program speaking the
protocol can PUT file after file of `server.maxUploadSize` each, and the browser's own limit does
not bind it. A page of this app never holds more than `UPLOADS_PER_SESSION` files at once (the
whole image, four tiles, the camera's photo), so, once per process:

- a session's upload beyond that many drops the same session's oldest file (one it replaced or
  no longer shows: the page's uploaders delete a replaced file themselves);
- the process holds at most `MULTILABEL_UPLOAD_MEMORY_MB` megabytes of uploads (default
  `UPLOAD_MEMORY_MB`): an upload that would pass it is refused with 503 and held nowhere, and
  every file already held stays.

A program that opens many sessions can still fill the process's share and so refuse other
students' uploads for as long as its sessions live; what it cannot do is take the memory.
"""

from __future__ import annotations

import logging
import os

UPLOADS_PER_SESSION = 6
UPLOAD_MEMORY_MB = 1024  # a class of 100 with a 5 MB phone photo each needs half of it
MEMORY_VARIABLE = "MULTILABEL_UPLOAD_MEMORY_MB"
REFUSED_STATUS = 503
REFUSED_DETAIL = "The server holds too many uploaded files now; try again in a few minutes."

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


def bound(manager, per_session: int, budget: int) -> bool:
    """Wrap `manager.add_file` (a `MemoryUploadedFileManager`) with both limits; False,
    changing nothing, when this Streamlit's manager is not one (a later version may differ)."""
    from starlette.exceptions import HTTPException

    add_file = getattr(manager, "add_file", None)
    if not hasattr(manager, "file_storage") or getattr(add_file, "bounded", False):
        return False

    def bounded_add_file(session_id: str, file) -> None:
        held = manager.file_storage.get(session_id, {})
        replaced = held.get(file.file_id)
        others = [file_id for file_id in held if file_id != file.file_id]
        after = held_bytes(manager) + len(file.data) - (len(replaced.data) if replaced else 0)
        dropped = others[: max(0, len(others) - per_session + 1)]
        after -= sum(len(held[file_id].data) for file_id in dropped)
        if after > budget:
            LOGGER.warning("An upload was refused: the process holds %d bytes of uploads.", after)
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
    manager = runtime.get_instance().uploaded_file_mgr
    return bound(manager, UPLOADS_PER_SESSION, upload_memory_bytes())
