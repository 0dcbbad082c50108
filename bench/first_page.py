"""The first page of a fresh server (not a test): how long the first student waits after
`streamlit run`, and the worker's memory then, for this checkout and another side by side.

    python bench/first_page.py --checkout ../old-clone          # this commit against that one
    python bench/first_page.py --checkout ../old-clone --rounds 3

Each round starts each checkout's `streamlit run` in turn (`bench.server`, a free loopback port),
waits for its health check, then times one browser-like session (`demo.serve.wire`) from opening
the websocket to the end of the free page's first run: importing TensorFlow, loading the models
and compiling what that page shows. Then the page's second session, and the process's resident
memory. The checkouts alternate so that a busy moment of the machine falls on both.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if not __package__:  # `python bench/first_page.py`: bench/ is imported as the package it is
    sys.path = [str(REPO), *(p for p in sys.path if Path(p).resolve() != REPO / "bench")]

from bench.server import HOST, resident_mib, served  # noqa: E402
from demo.serve import wire  # noqa: E402

FIRST_RUN_TIMEOUT = 300.0  # seconds: a cold worker imports TensorFlow and loads every model


async def one_page(port: int) -> float:
    """Seconds from opening a session to the end of its first run; OSError if it fails."""
    started = time.perf_counter()
    async with await wire.connect(HOST, port) as socket:
        status = await wire.Session(socket).run(timeout=FIRST_RUN_TIMEOUT)
    if status not in wire.SUCCEEDED:
        raise OSError(f"the first run ended {status}")
    return time.perf_counter() - started


def measure(checkout: str) -> tuple[float, float, float]:
    """(first page s, second page s, resident MiB after them) of a fresh server of `checkout`."""
    with served(1, checkout, "first-page") as server:
        first = asyncio.run(one_page(server.port))
        second = asyncio.run(one_page(server.port))
        return first, second, resident_mib(server.process.pid)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", required=True, help="the other clone (e.g. an older commit)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be 1..10")
    checkouts = {"this checkout": str(REPO), Path(args.checkout).name: args.checkout}
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in checkouts}
    for round_number in range(args.rounds):
        for name, checkout in checkouts.items():
            first, second, memory = measure(checkout)
            results[name].append((first, second, memory))
            print(
                f"round {round_number + 1}, {name}: first page {first:.1f} s, "
                f"second {second:.2f} s, {memory:.0f} MiB",
                flush=True,
            )
    width = max(len(name) for name in checkouts)
    print(f"\n{'server':<{width}} | first page (median) | second page | resident memory")
    print(f"{'-' * width}-|---------------------|-------------|----------------")
    for name, rows in results.items():
        first, second, memory = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{name:<{width}} | {first:17.1f} s | {second:9.2f} s | {memory:10.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
