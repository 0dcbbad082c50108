"""A class on the free page: students who arrive over the first seconds and stay until the end.

Each student fetches the page (which sets the load balancer's cookie), opens the websocket with
that cookie, asks for a run with its own composite in the query string, and fetches the images
the page shows. Then, every 1-4 s until its time is up, it either clicks "Random composite" or
moves the threshold, half and half. A click is sent with the id of the fragment the button
lives in, as the browser sends it; a threshold move is what the page makes of it
(`threshold_move`): the slider's new value, with its fragment's id, where the threshold is a
Streamlit slider, and nothing where the browser decides the threshold alone, counted apart. A
page load or an interaction is done when the server sends `script_finished`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import TYPE_CHECKING

from bench.browser import ANSWER_TIMEOUT, StudentPage, fetch_images, page_cookie
from bench.report import ClassResult
from bench.server import watched
from bench.tally import Answered, Tally
from core.data import CLASS_NAMES
from demo import keys
from demo.serve import wire

if TYPE_CHECKING:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

THINKING_SECONDS = (1.0, 4.0)  # a student's pause between two interactions
MOST_ARRIVAL_SECONDS = 10.0  # students arrive over this long (or a quarter of the class)


def random_query(rng: random.Random) -> str:
    """A composite of four distinct classes and a threshold, as the page's address holds them."""
    classes = rng.sample(CLASS_NAMES, 4)
    parts = [f"c{q}={name}&s{q}={rng.randrange(30)}" for q, name in enumerate(classes)]
    return "&".join(parts) + f"&t={rng.choice((0.3, 0.4, 0.5, 0.6)):.2f}"


def threshold_move(page: wire.Session, value: float) -> tuple[WidgetState, str, bool] | None:
    """What moving the threshold to `value` sends, from the page's elements: (widget state,
    fragment id, whether the browser decided alone). Where the threshold is a Streamlit slider
    (the page of an older commit, through --checkout), the slider's new value, decided by the
    run; where it is the decisions panel, the browser decides at once and sends, once the
    slider is still, the rule as the panel's state (a browser's several steps of one move end
    in one such sync); None where the page has neither."""
    slider = page.widgets.get(keys.THRESHOLD)
    if slider is not None and slider.kind == "slider":
        return wire.widget_state(slider.id, doubles=[value]), slider.fragment_id, False
    panel = page.widgets.get(keys.DECISIONS)
    if panel is not None and panel.kind == "bidi_component":
        rule = json.dumps({keys.DECISIONS_RULE: {"threshold": value, "top_k": 0}})
        return wire.widget_state(panel.id, json_text=rule), panel.fragment_id, True
    return None


async def interact(page: StudentPage, rng: random.Random) -> bool:
    """One interaction, half and half a "Random composite" click and a threshold move; False
    when nothing was sent."""
    started = time.perf_counter()
    if rng.random() < 0.5:
        times = page.tally.new_composites
        done = await page.use(page.widgets[keys.RANDOM_COMPOSITE], trigger=True)
    else:
        move = threshold_move(page, round(rng.uniform(0.05, 0.95), 2))
        if move is None:
            page.tally.error("page incomplete", "no threshold control")
            return False
        state, fragment_id, in_browser = move
        if in_browser:
            page.tally.browser_moves += 1
        times = page.tally.threshold_syncs if in_browser else page.tally.threshold_moves
        done = await page.send(state, fragment_id)
    if done:
        times.append(time.perf_counter() - started)
        page.tally.answered_log.append(Answered(time.monotonic(), times[-1]))
    return True


async def student(host: str, port: int, seconds: float, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    try:
        status, cookie = await page_cookie(host, port)
        if status != 200:
            tally.error("page not served", f"/ -> {status}")
            return
        async with await wire.connect(host, port, cookie, ANSWER_TIMEOUT) as socket:
            page = StudentPage(socket, tally, random_query(rng))
            started = time.perf_counter()
            if not await page.send():
                return
            tally.page_loads.append(time.perf_counter() - started)
            await fetch_images(host, port, page, cookie)
            if keys.RANDOM_COMPOSITE not in page.widgets:
                tally.error("page incomplete", "no random composite button")
                return
            while time.monotonic() + THINKING_SECONDS[1] < deadline:
                await asyncio.sleep(rng.uniform(*THINKING_SECONDS))
                if await interact(page, rng):
                    await fetch_images(host, port, page, cookie)
    except TimeoutError:
        tally.error("no answer within 60 s")
    except wire.dropped() as error:
        tally.error("dropped socket", f"{type(error).__name__}: {error}")


async def classroom(host, port, students: int, seconds: float, tally: Tally) -> None:
    """`students` students who arrive over the first few seconds and stay until `seconds`."""
    arrival = min(MOST_ARRIVAL_SECONDS, seconds / 4)

    async def arrive(index):
        delay = arrival * index / max(students, 1)
        await asyncio.sleep(delay)
        await student(host, port, seconds - delay, seed=index, tally=tally)

    await asyncio.gather(*(arrive(i) for i in range(students)))


def measure(host, port, server_pid: int, students: int, seconds: float) -> ClassResult:
    """One class, the server's memory sampled every half second and its CPU time counted."""
    tally = Tally()
    students_cpu = time.process_time()
    load = asyncio.run(watched(server_pid, classroom(host, port, students, seconds, tally)))
    return ClassResult(students, tally, load, time.process_time() - students_cpu)
