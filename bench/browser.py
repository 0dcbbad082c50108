"""A simulated student's browser: a `demo.serve.wire` session that counts what goes wrong on the
page (exception elements, error messages, runs that did not finish, images that were not served)
and reads the few things the benchmark looks for there (the lab's busy message, the teacher's
count of answers)."""

from __future__ import annotations

from bench.tally import STUDENT_WORKER, Tally
from demo import keys
from demo.rooms import counts_in_tally_text
from demo.serve import wire

ANSWER_TIMEOUT = 60.0  # seconds without `script_finished` before an interaction counts as lost
ERROR_ALERT = 1  # Alert.Format.ERROR: st.error


class StudentPage(wire.Session):
    """A page in a student's (or the teacher's) browser."""

    def __init__(self, socket, tally: Tally, query: str = ""):
        super().__init__(socket, query)
        self.tally = tally
        self.lab_busy = False  # the last run said the lab was busy
        self.teacher_count = -1  # a teacher's page: the answers its tally counts; -1: none drawn
        self.teacher_count_fragment = ""  # the fragment that draws that count

    async def send(self, state=None, fragment_id: str = "") -> bool:
        """Ask for a run (with one widget's new state, of one fragment); False when it did not
        finish successfully (counted). Raises TimeoutError after ANSWER_TIMEOUT."""
        self.lab_busy = False
        status = await self.run(state, fragment_id, timeout=ANSWER_TIMEOUT)
        if status not in wire.SUCCEEDED:
            self.tally.error("failed script run", f"status {status}")
            return False
        return True

    async def use(self, widget: wire.Widget, **value) -> bool:
        """`send` one widget's new value (`wire.widget_state`'s keywords) with the id of the
        fragment it lives in, as the browser does."""
        return await self.send(wire.widget_state(widget.id, **value), widget.fragment_id)

    def on_element(self, element, kind: str, fragment_id: str) -> None:
        if kind == "exception":
            self.tally.error("exception element", element.exception.message[:120])
        elif kind == "alert" and element.alert.format == ERROR_ALERT:
            self.tally.error("error message", element.alert.body[:120])
        elif kind == "alert" and element.alert.body == keys.LAB_BUSY:
            self.lab_busy = True
        elif kind == "markdown" and (counted := counts_in_tally_text(element.markdown.body)):
            self.teacher_count = counted[1]
            self.teacher_count_fragment = fragment_id


async def open_page(host, port, query: str, tally: Tally, browser_cookie: str = ""):
    """(websocket, StudentPage after its first run, cookie) of a page opened at `query`, with
    `browser_cookie` (the class room's browser identity) when the browser has one. Raises
    OSError when the page is not served or its first run fails."""
    status, cookie = await page_cookie(host, port, browser_cookie)
    if status != 200:
        raise OSError(f"/ -> {status}")
    socket = await wire.connect(host, port, cookie, ANSWER_TIMEOUT)
    page = StudentPage(socket, tally, query)
    if not await page.send():
        await socket.close()
        raise OSError("the page's first run failed")
    return socket, page, cookie


async def page_cookie(host, port, browser_cookie: str = "") -> tuple[int, str]:
    """(status, cookie) of fetching the page as a browser does first, which sets the load
    balancer's cookie (and the student's worker, STUDENT_WORKER, to blame its errors)."""
    status, cookies = await wire.http_get(host, port, "/")
    cookie = "; ".join([*cookies, browser_cookie] if browser_cookie else cookies)
    STUDENT_WORKER.set(cookie.partition("=")[2])
    return status, cookie


async def fetch_images(host, port, page: StudentPage, cookie: str) -> None:
    """Fetch the images the page shows by address, as a browser does (the page's own images
    come inline, as data URIs)."""
    for url in page.images:
        if url.startswith("data:"):
            continue
        status, _ = await wire.http_get(host, port, url, cookie)
        if status != 200:
            page.tally.error("image not served", f"{url} -> {status}")
