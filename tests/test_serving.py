"""Serving a class: socket options, deploy/serve-local, and a short classroom load smoke."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from demo import sockets

REPO = Path(__file__).resolve().parents[1]
SERVE_LOCAL = REPO / "deploy" / "serve-local"
HAPROXY = shutil.which("haproxy")
needs_haproxy = pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")


def test_disable_nagle_sets_nodelay_on_listeners_and_what_they_accept():
    # A listener made like Streamlit's: protocol number 0, so asyncio would not set TCP_NODELAY.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        before = socket.create_connection(listener.getsockname())
        accepted_before, _ = listener.accept()
        assert listener.proto == 0
        assert accepted_before.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert listener.fileno() in sockets.tcp_sockets_without_nodelay()

        assert sockets.disable_nagle() >= 3
        assert sockets.tcp_sockets_without_nodelay() == []
        for sock in (listener, accepted_before, before):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        after = socket.create_connection(listener.getsockname())
        accepted_after, _ = listener.accept()
        assert accepted_after.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        for sock in (before, accepted_before, after, accepted_after):
            sock.close()


def run_serve_local(*args, env=None, timeout=30):
    return subprocess.run(
        [str(SERVE_LOCAL), *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
        check=False,
    )


@needs_haproxy
def test_serve_local_writes_a_config_haproxy_accepts(tmp_path):
    result = run_serve_local("--workers", "3", "--port", "9100", "--check")
    assert result.returncode == 0, result.stderr
    config = result.stdout
    assert "cookie SERVEDBY insert indirect nocache" in config
    assert "option httpchk GET /_stcore/health" in config
    for worker, port in ((1, 9101), (2, 9102), (3, 9103)):
        assert f"server worker{worker} 127.0.0.1:{port} cookie worker{worker}" in config
    assert "balance source" not in config and "hash-type" not in config  # never by client IP
    (tmp_path / "haproxy.cfg").write_text(config)
    check = subprocess.run([HAPROXY, "-c", "-f", str(tmp_path / "haproxy.cfg")], check=False)
    assert check.returncode == 0


def test_serve_local_refuses_bad_options_and_a_missing_haproxy(tmp_path):
    assert run_serve_local("--workers", "0").returncode == 2
    assert "unknown option" in run_serve_local("--bogus").stderr
    # A PATH with the tools the script needs, but no haproxy.
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    for tool in ("bash", "dirname", "nproc", "mktemp", "seq", "cat", "rm"):
        if found := shutil.which(tool):
            (bin_folder / tool).symlink_to(found)
    result = run_serve_local("--workers", "2", env={"PATH": str(bin_folder)})
    assert result.returncode == 1
    assert (
        "HAProxy is not installed" in result.stderr and "apt-get install haproxy" in result.stderr
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@needs_haproxy
@pytest.mark.slow
def test_serve_local_stops_every_process_it_started_on_sigterm():
    port = free_port()
    env = dict(os.environ, PYTHON=sys.executable)
    process = subprocess.Popen(
        [str(SERVE_LOCAL), "--workers", "2", "--port", str(port), "--address", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(children_of(process.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        started = children_of(process.pid)
        assert len(started) == 3  # two workers and HAProxy
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in started)
    finally:
        if process.poll() is None:
            process.kill()


def classroom_smoke(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "bench/classroom.py", "--students", "10", "--seconds", "15", *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def interactions_in(report: str) -> int:
    row = next(line for line in report.splitlines() if line.startswith("| 10 |"))
    return int(row.split("|")[5])


@pytest.mark.slow
def test_ten_students_on_one_process_see_no_error():
    result = classroom_smoke()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| 10 |" in result.stdout
    assert interactions_in(result.stdout) >= 10  # the students kept interacting


@needs_haproxy
@pytest.mark.slow
def test_ten_students_through_serve_local_see_no_error():
    result = classroom_smoke("--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "serve-local, 2 workers" in result.stdout
    assert interactions_in(result.stdout) >= 10
