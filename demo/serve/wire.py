"""A Streamlit page spoken to over its websocket, as a browser does: open a session, ask for a
run (with the address's query string, one widget's new state, the id of the fragment to rerun),
and read what the server sends back until `script_finished`.

    _, cookies = await wire.http_get("127.0.0.1", 8501, "/")  # a load balancer's cookie
    socket = await wire.connect("127.0.0.1", 8501, "; ".join(cookies))
    page = wire.Session(socket, query="c0=frog&s0=3")
    status = await page.run()                         # the page's first run
    await page.interact(page.widgets[keys.RANDOM_COMPOSITE], trigger=True)

Only what Streamlit itself depends on (websockets and Streamlit's protobufs) is used, so this
runs wherever the server runs: `demo.warmup` on a deployed server, `bench/` on a developer's
machine. What a page's elements mean is the caller's: `Session` records the widgets (by key),
the images and the fragment timers a run drew, and hands every new element to `on_element`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

STREAM_PATH = "/_stcore/stream"
SUBPROTOCOL = "streamlit"
OPEN_TIMEOUT = 10.0  # seconds for the websocket's handshake (websockets' own default)
WIDGET_ID_PREFIX = "$$ID"  # Streamlit's widget ids: "$$ID-<hash>-<user key or None>"

# The statuses of `script_finished`, by name (ForwardMsg.ScriptFinishedStatus).
FINISHED = "FINISHED_SUCCESSFULLY"
FRAGMENT_FINISHED = "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"
EARLY_FOR_RERUN = "FINISHED_EARLY_FOR_RERUN"  # the run stopped; a newer one follows
SUCCEEDED = (FINISHED, FRAGMENT_FINISHED)


@dataclass(frozen=True)
class Widget:
    """A widget as the page last drew it."""

    id: str  # the id its state is sent under
    kind: str  # its element's type: "slider", "button", "button_group" (pills), ...
    fragment_id: str  # the fragment it lives in; "" outside any


def widget_key(widget_id: str) -> str | None:
    """The key a widget was given (`key=`), from its id; None for a widget without one."""
    prefix, _, rest = widget_id.partition("-")
    key = rest.partition("-")[2]
    return key if prefix == WIDGET_ID_PREFIX and key not in ("", "None") else None


def widget_state(
    widget_id: str,
    *,
    trigger: bool = False,
    doubles: list[float] | None = None,
    strings: list[str] | None = None,
    json_text: str | None = None,
    text: str | None = None,
):
    """A WidgetState as the browser sends it: a button's click (`trigger`), a slider's values
    (`doubles`), the choices of pills or a multiselect (`strings`), a component's state as JSON
    (`json_text`), a text input's value (`text`)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    state = WidgetState(id=widget_id)
    if trigger:
        state.trigger_value = True
    elif doubles is not None:
        state.double_array_value.data.extend(doubles)
    elif strings is not None:
        state.string_array_value.data.extend(strings)
    elif json_text is not None:
        state.json_value = json_text
    elif text is not None:
        state.string_value = text
    return state


def rerun_request(
    query: str = "", state=None, fragment_id: str = "", page: str = "", page_hash: str = ""
) -> bytes:
    """The BackMsg that asks for a run of a page (or of one fragment): the page the server last
    said this session is on (`page_hash`), else the page of the address's path (`page`, e.g.
    "room"; "" for the default page), as a browser asks."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    message = BackMsg()
    message.rerun_script.query_string = query
    if page_hash:
        message.rerun_script.page_script_hash = page_hash
    else:
        message.rerun_script.page_name = page
    if state is not None:  # one widget's state, or a form's (a list)
        message.rerun_script.widget_states.widgets.extend(
            state if isinstance(state, list) else [state]
        )
    message.rerun_script.fragment_id = fragment_id
    return message.SerializeToString()


async def http_get(
    host: str, port: int, path: str, cookie: str = "", local_address: str | None = None
) -> tuple[int, list[str]]:
    """(status, Set-Cookie values) of a plain HTTP/1.1 GET from `local_address` (default: any);
    the body is read and dropped."""
    local = (local_address, 0) if local_address else None
    reader, writer = await asyncio.open_connection(host, port, local_addr=local)
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


async def connect(
    host: str,
    port: int,
    cookie: str = "",
    open_timeout: float = OPEN_TIMEOUT,
    local_address: str | None = None,
    headers: dict | None = None,
):
    """The page's websocket (usable as `async with`), sending `cookie` and `headers` as a
    browser would, from `local_address` (default: any; e.g. "127.0.0.2", a second client)."""
    import websockets

    return await websockets.connect(
        f"ws://{host}:{port}{STREAM_PATH}",
        subprotocols=[SUBPROTOCOL],
        additional_headers={**({"Cookie": cookie} if cookie else {}), **(headers or {})},
        max_size=None,
        open_timeout=open_timeout,
        local_addr=(local_address, 0) if local_address else None,
    )


def dropped() -> tuple[type[BaseException], ...]:
    """The errors of a socket that dropped or never opened."""
    import websockets

    return (OSError, websockets.ConnectionClosed)


class Session:
    """One page's session on its websocket: asks for runs and reads the page back as it comes."""

    def __init__(self, socket, query: str = "", page: str = ""):
        self.socket = socket
        self.query = query  # the address's query string, as the page last set it
        self.page = page  # the address's path: the page a first run asks for ("" the default)
        self.page_hash = ""  # the page the server last said the session is on
        self.session_id = ""  # the server's id of this session (its uploads are filed under it)
        self.widgets: dict[str, Widget] = {}  # key -> the widget, as the page last drew it
        self.images: list[str] = []  # addresses of the images the last run drew
        self.timers: dict[str, float] = {}  # fragment id -> seconds between its automatic runs

    async def run(
        self,
        state=None,
        fragment_id: str = "",
        *,
        timeout: float | None = None,
        past_reruns: bool = True,
    ) -> str:
        """Ask for a run (with one widget's new `state`, of one fragment) and read until it
        ends; returns the status it ended with (`SUCCEEDED` holds the good ones). A run stopped
        early for a newer one (the page called st.rerun) is read past, as a browser waits for
        the newer run, unless `past_reruns` is false. Raises TimeoutError after `timeout` s."""
        self.images = []
        request = rerun_request(self.query, state, fragment_id, self.page, self.page_hash)
        await self.socket.send(request)
        return await asyncio.wait_for(self.finished(past_reruns), timeout)

    async def interact(self, widget: Widget, *, timeout: float | None = None, **value) -> str:
        """Send `widget`'s new value (`widget_state`'s keywords) with the id of the fragment it
        lives in, as the browser does, and read until the run ends."""
        state = widget_state(widget.id, **value)
        return await self.run(state, widget.fragment_id, timeout=timeout)

    async def finished(self, past_reruns: bool = True) -> str:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            message = ForwardMsg()
            message.ParseFromString(await self.socket.recv())
            kind = message.WhichOneof("type")
            if kind == "delta":
                self.read_delta(message.delta)
            elif kind == "new_session":
                self.session_id = message.new_session.initialize.session_id
            elif kind == "page_info_changed":
                self.query = message.page_info_changed.query_string
            elif kind == "navigation":  # the page this run draws (st.switch_page may move it)
                self.page_hash = message.navigation.page_script_hash
            elif kind == "auto_rerun":  # a fragment on a timer: the browser reruns it
                self.timers[message.auto_rerun.fragment_id] = message.auto_rerun.interval
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
                if status != EARLY_FOR_RERUN or not past_reruns:
                    return status

    def read_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return
        if kind == "imgs":
            self.images.extend(image.url for image in element.imgs.imgs)
        body = getattr(element, kind)
        if "id" in body.DESCRIPTOR.fields_by_name and (key := widget_key(body.id)):
            self.widgets[key] = Widget(body.id, kind, delta.fragment_id)
        self.on_element(element, kind, delta.fragment_id)

    def on_element(self, element, kind: str, fragment_id: str) -> None:
        """Called with every new element a run draws; for what a caller looks for on the page."""
