"""The loss lab under a class: `--lab` students' pages at `/?lab=1` (on one process unless
`--workers` says) press Train at the same moment once all have loaded, then again every 1-4 s
until `--seconds`, while `--students` others use the free page (`bench.students`). The report
gives Train's p50 / p95, the other interactions' p95, and how many presses the page refused as
busy.
"""

from __future__ import annotations

import asyncio
import random
import time

from bench import report
from bench.browser import open_page
from bench.server import HOST, served
from bench.students import THINKING_SECONDS, student
from bench.tally import Tally
from demo import keys
from demo.serve import wire

OTHERS = 10  # free-page students beside the lab's, unless --students says


async def lab_student(host, port, seconds, seed, tally, loaded: asyncio.Barrier) -> None:
    """A student on the lab page who presses Train when everyone is loaded, then every 1-4 s."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    try:
        socket, page, _ = await open_page(host, port, f"{keys.LAB_VIEW}=1", tally)
    except (TimeoutError, *wire.dropped()) as error:
        tally.error("dropped socket", f"{type(error).__name__}: {error}")
        await loaded.wait()
        return
    async with socket:
        await loaded.wait()
        train = page.widgets.get(keys.LAB_TRAIN)
        if train is None:
            tally.error("page incomplete", "no Train button on the lab page")
            return
        try:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                if await page.use(train, trigger=True):
                    if page.lab_busy:
                        tally.busy_refusals += 1
                    else:
                        tally.trains.append(time.perf_counter() - started)
                await asyncio.sleep(rng.uniform(*THINKING_SECONDS))
        except TimeoutError:
            tally.error("no answer within 60 s")


async def lab_class(host, port, lab_students: int, others: int, seconds: float, tally) -> None:
    loaded = asyncio.Barrier(lab_students)
    await asyncio.gather(
        *(lab_student(host, port, seconds, n, tally, loaded) for n in range(lab_students)),
        *(student(host, port, seconds, 1000 + n, tally) for n in range(others)),
    )


def run(workers: int, checkout: str, lab_students: int, others: int, seconds: float) -> int:
    tally = Tally()
    with served(workers, checkout, "lab") as server:
        asyncio.run(lab_class(HOST, server.port, lab_students, others, seconds, tally))
    print(report.lab_table(workers, lab_students, others, seconds, tally))
    if tally.error_examples:
        print(report.examples(tally))
    return 1 if tally.errors else 0
