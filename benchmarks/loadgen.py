"""A closed-loop HTTP/1.1 load generator, for machines without ``wrk``.

``python -m benchmarks.loadgen URL -c 64 -d 10`` keeps 64 keep-alive connections busy for 10 s
and prints one JSON line: requests, rate, latency percentiles, errors and its own CPU time (so
the report can show whether the generator itself was the bottleneck). It is built on asyncio
protocols (uvloop if installed), parses only what it needs (status, Content-Length or a chunked
body) and does a few tens of thousands of requests per second on one core: well above what the
servers under test do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any, cast
from urllib.parse import urlsplit


class _Connection(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.started = 0
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.buffer.clear()
        self.started = time.perf_counter_ns()
        self.transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        body = len(self.buffer) - end - 4
        marker = b"\r\ncontent-length:"
        at = head.find(marker)
        if at >= 0:
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + len(marker) : stop if stop >= 0 else None])
            if body < length:
                return
        elif b"transfer-encoding: chunked" in head and not self.buffer.endswith(b"0\r\n\r\n"):
            return
        self.run.record(head, time.perf_counter_ns() - self.started)
        if time.perf_counter() < self.run.deadline:
            self._send()
        else:
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.perf_counter() < self.run.deadline:
            self.run.errors += 1
        if not self.closed.done():
            self.closed.set_result(None)


class _Run:
    def __init__(self, url: str, duration: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self.request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
        self.deadline = time.perf_counter() + duration
        self.latencies: list[int] = []
        self.non_2xx = 0
        self.errors = 0

    def record(self, head: bytes, nanoseconds: int) -> None:
        self.latencies.append(nanoseconds)
        if not head.startswith(b"http/1.1 2"):
            self.non_2xx += 1


def _percentile(ordered: list[int], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


async def load(url: str, connections: int, duration: float) -> dict[str, Any]:
    """Run the load and return its summary (latencies in milliseconds)."""
    loop = asyncio.get_running_loop()
    cpu, began = time.process_time(), time.perf_counter()
    run = _Run(url, duration)
    protocols: list[_Connection] = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(lambda: _Connection(run), run.host, run.port)
        protocols.append(protocol)
    await asyncio.wait([p.closed for p in protocols], timeout=duration + 30)
    elapsed = time.perf_counter() - began
    ordered = sorted(run.latencies)
    return {
        "requests": len(ordered),
        "seconds": elapsed,
        "rps": len(ordered) / elapsed,
        "p50_ms": _percentile(ordered, 0.50),
        "p99_ms": _percentile(ordered, 0.99),
        "non_2xx": run.non_2xx,
        "errors": run.errors,
        "cpu_seconds": time.process_time() - cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    args = parser.parse_args()
    coroutine = load(args.url, args.connections, args.duration)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(coroutine)
    else:
        result = uvloop.run(coroutine)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
