"""Serving a class: socket options, deploy/serve-local, and a short classroom load smoke."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import free_port

from demo.serve import sockets

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


def run_serve_local(*args, env=None, timeout=30, cwd=None):
    return subprocess.run(
        [str(SERVE_LOCAL), *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


@needs_haproxy
def test_serve_local_writes_a_config_haproxy_accepts(tmp_path):
    result = run_serve_local("--workers", "3", "--port", "9100", "--check")
    assert result.returncode == 0, result.stderr
    config = result.stdout
    assert "cookie SERVEDBY insert indirect nocache" in config
    assert "option httpchk GET /_stcore/health" in config
    # A request for a dead worker goes to a live one; a refused connection marks it down.
    assert "option redispatch" in config and "retries 3" in config
    assert "observe layer4" in config and "on-error mark-down" in config
    for worker, port in ((1, 9101), (2, 9102), (3, 9103)):
        assert f"server worker{worker} 127.0.0.1:{port} cookie worker{worker}" in config
    assert "balance source" not in config and "hash-type" not in config  # never by client IP
    (tmp_path / "haproxy.cfg").write_text(config)
    check = subprocess.run([HAPROXY, "-c", "-f", str(tmp_path / "haproxy.cfg")], check=False)
    assert check.returncode == 0


def self_signed_pem(folder: Path, with_key: bool = True) -> Path:
    """A one-day certificate for localhost, with its key in the same PEM as HAProxy wants."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"]
        + ["-days", "1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True,
        check=True,
    )
    pem = folder / ("class.pem" if with_key else "cert-only.pem")
    pem.write_text(cert.read_text() + (key.read_text() if with_key else ""))
    return pem


@needs_haproxy
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_serve_local_serves_https_with_a_certificate_and_redirects_plain_http(tmp_path):
    pem = self_signed_pem(tmp_path)
    result = run_serve_local(
        *("--workers", "2", "--port", "9443", "--tls-cert", str(pem)),
        *("--redirect-port", "9080", "--check"),
    )
    assert result.returncode == 0, result.stderr
    config = result.stdout
    assert f"bind 0.0.0.0:9443 ssl crt {pem}" in config
    # Plain HTTP on the second port goes to HTTPS, the name the student typed kept.
    assert "bind 0.0.0.0:9080\n" in config
    assert "http-request redirect location https://" in config and ":9443%[url]" in config
    assert "unless { ssl_fc }" in config
    # The stickiness cookie is sent over HTTPS only.
    assert "cookie SERVEDBY insert indirect nocache httponly secure" in config
    assert "server worker2 127.0.0.1:9445 cookie worker2" in config
    # A relative path works too: HAProxy gets it absolute.
    relative = run_serve_local("--port", "9443", "--tls-cert", pem.name, "--check", cwd=tmp_path)
    assert relative.returncode == 0 and f"ssl crt {pem}\n" in relative.stdout, relative.stderr
    # Without --tls-cert: plain HTTP, no redirect, a cookie without `secure`.
    plain = run_serve_local("--workers", "2", "--port", "9100", "--check").stdout
    assert "ssl" not in plain and "redirect" not in plain and "httponly secure" not in plain


@needs_haproxy
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_serve_local_refuses_a_certificate_without_its_key_and_a_redirect_without_tls(tmp_path):
    keyless = run_serve_local(
        "--tls-cert", str(self_signed_pem(tmp_path, with_key=False)), "--check"
    )
    assert keyless.returncode == 1
    assert "HAProxy refused" in keyless.stderr and "private key" in keyless.stderr
    missing = run_serve_local("--tls-cert", str(tmp_path / "absent.pem"), "--check")
    assert missing.returncode == 2 and "not a readable file" in missing.stderr
    assert run_serve_local("--redirect-port", "8080", "--check").returncode == 2
    pem = str(self_signed_pem(tmp_path))
    for clash in ("9443", "9444"):  # the HTTPS port, a worker's port
        clashing = ["--port", "9443", "--tls-cert", pem, "--redirect-port", clash, "--check"]
        assert run_serve_local(*clashing).returncode == 2


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


def descendants_of(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        children = children_of(frontier.pop())
        found += children
        frontier += children
    return found


def worker_pid(port: int) -> int | None:
    """The Streamlit process listening on `port`, found by its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"streamlit" in b" ".join(words)
            and str(port).encode() in words
            and alive(int(entry.name))
        ):
            return int(entry.name)
    return None


@contextmanager
def serve_local(log: Path, workers: int = 2):
    """deploy/serve-local on a free port, yielded once it says the class can come in."""
    port = free_port()
    env = dict(os.environ, PYTHON=sys.executable)
    with open(log, "w") as output:
        process = subprocess.Popen(
            [SERVE_LOCAL, "--workers", str(workers), "--port", str(port), "--address", "127.0.0.1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "the class can come in" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve-local did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def health_through(port: int) -> bool:
    try:
        url = f"http://127.0.0.1:{port}/_stcore/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@needs_haproxy
@pytest.mark.slow
def test_serve_local_stops_every_process_it_started_on_sigterm(tmp_path):
    with serve_local(tmp_path / "serve-local.log") as (process, _):
        started = descendants_of(process.pid)
        assert len([p for p in started if alive(p)]) >= 3  # two workers and HAProxy at least
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in started)


@needs_haproxy
@pytest.mark.slow
def test_serve_local_killed_with_sigkill_leaves_no_process_behind(tmp_path):
    """SIGKILL runs no trap: the supervisors, the workers and HAProxy notice serve-local's
    death by themselves and end."""
    with serve_local(tmp_path / "serve-local.log", workers=2) as (process, port):
        started = [pid for pid in descendants_of(process.pid) if alive(pid)]
        workers = [worker_pid(port + 1), worker_pid(port + 2)]
        assert all(workers) and set(workers) <= set(started)
        assert len(started) >= 5  # two supervisors, two workers, HAProxy (and their guards)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()
        deadline = killed_at + 15
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in started if alive(pid)]
        for pid in left:  # leave nothing behind for the next test either
            os.kill(pid, signal.SIGKILL)
        assert not left, f"still running {time.monotonic() - killed_at:.1f} s after SIGKILL: {left}"
        assert not health_through(port)


@needs_haproxy
@pytest.mark.slow
def test_a_killed_worker_comes_back_and_the_class_never_sees_an_error(tmp_path):
    log = tmp_path / "serve-local.log"
    with serve_local(log) as (process, port):
        assert health_through(port)  # served at once: no window of 503s after the start line
        victim = worker_pid(port + 1)
        survivor = worker_pid(port + 2)
        os.kill(victim, signal.SIGKILL)
        answers, deadline = [], time.monotonic() + 8
        while time.monotonic() < deadline:
            answers.append(health_through(port))
            time.sleep(0.05)
        assert all(answers), f"{answers.count(False)} of {len(answers)} probes failed"
        assert f"worker1 (pid {victim}) exited with status 137" in log.read_text()
        deadline = time.monotonic() + 60
        while "worker1 is back" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "worker1 is back" in log.read_text()
        assert worker_pid(port + 1) not in (None, victim)
        assert worker_pid(port + 2) == survivor  # the other worker was left alone
        assert process.poll() is None  # serve-local itself goes on


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


@needs_haproxy
@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_ten_students_in_a_room_through_serve_local_all_counted(store):
    if store == "redis" and shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    result = subprocess.run(
        [
            sys.executable,
            "bench/classroom.py",
            "--workers",
            "2",
            "--room",
            "10",
            "--seconds",
            "5",
            "--store",
            store,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 10 |"))
    sent, stored, on_page = (int(cell) for cell in row.split("|")[1:4])
    assert sent == stored == on_page == 10  # every answer counted once, none lost


def test_warming_a_worker_that_is_not_there_fails_with_a_message():
    result = subprocess.run(
        [sys.executable, "-m", "demo.warmup", str(free_port())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("warmup: ") and "Traceback" not in result.stderr
