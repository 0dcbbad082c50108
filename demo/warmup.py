"""Open the page once on a Streamlit worker so that its first student does not wait for
TensorFlow's import and the models' loading.

    python -m demo.warmup 8502 [8503 ...]

Speaks Streamlit's websocket protocol with the libraries Streamlit itself depends on (websockets
and its protobufs): one session asks for a run of the page and waits until the run ends. Exits
with status 1, saying why, when a worker does not finish the run in time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

RUN_TIMEOUT = 300  # seconds: a cold worker imports TensorFlow and compiles the models


async def open_page(port: int, query: str = "") -> None:
    """One run of the page on the worker at 127.0.0.1:`port`; raises when it does not finish."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    address = f"ws://127.0.0.1:{port}/_stcore/stream"
    async with websockets.connect(address, subprotocols=["streamlit"], max_size=None) as socket:
        message = BackMsg()
        message.rerun_script.query_string = query
        await socket.send(message.SerializeToString())
        while True:
            answer = ForwardMsg()
            answer.ParseFromString(await socket.recv())
            if answer.WhichOneof("type") != "script_finished":
                continue
            if answer.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                return
            raise RuntimeError(f"the page's run on port {port} ended with status {answer}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ports", nargs="+", type=int, help="the workers' ports on 127.0.0.1")
    args = parser.parse_args(argv)

    async def all_ports():
        await asyncio.gather(*(open_page(port) for port in args.ports))

    try:
        asyncio.run(asyncio.wait_for(all_ports(), RUN_TIMEOUT))
    except (OSError, RuntimeError, TimeoutError, ConnectionError) as error:
        print(f"warmup: {error or type(error).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
