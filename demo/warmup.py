"""Open the page once on a Streamlit worker so that its first student does not wait for
TensorFlow's import and the models' loading.

    python -m demo.warmup 8502 [8503 ...]

Speaks Streamlit's websocket protocol with the libraries Streamlit itself depends on (websockets
and its protobufs, through `demo.serve.wire`): one session asks for a run of the page and waits
until the run ends. Exits with status 1, saying why, when a worker does not finish the run in time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from demo.serve import wire

RUN_TIMEOUT = 300  # seconds: a cold worker imports TensorFlow and compiles the models


async def open_page(port: int, query: str = "") -> None:
    """One run of the page on the worker at 127.0.0.1:`port`; raises when it does not finish."""
    async with await wire.connect("127.0.0.1", port) as socket:
        status = await wire.Session(socket, query).run(past_reruns=False)
        if status != wire.FINISHED:
            raise RuntimeError(f"the page's run on port {port} ended with status {status}")


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
