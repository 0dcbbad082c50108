"""Turn Nagle's algorithm off on the Streamlit server's TCP sockets, from inside its process.

Streamlit binds its listening socket itself, with the protocol number left at 0, and asyncio
only sets TCP_NODELAY on accepted sockets whose protocol reads IPPROTO_TCP (the cause of
uvicorn issue #3149). With Nagle's algorithm on, the small messages of a script run wait for
the browser's delayed acknowledgement: ~40 ms added to every interaction. Accepted sockets
inherit TCP_NODELAY from the listening socket on Linux, so setting it there once is enough for
every later connection; the connections already open are set too.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

FD_FOLDER = Path("/proc/self/fd")


def tcp_sockets_without_nodelay() -> list[int]:
    """File descriptors of this process's TCP sockets (listening or connected) with Nagle on."""
    found = []
    for entry in FD_FOLDER.iterdir() if FD_FOLDER.is_dir() else []:
        try:
            if not os.readlink(entry).startswith("socket:"):
                continue
            duplicate = socket.socket(fileno=os.dup(int(entry.name)))
        except (OSError, ValueError):
            continue
        with duplicate:
            is_tcp = duplicate.family in (socket.AF_INET, socket.AF_INET6)
            is_tcp = is_tcp and duplicate.type == socket.SOCK_STREAM
            if is_tcp and not duplicate.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY):
                found.append(int(entry.name))
    return found


def disable_nagle() -> int:
    """Set TCP_NODELAY on every TCP socket of this process; returns how many were changed.

    Does nothing (returns 0) where /proc is missing. Options belong to the socket, not to the
    descriptor, so setting them through a duplicate descriptor changes the server's socket.
    """
    changed = 0
    for descriptor in tcp_sockets_without_nodelay():
        try:
            with socket.socket(fileno=os.dup(descriptor)) as duplicate:
                duplicate.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                changed += 1
        except OSError:
            continue
    return changed
