"""The upstream of the proxy benchmark: an aiohttp server returning a 64-byte body.

It runs as a process of its own (``python -m benchmarks.upstream --port-file FILE``) and counts
the TCP connections it accepts on its data port. ``GET /stats`` on a second, control port
reports them (and the requests served), so that asking does not itself open a counted
connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

BODY = b"0123456789abcdef" * 4  # 64 bytes


class Counters:
    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(port_file: Path) -> None:
    counters = Counters()

    async def data(request: web.Request) -> web.Response:
        counters.requests += 1
        return web.Response(body=BODY, content_type="application/octet-stream")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {"connections": counters.connections, "requests": counters.requests}
        )

    data_app = web.Application()
    data_app.router.add_get("/bytes", data)
    control_app = web.Application()
    control_app.router.add_get("/stats", stats)

    data_runner = web.AppRunner(data_app, access_log=None)
    control_runner = web.AppRunner(control_app, access_log=None)
    await data_runner.setup()
    await control_runner.setup()
    assert data_runner.server is not None
    handler_factory = data_runner.server

    def counting_factory() -> Any:
        counters.connections += 1
        return handler_factory()

    loop = asyncio.get_running_loop()
    data_sock, control_sock = _listening_socket(), _listening_socket()
    data_server = await loop.create_server(counting_factory, sock=data_sock)
    control_site = web.SockSite(control_runner, control_sock)
    await control_site.start()

    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ports = {"data": data_sock.getsockname()[1], "control": control_sock.getsockname()[1]}
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(ports))
    tmp.replace(port_file)  # the reader never sees a half-written file
    await stop.wait()
    data_server.close()
    await data_runner.cleanup()
    await control_runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port_file))
    else:
        uvloop.run(serve(args.port_file))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
