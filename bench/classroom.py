"""Classroom load benchmark (not a test): simulated students against the demo's server.

    python bench/classroom.py                      # one `streamlit run` process; 1, 10, 30, 100
    python bench/classroom.py --workers 2          # deploy/serve-local: 2 workers behind HAProxy
    python bench/classroom.py --students 10 --seconds 15   # a short smoke
    python bench/classroom.py --checkout ../old-clone      # the same class against another commit
    python bench/classroom.py --workers 2 --soak 10 --kill-at 2.5   # a soak, a worker killed
    python bench/classroom.py --workers 2 --room 100 --store redis  # a class room answering
    python bench/classroom.py --lab 30 --students 10     # 30 press Train at once, 10 others

The benchmark starts the server itself on a free loopback port and stops it at the end
(`bench.server`). Each student speaks Streamlit's websocket protocol as a browser does
(`demo.serve.wire`, which `demo.warmup` uses too) and finds the page's widgets by the keys the page
draws them with (`demo.keys`). A class on the free page (`bench.students`) loads the page,
clicks "Random composite" and moves the threshold; a threshold the browser decides alone sends
nothing and is reported as "in the browser" with its count. Errors: exception elements, runs
that did not finish successfully, images that did not load, dropped sockets, and interactions
with no answer within 60 s. The server's CPU is all its processes' user and system time, per run
and per second of class (1.00: one core busy); its memory is their resident set.

The other modes: a soak of many minutes with a worker killed (`bench.soak`), a class room whose
students answer while the teacher's tally follows (`bench.room`), and the loss lab pressed by a
class at once (`bench.lab_class`); the tables are `bench.report`'s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if not __package__:  # `python bench/classroom.py`: bench/ is imported as the package it is
    sys.path = [str(REPO), *(p for p in sys.path if Path(p).resolve() != REPO / "bench")]

from bench import lab_class, report, room, soak  # noqa: E402
from bench.report import ClassResult  # noqa: E402
from bench.server import HOST, resident_mib, served  # noqa: E402
from bench.students import measure  # noqa: E402

CLASSES = [1, 10, 30, 100]  # students per class, one class after another
WARM_UP_STUDENTS, WARM_UP_SECONDS = 2, 8  # sent straight to every worker before the classes
SETTLE_SAMPLE_EVERY = 15.0  # seconds between two memory samples after the last class


def run_classes(workers: int, checkout: str, classes: list[int], seconds: float, settle: float):
    results: list[ClassResult] = []
    failures = 0
    settled: list[tuple[float, float]] = []
    with served(workers, checkout, "classroom") as server:
        # A few students first, straight to every worker, so that each has loaded the models
        # and filled its caches before the balancer sends it a class.
        for warm_port in server.worker_ports:
            warm_up = measure(
                HOST, warm_port, server.process.pid, WARM_UP_STUDENTS, WARM_UP_SECONDS
            )
            failures += warm_up.tally.error_count
        idle = resident_mib(server.process.pid)
        for students in classes:
            result = measure(HOST, server.port, server.process.pid, students, seconds)
            failures += result.tally.error_count
            results.append(result)
            print(report.class_line(workers, result), flush=True)
            if result.tally.error_examples:
                print(report.examples(result.tally), flush=True)
        started = time.monotonic()
        while time.monotonic() - started < settle:
            time.sleep(min(SETTLE_SAMPLE_EVERY, settle))
            settled.append((time.monotonic() - started, resident_mib(server.process.pid)))
    print(report.class_table(workers, idle, results, settled))
    if failures:
        print(f"{failures} errors; server log: {server.log}")
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="1: one process; more: serve-local")
    parser.add_argument("--students", type=int, nargs="+", default=CLASSES)
    parser.add_argument("--seconds", type=float, default=60, help="how long each class lasts")
    parser.add_argument(
        "--settle", type=float, default=0, help="seconds to watch memory after the last class"
    )
    parser.add_argument(
        "--checkout", default=str(REPO), help="serve this clone's app (e.g. an older commit's)"
    )
    parser.add_argument("--soak", type=float, help="minutes of a changing class of 30 instead")
    parser.add_argument("--room", type=int, help="students answering in a class room instead")
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite", help="--room's")
    parser.add_argument("--kill-at", type=float, help="soak: minute at which to kill worker1")
    parser.add_argument("--lab", type=int, help="students pressing Train in the lab instead")
    args = parser.parse_args(argv)
    if args.lab is not None:
        others = args.students[0] if args.students != CLASSES else lab_class.OTHERS
        return lab_class.run(args.workers, args.checkout, args.lab, others, args.seconds)
    if args.soak is not None:
        return soak.run(args.workers, args.checkout, args.soak, args.kill_at)
    if args.room is not None:
        return room.run(args.workers, args.checkout, args.store, args.room, args.seconds)
    if not 1 <= args.workers <= 16 or max(args.students) > 200 or not 5 <= args.seconds <= 600:
        parser.error("workers 1..16, at most 200 students, 5..600 seconds per class")
    return run_classes(args.workers, args.checkout, args.students, args.seconds, args.settle)


if __name__ == "__main__":
    sys.exit(main())
