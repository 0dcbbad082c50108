"""Whether this server can take a class: its class-room store answers (and, with --port, its
Streamlit worker too). For readiness probes and container health checks:

    python -m demo.health               # the store of REDIS_URL / MULTILABEL_DATA_DIR answers
    python -m demo.health --port 8501   # ... and http://127.0.0.1:8501/_stcore/health says ok

Exits 0 when everything answers; otherwise prints one line saying what does not to stderr and
exits 1. Imports neither TensorFlow nor Streamlit, so a check takes a fraction of a second.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request

from demo import rooms
from demo.serve import uploads

HEALTH_PATH = "/_stcore/health"


def store_problem() -> str | None:
    """Why the class-room store cannot be used now, or None when it answers."""
    try:
        store = rooms.open_store()
    except Exception as error:  # a malformed REDIS_URL or a missing client library, too
        return f"the class-room store cannot be opened: {type(error).__name__}: {error}"
    try:
        store.ping()
    except rooms.STORE_ERRORS as error:
        return f"the class-room store does not answer: {type(error).__name__}: {error}"
    return None


def settings_problem() -> str | None:
    """Why a setting of the server's environment is unusable, or None."""
    try:
        uploads.upload_memory_bytes()
    except ValueError as error:
        return str(error)
    return None


def worker_problem(port: int, timeout: float = 2) -> str | None:
    """Why the Streamlit worker on `port` is not healthy, or None when it says ok."""
    url = f"http://127.0.0.1:{port}{HEALTH_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().strip()
    except OSError as error:
        return f"{url} does not answer: {error}"
    if body != b"ok":
        return f"{url} answered {body[:80]!r}, not ok"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.health", description=__doc__)
    parser.add_argument("--port", type=int, help="also check Streamlit's health on this port")
    args = parser.parse_args(argv)
    problem = settings_problem() or store_problem()
    problem = problem or (worker_problem(args.port) if args.port else None)
    if problem:
        print(f"health: {' '.join(problem.split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
