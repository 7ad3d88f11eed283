"""Serve one benchmark app with uvicorn: 1 worker, no access log, uvloop and httptools if there.

``python -m benchmarks.serve MODULE:APP --lifespan on|auto --port-file FILE`` binds 127.0.0.1
on a free port, writes the port to FILE, then serves (the socket listens from the start, so a
request sent early waits in the backlog until startup is complete).
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
from pathlib import Path

import uvicorn


def loop_and_http() -> tuple[str, str]:
    """The fastest event loop and HTTP parser uvicorn can use here."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("app")
    parser.add_argument("--lifespan", choices=["on", "auto", "off"], default="on")
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    tmp.replace(args.port_file)

    loop, http = loop_and_http()
    config = uvicorn.Config(
        args.app,
        loop=loop,
        http=http,
        lifespan=args.lifespan,
        access_log=False,
        log_level="warning",
        workers=1,
        backlog=4096,
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
