"""The soak: a class of 30 on serve-local for many minutes, a third of it changing every minute.

Every minute a third of the students leave and as many new ones come; a student whose socket
drops (its worker was killed) comes back at once, as a browser reconnects. The report gives, per
minute, the interactions the server answered, their p95, the errors (apart: those of students on
a worker killed on purpose with `--kill-at`) and each worker's resident memory, and the memory's
slope over the last five minutes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from bench import report
from bench.report import Kill, SoakMinute
from bench.server import HOST, own_resident_mib, served, worker_pids
from bench.students import THINKING_SECONDS, student
from bench.tally import Tally

SOAK_STUDENTS = 30
SOAK_STAY_MINUTES = 3  # each student stays three minutes: a third of the class changes a minute
RECONNECT_AFTER = 0.5  # seconds before a dropped student comes back


async def soak(
    host, port, workers: int, minutes: float, kill_at: float | None, tally: Tally
) -> tuple[list[SoakMinute], Kill | None]:
    """Run the soak; returns (a row per minute, the kill or None)."""
    started = time.monotonic()
    end = started + 60 * minutes
    kill: Kill | None = None
    rows: list[SoakMinute] = []
    seeds = iter(range(10**6))

    async def attend(stay: float) -> None:
        leave = min(time.monotonic() + stay, end)
        while time.monotonic() + THINKING_SECONDS[1] < leave:  # back at once after a drop
            await student(host, port, leave - time.monotonic(), next(seeds), tally)
            await asyncio.sleep(RECONNECT_AFTER)

    # The first class leaves by thirds after one, two and three minutes; newcomers stay three.
    tasks = [
        asyncio.ensure_future(attend(60 * (1 + index % SOAK_STAY_MINUTES)))
        for index in range(SOAK_STUDENTS)
    ]
    for minute in range(1, int(minutes) + 1):
        boundary = started + 60 * minute
        while time.monotonic() < boundary:
            if kill_at and kill is None and time.monotonic() >= started + 60 * kill_at:
                name, pid = next(iter(worker_pids(port, workers).items()))
                os.kill(pid, signal.SIGKILL)
                kill = Kill(name, time.monotonic())
            await asyncio.sleep(0.5)
        memory = {name: own_resident_mib(pid) for name, pid in worker_pids(port, workers).items()}
        rows.append(SoakMinute(minute, boundary, memory))
        if minute < minutes:
            joining = SOAK_STUDENTS // SOAK_STAY_MINUTES
            tasks += [asyncio.ensure_future(attend(60 * SOAK_STAY_MINUTES)) for _ in range(joining)]
    await asyncio.gather(*tasks)
    return rows, kill


def run(workers: int, checkout: str, minutes: float, kill_at: float | None) -> int:
    if workers < 2 or not 6 <= minutes <= 60:
        raise SystemExit("The soak runs serve-local (--workers 2 or more) for 6 to 60 minutes.")
    tally = Tally()
    with served(workers, checkout, "soak") as server:
        rows, kill = asyncio.run(soak(HOST, server.port, workers, minutes, kill_at, tally))
    table, unexpected = report.soak_table(rows, kill, tally)
    print(f"\nSoak: {SOAK_STUDENTS} students, serve-local with {workers} workers\n")
    print(table)
    if tally.error_examples:
        print(report.examples(tally))
    return 1 if unexpected else 0
