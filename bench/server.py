"""The server under test: one `streamlit run` process or deploy/serve-local's workers behind
HAProxy, started on a free loopback port and stopped after; its processes' CPU time and
resident memory, read from /proc; a Redis server for the class room's Redis store."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
HEALTHY_WITHIN = 180.0  # seconds for a server (every worker) to answer its health check
SAMPLE_EVERY = 0.5  # seconds between two samples of the server's memory during a class


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def log_path(name: str, port: int) -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-{port}.log"


def start_server(workers: int, port: int, log: Path, checkout: Path) -> subprocess.Popen:
    """One `streamlit run` (workers=1) or deploy/serve-local with `workers` workers, serving
    the app of `checkout` (a clone of this repository, this one by default)."""
    if workers == 1:
        command = [sys.executable, "-m", "streamlit", "run", "demo/app.py"]
        command += ["--server.port", str(port), "--server.address", HOST]
    else:
        command = [str(checkout / "deploy" / "serve-local"), "--workers", str(workers)]
        command += ["--port", str(port), "--address", HOST]
    # The checkout's own `core` and `demo` come first on the path.
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(checkout))
    with open(log, "w") as output:
        return subprocess.Popen(
            command,
            cwd=checkout,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = HEALTHY_WITHIN):
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


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class Server:
    port: int  # where students connect: the process, or serve-local's balancer
    process: subprocess.Popen  # the process, or serve-local (every worker below it)
    log: Path
    worker_ports: tuple[int, ...]  # each process that runs the page: the port, or port + N


@contextmanager
def served(workers: int, checkout: str | Path, name: str):
    """The server (one process or serve-local with `workers`) of `checkout` on a free port,
    it and every worker healthy; stopped after. Its log goes to $TMPDIR/<name>-<port>.log."""
    port = free_port()
    log = log_path(name, port)
    process = start_server(workers, port, log, Path(checkout).resolve())
    # serve-local's workers listen on the ports after the balancer's
    worker_ports = (port,) if workers == 1 else tuple(port + w for w in range(1, workers + 1))
    try:
        wait_until_healthy(f"http://{HOST}:{port}", process)
        if workers > 1:
            for worker_port in worker_ports:
                wait_until_healthy(f"http://{HOST}:{worker_port}", process)
        yield Server(port, process, log, worker_ports)
    finally:
        stop_server(process)


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


# ---------------------------------------------------------------------------------------------
# CPU and memory, from /proc
# ---------------------------------------------------------------------------------------------


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


def own_resident_mib(pid: int | None) -> float:
    """Resident memory of `pid` alone, in MiB; NaN when there is no such process."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, TypeError):
        return float("nan")
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "0 0")
    return int(line.split()[1]) / 1024


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


@dataclass(frozen=True)
class Load:
    """What the server's processes used while a class ran."""

    resident_before: float  # MiB, all the server's processes
    resident_peak: float
    resident_after: float
    cpu_seconds: float  # user and system CPU seconds of all the server's processes
    wall_seconds: float  # how long the class lasted

    @property
    def cpu_per_second(self) -> float:
        """CPU seconds of all the server's processes per second of class (1.0: one core)."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else float("nan")


async def watched(pid: int, work: Awaitable) -> Load:
    """Await `work` (a class) while sampling the memory of `pid` and its descendants."""
    before, cpu_before, started = resident_mib(pid), cpu_seconds(pid), time.monotonic()
    task, peak = asyncio.ensure_future(work), 0.0
    while not task.done():
        peak = max(peak, resident_mib(pid))
        await asyncio.sleep(SAMPLE_EVERY)
    await task
    wall = time.monotonic() - started
    return Load(before, peak, resident_mib(pid), cpu_seconds(pid) - cpu_before, wall)


# ---------------------------------------------------------------------------------------------
# Redis, for the class room's Redis store
# ---------------------------------------------------------------------------------------------


@contextmanager
def redis_server():
    """A throwaway redis-server on a free loopback port (nothing saved); yields its URL."""
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server).")
    port = free_port()
    settings = ["--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [server, *settings, "--maxmemory-policy", "noeviction"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.1)
        yield f"redis://{HOST}:{port}/0"
    finally:
        process.terminate()
        process.wait()
