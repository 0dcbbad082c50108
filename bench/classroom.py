"""Classroom load benchmark (not a test): simulated students against the demo's server.

    python bench/classroom.py                      # one `streamlit run` process; 1, 10, 30, 100
    python bench/classroom.py --workers 2          # deploy/serve-local: 2 workers behind HAProxy
    python bench/classroom.py --students 10 --seconds 15   # a short smoke
    python bench/classroom.py --checkout ../old-clone      # the same class against another commit
    python bench/classroom.py --workers 2 --soak 10 --kill-at 2.5   # a soak, a worker killed
    python bench/classroom.py --workers 2 --room 100 --store redis  # a class room answering
    python bench/classroom.py --lab 30 --students 10     # 30 press Train at once, 10 others

The benchmark starts the server itself on a free loopback port and stops it at the end. Each
student speaks Streamlit's websocket protocol as a browser does: it fetches the page (which sets
the load balancer's cookie), opens `/_stcore/stream` with that cookie, asks for a run with its
own composite in the query string, and fetches the images the page shows. Then, every 1-4 s
until its time is up, it either clicks "Random composite" or moves the threshold slider, sent
with the id of the fragment the widget lives in, as the browser sends it. A page load or an
interaction is done when the server sends `script_finished`. Errors: exception elements, runs
that did not finish successfully, images that did not load, dropped sockets, and interactions
with no answer within 60 s. Server memory is the resident set of the server's processes.

The soak keeps 30 students for `--soak` minutes: every minute a third of them leave and as many
new ones come; a student whose socket drops (its worker was killed) comes back at once, as a
browser reconnects. It reports, per minute, the interactions, their p95, the errors (apart:
those of students on a worker killed on purpose with `--kill-at`) and each worker's resident
memory, and the memory's slope over the last five minutes.

The room mode opens a class room (SQLite, or a Redis server it starts), a teacher's page and
`--room` students' pages; every student answers the step's question once within `--seconds`,
while the teacher's page redraws its tally as the browser's timer would. It reports the answers'
p50 / p95, how many the store and the teacher's page counted, how long after the last answer the
teacher's tally was complete, and the store's share of an answer's time.

The lab mode opens `--lab` students' pages at `/?lab=1` on one process; once all have loaded,
they press Train at the same moment, then again every 1-4 s until `--seconds`, while
`--students` others interact with the free page as above. It reports Train's p50 / p95, the
other interactions' p95, and how many presses the page refused as busy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from demo.lab_page import BUSY_MESSAGE, TRAIN_KEY
from demo.rooms import counts_in_tally_text

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
ANSWER_TIMEOUT = 60.0  # seconds without `script_finished` before an interaction counts as lost
THINKING_SECONDS = (1.0, 4.0)  # a student's pause between two interactions
SOAK_STUDENTS = 30
SOAK_STAY_MINUTES = 3  # each student stays three minutes: a third of the class changes a minute
# The worker (the balancer's cookie) of the student whose task is running, to blame its errors.
STUDENT_WORKER = contextvars.ContextVar("student_worker", default="")


@dataclass
class Tally:
    """What the students of one run measured."""

    page_loads: list[float] = field(default_factory=list)
    thresholds: list[float] = field(default_factory=list)  # threshold moves
    composites: list[float] = field(default_factory=list)  # "Random composite" clicks
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    server_cpu_per_run: float = 0.0  # server CPU seconds per page load or interaction
    client_cpu: float = 0.0  # CPU seconds the simulated students themselves used
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (end, seconds) per run
    trains: list[float] = field(default_factory=list)  # the lab's Train presses that trained
    busy: int = 0  # Train presses the lab refused as busy
    error_log: list[tuple[float, str, str]] = field(default_factory=list)  # (time, kind, worker)

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.error_log.append((time.monotonic(), kind, STUDENT_WORKER.get()))
        if detail and len(self.examples) < 5:
            self.examples.append(f"{kind}: {detail}")


# ---------------------------------------------------------------------------------------------
# One student
# ---------------------------------------------------------------------------------------------


async def http_get(host: str, port: int, path: str, cookie: str = "") -> tuple[int, list[str]]:
    """(status, Set-Cookie values) of a plain HTTP/1.1 GET; the body is read and dropped."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        headers = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        if cookie:
            headers += f"Cookie: {cookie}\r\n"
        writer.write((headers + "\r\n").encode())
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    cookies = [
        line.split(":", 1)[1].strip().split(";", 1)[0]
        for line in head[1:]
        if line.lower().startswith("set-cookie:")
    ]
    return status, cookies


class Session:
    """One student's websocket session: sends runs, reads the page back as it arrives."""

    def __init__(self, socket_, tally: Tally):
        self.socket = socket_
        self.tally = tally
        self.widgets: dict[str, tuple[str, str]] = {}  # user key -> (widget id, fragment id)
        self.images: list[str] = []
        self.query = ""
        self.answered = -1  # a teacher's page: how many students its tally counts
        self.timers: dict[str, float] = {}  # fragment id -> seconds between its automatic runs
        self.answered_fragment = ""
        self.busy = False  # the last run said the lab was busy

    async def run(self, widget=None, fragment_id: str = "") -> bool:
        """Ask for a run (with one widget's new state) and read until it finishes."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        if widget is not None:
            state.widget_states.widgets.append(widget)
        state.fragment_id = fragment_id
        self.images, self.busy = [], False
        await self.socket.send(message.SerializeToString())
        return await asyncio.wait_for(self.read_until_finished(), ANSWER_TIMEOUT)

    async def read_until_finished(self) -> bool:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            message = ForwardMsg()
            message.ParseFromString(await self.socket.recv())
            kind = message.WhichOneof("type")
            if kind == "delta":
                self.read_delta(message.delta)
            elif kind == "page_info_changed":
                self.query = message.page_info_changed.query_string
            elif kind == "auto_rerun":  # a fragment on a timer: the browser reruns it
                self.timers[message.auto_rerun.fragment_id] = message.auto_rerun.interval
            elif kind == "script_finished":
                status = message.script_finished
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, 3):  # 3: a fragment's run
                    return True
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # a newer run of ours follows
                self.tally.error("failed script run", f"status {status}")
                return False

    def read_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.tally.error("exception element", element.exception.message[:120])
        elif kind == "alert" and element.alert.format == 1:  # 1: st.error
            self.tally.error("error message", element.alert.body[:120])
        elif kind == "alert" and element.alert.body == BUSY_MESSAGE:
            self.busy = True
        elif kind == "imgs":
            self.images.extend(image.url for image in element.imgs.imgs)
        elif kind in ("slider", "button", "button_group"):
            widget_id = getattr(element, kind).id
            self.widgets[widget_id.rsplit("-", 1)[-1]] = (widget_id, delta.fragment_id)
        elif kind == "markdown" and (counted := counts_in_tally_text(element.markdown.body)):
            self.answered = counted[1]
            self.answered_fragment = delta.fragment_id


async def fetch_images(host, port, session: Session, cookie: str, tally: Tally) -> None:
    """Fetch the images the page shows by address, as a browser does (the page's own images
    come inline, as data URIs)."""
    for url in session.images:
        if url.startswith("data:"):
            continue
        status, _ = await http_get(host, port, url, cookie)
        if status != 200:
            tally.error("image not served", f"{url} -> {status}")


def random_query(rng: random.Random) -> str:
    classes = rng.sample(CLASSES, 4)
    parts = [f"c{q}={name}&s{q}={rng.randrange(30)}" for q, name in enumerate(classes)]
    return "&".join(parts) + f"&t={rng.choice((0.3, 0.4, 0.5, 0.6)):.2f}"


def next_interaction(session: Session, rng: random.Random):
    """(widget state, fragment id, is a new composite): a click on "Random composite" or a
    threshold move, half and half."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    widget = WidgetState()
    if rng.random() < 0.5:
        widget.id, fragment_id = session.widgets["random"]
        widget.trigger_value = True
        return widget, fragment_id, True
    widget.id, fragment_id = session.widgets["threshold"]
    widget.double_array_value.data.append(round(rng.uniform(0.05, 0.95), 2))
    return widget, fragment_id, False


async def student(host: str, port: int, seconds: float, seed: int, tally: Tally) -> None:
    import websockets

    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    try:
        status, cookies = await http_get(host, port, "/")
        if status != 200:
            tally.error("page not served", f"/ -> {status}")
            return
        cookie = "; ".join(cookies)
        STUDENT_WORKER.set(cookie.partition("=")[2])
        headers = {"Cookie": cookie} if cookie else {}
        async with websockets.connect(
            f"ws://{host}:{port}/_stcore/stream",
            subprotocols=["streamlit"],
            additional_headers=headers,
            max_size=None,
            open_timeout=ANSWER_TIMEOUT,
        ) as socket_:
            session = Session(socket_, tally)
            session.query = random_query(rng)
            started = time.perf_counter()
            if not await session.run():
                return
            tally.page_loads.append(time.perf_counter() - started)
            await fetch_images(host, port, session, cookie, tally)
            if not {"threshold", "random"} <= set(session.widgets):
                tally.error("page incomplete", "no threshold slider or random button")
                return
            while time.monotonic() + THINKING_SECONDS[1] < deadline:
                await asyncio.sleep(rng.uniform(*THINKING_SECONDS))
                widget, fragment_id, new_composite = next_interaction(session, rng)
                started = time.perf_counter()
                if await session.run(widget, fragment_id):
                    times = tally.composites if new_composite else tally.thresholds
                    times.append(time.perf_counter() - started)
                    tally.timeline.append((time.monotonic(), times[-1]))
                await fetch_images(host, port, session, cookie, tally)
    except TimeoutError:
        tally.error("no answer within 60 s")
    except (OSError, websockets.ConnectionClosed) as error:
        tally.error("dropped socket", f"{type(error).__name__}: {error}")


async def classroom(host, port, students: int, seconds: float, tally: Tally) -> None:
    """`students` students who arrive over the first few seconds and stay until `seconds`."""
    arrival = min(10.0, seconds / 4)

    async def arrive(index):
        delay = arrival * index / max(students, 1)
        await asyncio.sleep(delay)
        await student(host, port, seconds - delay, seed=index, tally=tally)

    await asyncio.gather(*(arrive(i) for i in range(students)))


# ---------------------------------------------------------------------------------------------
# The soak: a class that changes every minute, for many minutes
# ---------------------------------------------------------------------------------------------


def worker_pids(port: int, workers: int) -> dict[str, int | None]:
    """{"worker1": pid, ...}: serve-local's worker N listens on port + N."""
    found = {}
    for worker in range(1, workers + 1):
        wanted, found[f"worker{worker}"] = str(port + worker).encode(), None
        for entry in Path("/proc").iterdir():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"streamlit" in b" ".join(words) and wanted in words:
                found[f"worker{worker}"] = int(entry.name)
    return found


def own_resident_mib(pid: int | None) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, TypeError):
        return float("nan")
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "0 0")
    return int(line.split()[1]) / 1024


async def soak(host, port, workers, minutes, kill_at, tally) -> tuple[list[dict], dict]:
    """Run the soak; returns (a row per minute, the kill: {"worker", "at"} or {})."""
    started = time.monotonic()
    end = started + 60 * minutes
    killed: dict = {}
    rows: list[dict] = []
    seeds = iter(range(10**6))

    async def attend(stay: float) -> None:
        leave = min(time.monotonic() + stay, end)
        while time.monotonic() + THINKING_SECONDS[1] < leave:  # back at once after a drop
            await student(host, port, leave - time.monotonic(), next(seeds), tally)
            await asyncio.sleep(0.5)

    # The first class leaves by thirds after one, two and three minutes; newcomers stay three.
    tasks = [
        asyncio.ensure_future(attend(60 * (1 + index % SOAK_STAY_MINUTES)))
        for index in range(SOAK_STUDENTS)
    ]
    for minute in range(1, int(minutes) + 1):
        boundary = started + 60 * minute
        while time.monotonic() < boundary:
            if kill_at and not killed and time.monotonic() >= started + 60 * kill_at:
                name, pid = next(iter(worker_pids(port, workers).items()))
                os.kill(pid, signal.SIGKILL)
                killed = {"worker": name, "at": time.monotonic()}
            await asyncio.sleep(0.5)
        memory = {name: own_resident_mib(pid) for name, pid in worker_pids(port, workers).items()}
        rows.append({"minute": minute, "memory": memory, "end": boundary})
        if minute < minutes:
            joining = SOAK_STUDENTS // SOAK_STAY_MINUTES
            tasks += [asyncio.ensure_future(attend(60 * SOAK_STAY_MINUTES)) for _ in range(joining)]
    await asyncio.gather(*tasks)
    return rows, killed


def soak_table(rows: list[dict], killed: dict, tally: Tally) -> tuple[str, int]:
    """The per-minute table and the number of errors not caused by the kill."""
    names = list(rows[0]["memory"])
    lines = [
        "| minute | interactions | p95 (ms) | errors | errors on the killed worker | "
        + " | ".join(f"{name} RSS (MiB)" for name in names)
        + " |",
        "|---" * (5 + len(names)) + "|",
    ]
    unexpected = 0
    for row in rows:
        begin = row["end"] - 60
        times = [seconds for at, seconds in tally.timeline if begin <= at < row["end"]]
        errors = [(at, worker) for at, _, worker in tally.error_log if begin <= at < row["end"]]
        expected = [
            e for e in errors if killed and e[1] == killed["worker"] and e[0] >= killed["at"]
        ]
        unexpected += len(errors) - len(expected)
        p95 = f"{percentile(times, 0.95) * 1000:.0f}" if times else "–"
        memory = " | ".join(f"{row['memory'][name]:.0f}" for name in names)
        lines.append(
            f"| {row['minute']} | {len(times)} | {p95} | {len(errors) - len(expected)} | "
            f"{len(expected)} | {memory} |"
        )
    last = rows[-5:]
    slopes = []
    for name in names:
        points = [(row["minute"], row["memory"][name]) for row in last]
        mean_x = statistics.fmean(x for x, _ in points)
        mean_y = statistics.fmean(y for _, y in points)
        spread = sum((x - mean_x) ** 2 for x, _ in points) or 1.0
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
        slopes.append(f"{name} {slope:+.1f} MiB/min")
    lines.append(f"\nMemory slope over the last {len(last)} minutes: " + ", ".join(slopes))
    if killed:
        minute = int((killed["at"] - rows[0]["end"] + 60) // 60) + 1
        lines.append(f"{killed['worker']} killed with SIGKILL in minute {minute}.")
    return "\n".join(lines), unexpected


# ---------------------------------------------------------------------------------------------
# A class room: students answer, the teacher's tally follows
# ---------------------------------------------------------------------------------------------

ROOM_CHOICES = ("0", "1", "2", "3", "4 or more")  # the first step's question


async def open_session(host, port, query, tally, browser_cookie=""):
    """(websocket, Session after its first run, cookie) of a page opened at `query`, sending
    `browser_cookie` (the class room's browser identity) as a browser that has one does."""
    import websockets

    status, cookies = await http_get(host, port, "/")
    if status != 200:
        raise OSError(f"/ -> {status}")
    cookie = "; ".join([*cookies, browser_cookie] if browser_cookie else cookies)
    STUDENT_WORKER.set(cookie.partition("=")[2])
    socket_ = await websockets.connect(
        f"ws://{host}:{port}/_stcore/stream",
        subprotocols=["streamlit"],
        additional_headers={"Cookie": cookie} if cookie else {},
        max_size=None,
        open_timeout=ANSWER_TIMEOUT,
    )
    session = Session(socket_, tally)
    session.query = query
    if not await session.run():
        raise OSError("the page's first run failed")
    return socket_, session


async def room_student(host, port, code, window, seed, tally, answers) -> None:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    rng = random.Random(seed)
    try:
        socket_, session = await open_session(host, port, f"room={code}", tally)
        async with socket_:
            if "room_guess_1" not in session.widgets:
                tally.error("page incomplete", "no answer choices on the student's page")
                return
            # While the student thinks, the page looks for the teacher's changes on its timer, as
            # the browser does.
            think = time.monotonic() + rng.uniform(0, window)
            follow = [f for f, seconds in session.timers.items() if seconds <= 5]
            while time.monotonic() < think:
                await asyncio.sleep(min(2.0, max(0.0, think - time.monotonic())))
                for fragment in follow:
                    if time.monotonic() < think:
                        started = time.perf_counter()
                        if await session.run(fragment_id=fragment):
                            tally.composites.append(time.perf_counter() - started)  # follows
            widget = WidgetState()
            widget.id, fragment_id = session.widgets["room_guess_1"]
            widget.string_array_value.data.append(rng.choice(ROOM_CHOICES))
            started = time.perf_counter()
            if await session.run(widget, fragment_id):
                tally.thresholds.append(time.perf_counter() - started)  # answers
                answers.append(time.monotonic())
    except (OSError, TimeoutError) as error:
        tally.error("dropped socket", f"{type(error).__name__}: {error}")


async def room_teacher(host, port, code, cookie, expected, tally, done) -> dict:
    """Redraw the teacher's tally until it counts `expected` answers; returns when."""
    socket_, session = await open_session(host, port, f"room={code}", tally, cookie)
    async with socket_:
        while not done.is_set() or session.answered < expected:
            await asyncio.sleep(0.25)
            if not await session.run(fragment_id=session.answered_fragment):
                break
            if session.answered >= expected:
                return {"complete": time.monotonic(), "answered": session.answered}
            if done.is_set() and time.monotonic() > done.deadline:
                break
        return {"complete": None, "answered": session.answered}


async def room_class(host, port, store, students, window, tally) -> dict:
    from demo import rooms

    teacher_browser = rooms.new_browser_id()
    room = store.create(teacher_browser, "bench2026")
    cookie = f"{rooms.BROWSER_COOKIE}={rooms.sign_browser(teacher_browser, store.secret())}"
    answers: list[float] = []
    done = asyncio.Event()
    teacher = asyncio.ensure_future(
        room_teacher(host, port, room.code, cookie, students, tally, done)
    )
    await asyncio.gather(
        *(room_student(host, port, room.code, window, n, tally, answers) for n in range(students))
    )
    done.deadline = time.monotonic() + 30
    done.set()
    seen = await teacher
    last = max(answers) if answers else None
    return {
        "code": room.code,
        "sent": len(answers),
        "stored": sum(store.tally(room.code, 1).values()),
        "teacher": seen["answered"],
        "after_last": (seen["complete"] - last) if seen["complete"] and last else None,
    }


async def lab_student(host, port, seconds, seed, tally, loaded: asyncio.Barrier) -> None:
    """A student on the lab page who presses Train when everyone is loaded, then every 1-4 s."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    try:
        socket_, session = await open_session(host, port, "lab=1", tally)
    except (OSError, TimeoutError) as error:
        tally.error("dropped socket", f"{type(error).__name__}: {error}")
        await loaded.wait()
        return
    async with socket_:
        await loaded.wait()
        if TRAIN_KEY not in session.widgets:
            tally.error("page incomplete", "no Train button on the lab page")
            return
        try:
            while time.monotonic() < deadline:
                widget = WidgetState()
                widget.id, fragment_id = session.widgets[TRAIN_KEY]
                widget.trigger_value = True
                started = time.perf_counter()
                if await session.run(widget, fragment_id):
                    if session.busy:
                        tally.busy += 1
                    else:
                        tally.trains.append(time.perf_counter() - started)
                await asyncio.sleep(rng.uniform(*THINKING_SECONDS))
        except TimeoutError:
            tally.error("no answer within 60 s")


async def lab_class(host, port, lab_students, others, seconds, tally) -> None:
    loaded = asyncio.Barrier(lab_students)
    await asyncio.gather(
        *(lab_student(host, port, seconds, n, tally, loaded) for n in range(lab_students)),
        *(student(host, port, seconds, 1000 + n, tally) for n in range(others)),
    )


def run_lab(args) -> int:
    others = args.students[0] if args.students != [1, 10, 30, 100] else 10
    tally = Tally()
    with served(args, "lab") as port:
        asyncio.run(lab_class("127.0.0.1", port, args.lab, others, args.seconds, tally))
    other = tally.thresholds + tally.composites
    print(
        f"\nLoss lab, 1 process: {args.lab} students press Train at once, then every 1-4 s, "
        f"for {args.seconds:.0f} s; {others} others use the free page (ms)\n"
    )
    print(
        "| lab students | Train p50 | Train p95 | trained | refused as busy | others' "
        "interactions | their p95 | errors |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.lab} | {statistics.median(tally.trains) * 1000:.0f} | "
        f"{percentile(tally.trains, 0.95) * 1000:.0f} | {len(tally.trains)} | {tally.busy} | "
        f"{len(other)} | {percentile(other, 0.95) * 1000:.0f} | {sum(tally.errors.values())} |"
    )
    for example in tally.examples:
        print(f"    {example}")
    return 1 if tally.errors else 0


def store_seconds_per_answer(store, calls: int = 200) -> float:
    from demo import rooms

    room = store.create(rooms.new_browser_id(), "bench2026")
    students = [rooms.new_browser_id() for _ in range(calls)]
    for student in students:
        store.join(room.code, student)
    started = time.perf_counter()
    for index, student in enumerate(students):
        store.answer(room.code, 1, student, ROOM_CHOICES[index % 5])
    return (time.perf_counter() - started) / calls


def start_redis() -> tuple[subprocess.Popen, str]:
    import shutil

    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server).")
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("redis-server did not start") from None
            time.sleep(0.1)


def run_room(args) -> int:
    import tempfile

    sys.path.insert(0, str(REPO))
    from demo import rooms

    redis_process, data = None, tempfile.mkdtemp(prefix="rooms-")
    if args.store == "redis":
        redis_process, url = start_redis()
        os.environ["REDIS_URL"] = url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["MULTILABEL_DATA_DIR"] = data  # the workers' store, and the benchmark's
    store = rooms.open_store(folder=data)
    host = "127.0.0.1"
    try:
        with served(args, "room") as port:
            tally = Tally()
            result = asyncio.run(room_class(host, port, store, args.room, args.seconds, tally))
            per_answer = store_seconds_per_answer(store)
    finally:
        if redis_process is not None:
            redis_process.terminate()
    server = "1 process" if args.workers == 1 else f"serve-local, {args.workers} workers"
    answer_p50 = statistics.median(tally.thresholds) if tally.thresholds else float("nan")
    after = result["after_last"]
    print(
        f"\nClass room, {args.store}, {server}: {args.room} students answer within "
        f"{args.seconds:.0f} s\n"
    )
    print(
        "| answers sent | stored | on the teacher's page | answer p50 / p95 / max (ms) | "
        "follow the teacher p50 / p95 / max (ms) | tally complete after the last answer | "
        "store per answer | errors |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {result['sent']} | {result['stored']} | {result['teacher']} | "
        f"{timing(tally.thresholds)} | {timing(tally.composites)} | "
        f"{'–' if after is None else f'{after:.2f} s'} | "
        f"{per_answer * 1000:.2f} ms ({per_answer / answer_p50:.1%} of the p50) | "
        f"{sum(tally.errors.values())} |"
    )
    for example in tally.examples:
        print(f"    {example}")
    lost = args.room - result["stored"]
    complete = result["teacher"] == args.room and after is not None
    return 0 if lost == 0 and complete and not tally.errors else 1


# ---------------------------------------------------------------------------------------------
# The server and its memory
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workers: int, port: int, log_path: Path, checkout: Path) -> subprocess.Popen:
    """One `streamlit run` (workers=1) or deploy/serve-local with `workers` workers, serving
    the app of `checkout` (a clone of this repository, this one by default)."""
    if workers == 1:
        command = [sys.executable, "-m", "streamlit", "run", "demo/app.py"]
        command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    else:
        command = [str(checkout / "deploy" / "serve-local"), "--workers", str(workers)]
        command += ["--port", str(port), "--address", "127.0.0.1"]
    # The checkout's own `core` and `demo` come first on the path.
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(checkout))
    with open(log_path, "w") as log:
        return subprocess.Popen(
            command,
            cwd=checkout,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer {url}/_stcore/health in {timeout:.0f} s")


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` and its descendants so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in descendants(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def resident_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants, in MiB."""
    total = 0
    for member in descendants(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@contextmanager
def served(args, name: str):
    """The server of `args` (one process or serve-local) on a free port, healthy, stopped after;
    yields the port. Its log goes to $TMPDIR/<name>-<port>.log."""
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-{port}.log"
    process = start_server(args.workers, port, log_path, Path(args.checkout).resolve())
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process)
        yield port
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def timing(values: list[float]) -> str:
    if not values:
        return "–"
    return (
        f"{statistics.median(values) * 1000:.0f} / {percentile(values, 0.95) * 1000:.0f} / "
        f"{max(values) * 1000:.0f}"
    )


def measure(host, port, process, students, seconds) -> tuple[Tally, dict]:
    """Run one class while sampling the server's memory every half second."""
    tally = Tally()
    memory = {"before": resident_mib(process.pid), "peak": 0.0}
    server_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()

    async def with_sampling():
        task = asyncio.ensure_future(classroom(host, port, students, seconds, tally))
        while not task.done():
            memory["peak"] = max(memory["peak"], resident_mib(process.pid))
            await asyncio.sleep(0.5)
        await task

    asyncio.run(with_sampling())
    memory["after"] = resident_mib(process.pid)
    runs = len(tally.page_loads) + len(tally.thresholds) + len(tally.composites)
    tally.server_cpu_per_run = (cpu_seconds(process.pid) - server_cpu) / max(runs, 1)
    tally.client_cpu = time.process_time() - client_cpu
    return tally, memory


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="1: one process; more: serve-local")
    parser.add_argument("--students", type=int, nargs="+", default=[1, 10, 30, 100])
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
        return run_lab(args)
    if args.soak is not None:
        return run_soak(args)
    if args.room is not None:
        return run_room(args)
    if not 1 <= args.workers <= 16 or max(args.students) > 200 or not 5 <= args.seconds <= 600:
        parser.error("workers 1..16, at most 200 students, 5..600 seconds per class")

    host, port = "127.0.0.1", free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"classroom-{port}.log"
    process = start_server(args.workers, port, log_path, Path(args.checkout).resolve())
    rows, failures = [], 0
    try:
        wait_until_healthy(f"http://{host}:{port}", process)
        if args.workers > 1:  # serve-local's workers listen on the ports after the balancer's
            for worker in range(1, args.workers + 1):
                wait_until_healthy(f"http://{host}:{port + worker}", process)
        # A few students first, straight to every worker, so that each has loaded the models
        # and filled its caches before the balancer sends it a class.
        workers = [port] if args.workers == 1 else [port + w for w in range(1, args.workers + 1)]
        for warm_port in workers:
            warm_up, _ = measure(host, warm_port, process, 2, 8)
            failures += sum(warm_up.errors.values())
        idle = resident_mib(process.pid)
        for students in args.students:
            tally, memory = measure(host, port, process, students, args.seconds)
            failures += sum(tally.errors.values())
            rows.append((students, tally, memory))
            print_row(args.workers, students, tally, memory, flush=True)
            for example in tally.examples:
                print(f"    {example}", flush=True)
        settle = []
        started = time.monotonic()
        while time.monotonic() - started < args.settle:
            time.sleep(min(15.0, args.settle))
            settle.append((time.monotonic() - started, resident_mib(process.pid)))
    finally:
        stop_server(process)
    print_table(args.workers, idle, rows, settle)
    if failures:
        print(f"{failures} errors; server log: {log_path}")
    return 1 if failures else 0


def run_soak(args) -> int:
    if args.workers < 2 or not 6 <= args.soak <= 60:
        raise SystemExit("The soak runs serve-local (--workers 2 or more) for 6 to 60 minutes.")
    tally = Tally()
    with served(args, "soak") as port:
        rows, killed = asyncio.run(
            soak("127.0.0.1", port, args.workers, args.soak, args.kill_at, tally)
        )
    table, unexpected = soak_table(rows, killed, tally)
    print(f"\nSoak: {SOAK_STUDENTS} students, serve-local with {args.workers} workers\n")
    print(table)
    for example in tally.examples:
        print(f"    {example}")
    return 1 if unexpected else 0


def print_row(workers, students, tally, memory, flush=False) -> None:
    print(
        f"  {workers} process(es), {students} students: page load {timing(tally.page_loads)}, "
        f"threshold {timing(tally.thresholds)}, new composite {timing(tally.composites)} ms; "
        f"errors {sum(tally.errors.values())}; server CPU {tally.server_cpu_per_run * 1000:.0f} "
        f"ms per run, students' CPU {tally.client_cpu:.0f} s; RSS {memory['before']:.0f} -> "
        f"{memory['peak']:.0f} -> {memory['after']:.0f} MiB",
        flush=flush,
    )


def print_table(workers, idle, rows, settle) -> None:
    server = "1 process" if workers == 1 else f"serve-local, {workers} workers"
    print(f"\nClassroom benchmark, {server}, idle RSS {idle:.0f} MiB (p50 / p95 / max, ms)\n")
    print(
        "| students | page load | threshold move | new composite | interactions | errors | "
        "server CPU per run | RSS before / peak / after (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for students, tally, memory in rows:
        count = len(tally.thresholds) + len(tally.composites)
        print(
            f"| {students} | {timing(tally.page_loads)} | {timing(tally.thresholds)} | "
            f"{timing(tally.composites)} | {count} | {sum(tally.errors.values())} | "
            f"{tally.server_cpu_per_run * 1000:.0f} ms | "
            f"{memory['before']:.0f} / {memory['peak']:.0f} / {memory['after']:.0f} |"
        )
    if settle:
        print(
            "\nMemory after the students left: "
            + ", ".join(f"{seconds:.0f} s: {mib:.0f} MiB" for seconds, mib in settle)
        )


if __name__ == "__main__":
    sys.exit(main())
