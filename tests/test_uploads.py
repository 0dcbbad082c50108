"""What uploads may hold in a serving process: a session's oldest file goes when it passes the
page's count, the process refuses an upload past its budget and keeps every file it holds; and
against a real server, a program's PUTs of file after file hold no more than that."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from conftest import streamlit_server
from starlette.exceptions import HTTPException
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec
from test_serving import needs_haproxy, serve_local

from demo.serve import uploads, wire

MB = 1024 * 1024


def record(file_id: str, size: int) -> UploadedFileRec:
    return UploadedFileRec(
        file_id=file_id, name=f"{file_id}.jpg", type="image/jpeg", data=b"x" * size
    )


def held(manager, session: str) -> list[str]:
    return list(manager.file_storage.get(session, {}))


def test_a_session_keeps_its_newest_files_and_others_keep_theirs():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    assert uploads.bound(manager, per_session=3, budget=100 * MB)
    manager.add_file("other", record("theirs", 10))
    for name in ("a", "b", "c"):
        manager.add_file("student", record(name, 10))
    manager.add_file("student", record("b", 20))  # the same file again: nothing is dropped
    assert held(manager, "student") == ["a", "b", "c"]
    manager.add_file("student", record("d", 10))
    assert held(manager, "student") == ["b", "c", "d"]
    manager.add_file("student", record("e", 10))
    assert held(manager, "student") == ["c", "d", "e"]
    assert held(manager, "other") == ["theirs"]
    assert uploads.held_bytes(manager) == 10 + 3 * 10


def test_an_upload_past_the_budget_is_refused_and_nothing_held_is_lost():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    uploads.bound(manager, per_session=3, budget=100)
    manager.add_file("first", record("a", 60))
    manager.add_file("second", record("b", 30))
    with pytest.raises(HTTPException) as refused:
        manager.add_file("second", record("c", 11))  # 60 + 30 + 11 > 100
    assert refused.value.status_code == uploads.REFUSED_STATUS
    assert held(manager, "first") == ["a"] and held(manager, "second") == ["b"]
    manager.add_file("second", record("c", 10))  # exactly the budget
    manager.add_file("first", record("a", 50))  # a replaced file counts once
    assert uploads.held_bytes(manager) == 50 + 30 + 10


def test_a_drop_that_makes_room_counts_before_the_budget():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    uploads.bound(manager, per_session=2, budget=100)
    manager.add_file("student", record("a", 60))
    manager.add_file("student", record("b", 30))
    manager.add_file("student", record("c", 60))  # "a" goes first: 30 + 60 fits
    assert held(manager, "student") == ["b", "c"]


def test_files_of_closed_sessions_are_freed_only_when_the_budget_needs_it():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    connected = {"student", "other"}
    uploads.bound(manager, per_session=3, budget=100, is_connected=connected.__contains__)
    manager.add_file("closed tab", record("a", 50))
    manager.add_file("other", record("b", 30))
    manager.add_file("student", record("c", 20))  # 100: nothing is freed below the budget
    assert held(manager, "closed tab") == ["a"]
    manager.add_file("student", record("d", 40))  # the closed tab's 50 bytes make room
    assert "closed tab" not in manager.file_storage
    assert held(manager, "other") == ["b"] and held(manager, "student") == ["c", "d"]
    with pytest.raises(HTTPException):
        manager.add_file("student", record("e", 20))  # 110: connected sessions keep theirs
    assert uploads.held_bytes(manager) == 90


def test_refusals_are_logged_once_a_minute_with_their_count(caplog, monkeypatch):
    clock = iter([1000.0, 1000.0, 1010.0, 1070.0, 1070.0])
    monkeypatch.setattr(uploads.time, "monotonic", lambda: next(clock))
    log = uploads.RefusalLog()
    with caplog.at_level("WARNING", logger=uploads.LOGGER.name):
        for _ in range(3):
            log.refuse(123)
    assert [record.getMessage()[:25] for record in caplog.records] == [
        "1 upload(s) refused: the ",
        "2 upload(s) refused: the ",
    ]


def test_bound_once_and_only_on_a_manager_it_knows():
    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    assert uploads.bound(manager, 2, 100)
    assert not uploads.bound(manager, 2, 100)
    assert not uploads.bound(object(), 2, 100)


@pytest.mark.parametrize("value", ["lots", "0", "-5", "1.5"])
def test_a_bad_budget_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv(uploads.MEMORY_VARIABLE, value)
    with pytest.raises(ValueError, match=uploads.MEMORY_VARIABLE):
        uploads.upload_memory_bytes()


def test_the_budget_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(uploads.MEMORY_VARIABLE, raising=False)
    assert uploads.upload_memory_bytes() == uploads.UPLOAD_MEMORY_MB * MB
    monkeypatch.setenv(uploads.MEMORY_VARIABLE, "64")
    assert uploads.upload_memory_bytes() == 64 * MB


async def put_file(host, port, session_id: str, cookies: list[str], size: int) -> int:
    """The status of one PUT of a `size`-byte file, as the page's uploader sends it with the
    browser's `cookies` (the XSRF cookie among them, its token in the header)."""
    (xsrf,) = [cookie for cookie in cookies if cookie.startswith("_streamlit_xsrf=")]
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + b"\xff" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"PUT /_stcore/upload_file/{session_id}/{uuid.uuid4()} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nConnection: close\r\nCookie: {'; '.join(cookies)}\r\n"
        f"X-Xsrftoken: {xsrf.split('=', 1)[1]}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    return int(response.split(b" ", 2)[1])


def resident_bytes(port: int) -> int:
    """The resident memory of the server listening on `port`, from /proc."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            command = (status.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--server.port" in command and str(port).encode() in command:
            return int(re.search(r"VmRSS:\s+(\d+) kB", status.read_text()).group(1)) * 1024
    raise LookupError(f"no server on port {port}")


@pytest.mark.slow
def test_a_program_putting_file_after_file_holds_no_more_than_the_page_does(tmp_path):
    """40 files of 4 MB from one session: all answered, at most six held (unbounded: 160 MB).
    With the process's budget at 40 MB, a second session is refused past it."""
    environment = {"MULTILABEL_DATA_DIR": str(tmp_path), uploads.MEMORY_VARIABLE: "40"}
    with streamlit_server(tmp_path / "streamlit.log", environment) as url:
        port = int(url.rsplit(":", 1)[1])

        async def attack():
            _, cookies = await wire.http_get("127.0.0.1", port, "/_stcore/health")
            pages = []
            for _ in range(2):
                page = wire.Session(await wire.connect("127.0.0.1", port, "; ".join(cookies)))
                assert await page.run(timeout=300) in wire.SUCCEEDED and page.session_id
                pages.append(page)

            async def put(page) -> int:
                return await put_file("127.0.0.1", port, page.session_id, cookies, 4 * MB)

            before = resident_bytes(port)
            first = [await put(pages[0]) for _ in range(40)]
            grown = resident_bytes(port) - before
            second = [await put(pages[1]) for _ in range(6)]
            for page in pages:
                await page.socket.close()
            return first, grown, second

        first, grown, second = asyncio.run(attack())
    assert first == [204] * 40
    assert grown < 60 * MB, f"the server grew by {grown / MB:.0f} MB"
    # 6 x 4 MB held by the first session: the second gets 4 files (40 MB), then is refused.
    assert second == [204] * 4 + [uploads.REFUSED_STATUS] * 2


@pytest.mark.slow
@needs_haproxy
def test_uploads_through_serve_local_reach_the_session_s_worker_and_wait_their_turn(tmp_path):
    """Twelve files at once through the balancer: each reaches the worker of its session (a
    wrong worker answers 400); past the eight a worker takes at once, they wait, not refused."""
    with serve_local(tmp_path / "serve-local.log") as (_, port):

        async def upload() -> list[int]:
            _, cookies = await wire.http_get("127.0.0.1", port, "/_stcore/health")
            assert any(cookie.startswith("SERVEDBY=") for cookie in cookies)
            page = wire.Session(await wire.connect("127.0.0.1", port, "; ".join(cookies)))
            assert await page.run(timeout=300) in wire.SUCCEEDED
            statuses = await asyncio.gather(
                *(put_file("127.0.0.1", port, page.session_id, cookies, MB) for _ in range(12))
            )
            await page.socket.close()
            return statuses

        assert asyncio.run(upload()) == [204] * 12
