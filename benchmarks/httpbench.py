"""Machinery of the HTTP benchmarks: pinned processes, the upstream, the servers, the load.

Each measured run starts a fresh server process for one variant, waits until it answers,
warms it up, measures, stops it, and reads how many connections the upstream accepted while
it lived. Processes are pinned with ``taskset -c`` (``sched_setaffinity`` where ``taskset`` is
missing): the server alone on CPU 0; the load generator, the upstream and this orchestrator on
CPU 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU = 0
LOAD_CPU = 1
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Dev mode and warnings-as-errors (the test sessions' setting) slow asyncio down by a lot.
_DROPPED_ENV = ("PYTHONDEVMODE", "PYTHONWARNINGS", "PYTHONASYNCIODEBUG")


@dataclass(frozen=True)
class Variant:
    """One server configuration: which app, which settings, which URL path."""

    key: str
    label: str
    app: str
    path: str
    lifespan: str = "on"
    settings: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # more environment for the server process


@dataclass
class Run:
    """One measured run of one variant (latencies in milliseconds, CPU as a share of a core)."""

    variant: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    non_2xx: int
    warmup_rps: float
    server_cpu: float
    server_cpu_us_per_request: float
    foreign_cpu: float
    upstream_cpu: float
    loadgen_cpu: float
    upstream_connections: int
    upstream_requests: int
    window_connections: int
    window_requests: int
    exit_code: int | None
    server_cpus_allowed: str
    warmup_requests: int = 0
    load_core_busy: float = 0.0  # CPU 1 (load generator, upstream, database) busy share
    attempts: int = 1
    stderr_tail: list[str] = field(default_factory=list)  # the server's log (warnings and up)
    extra: dict[str, Any] = field(default_factory=dict)  # what a Watch observed


class Watch(Protocol):
    """Something observed around each server's life (database connections, threads)."""

    def before_start(self) -> None: ...

    def watch(self, server_pid: int) -> None: ...

    def after_stop(self) -> dict[str, Any]: ...


# Read once: pin_self() narrows this process's own affinity later.
_USABLE_CPUS = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()


def can_pin() -> bool:
    return {SERVER_CPU, LOAD_CPU} <= _USABLE_CPUS


def pinning_description() -> str:
    if not can_pin():
        return "not pinned (fewer than 2 CPUs available)"
    how = "taskset -c" if shutil.which("taskset") else "os.sched_setaffinity"
    return (
        f"{how}: server alone on CPU {SERVER_CPU}; load generator, upstream and the "
        f"orchestrator on CPU {LOAD_CPU}"
    )


def pin_self() -> None:
    """Keep the orchestrator (mostly idle while the load runs) off the server's CPU."""
    if can_pin():
        os.sched_setaffinity(0, {LOAD_CPU})


def pinned(command: list[str], cpu: int) -> list[str]:
    if not can_pin():
        return command
    if shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *command]
    return command  # pinned in preexec instead


def preexec(cpu: int) -> Any:
    if not can_pin() or shutil.which("taskset"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra or {})
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (all its threads)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def cpu_busy_seconds(cpu: int) -> float:
    """Time one CPU spent on anything but idling, since boot (from /proc/stat)."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            ticks = [int(value) for value in line.split()[1:]]
            idle = ticks[3] + ticks[4]  # idle + iowait
            return (sum(ticks[:8]) - idle) / _CLOCK_TICKS
    return 0.0


def cpus_allowed(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return "?"


def _wait_for_file(path: Path, process: subprocess.Popen[Any], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        if process.poll() is not None:
            break
        time.sleep(0.02)
    raise RuntimeError(f"{process.args} did not write {path} within {timeout} s")


def _stop(process: subprocess.Popen[Any], timeout: float = 30) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


class Upstream:
    """The upstream process (``benchmarks.upstream``), pinned to the load generator's CPU."""

    def __init__(self, workdir: Path) -> None:
        port_file = workdir / "upstream.port"
        self.log = workdir / "upstream.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                pinned(
                    [sys.executable, "-m", "benchmarks.upstream", "--port-file", str(port_file)],
                    LOAD_CPU,
                ),
                env=child_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec(LOAD_CPU),
            )
        ports = json.loads(_wait_for_file(port_file, self.process, 30))
        self.url = f"http://127.0.0.1:{ports['data']}"
        self._stats_url = f"http://127.0.0.1:{ports['control']}/stats"

    def stats(self) -> tuple[int, int]:
        """(connections accepted, requests served) so far on the data port."""
        with urllib.request.urlopen(self._stats_url, timeout=10) as response:
            data = json.load(response)
        return data["connections"], data["requests"]

    def close(self) -> None:
        _stop(self.process)


@contextmanager
def running_upstream(workdir: Path) -> Iterator[Upstream]:
    upstream = Upstream(workdir)
    try:
        yield upstream
    finally:
        upstream.close()


@contextmanager
def running_server(variant: Variant, upstream: Upstream | None, workdir: Path) -> Iterator[Server]:
    server = Server(variant, upstream, workdir)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


class Server:
    """One uvicorn process serving one variant, alone on the server CPU."""

    def __init__(self, variant: Variant, upstream: Upstream | None, workdir: Path) -> None:
        self.variant = variant
        port_file = workdir / f"server-{variant.key}.port"
        port_file.unlink(missing_ok=True)
        self.log = workdir / f"server-{variant.key}.log"
        extra = dict(variant.env)
        if upstream is not None:
            extra["BENCH_UPSTREAM_URL"] = upstream.url
        if variant.settings:
            extra["DJANGO_SETTINGS_MODULE"] = variant.settings
        command = [
            sys.executable,
            "-m",
            "benchmarks.serve",
            variant.app,
            "--lifespan",
            variant.lifespan,
            "--port-file",
            str(port_file),
        ]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                pinned(command, SERVER_CPU),
                env=child_env(extra),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=preexec(SERVER_CPU),
            )
        port = int(_wait_for_file(port_file, self.process, 60))
        self.url = f"http://127.0.0.1:{port}{variant.path}"
        self.exit_code: int | None = None

    def wait_ready(self, timeout: float = 60) -> None:
        """One request, answered once startup is done (it waits in the listen backlog)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url, timeout=timeout) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                last = exc
                time.sleep(0.1)
        raise RuntimeError(
            f"server for {self.variant.key} not ready: {last}; log:\n{self.log.read_text()}"
        )

    def stop(self) -> None:
        self.exit_code = _stop(self.process)

    def stderr_tail(self, lines: int = 5) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()[-lines:]


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match[1]) * _WRK_UNITS[match[2]]


def parse_wrk(output: str) -> dict[str, Any]:
    """The numbers of a ``wrk --latency`` report."""
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", output, re.MULTILINE))
    requests = re.search(r"^\s+(\d+) requests in ([\d.]+)(\w+),", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not (requests and rate and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"could not parse the wrk report:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests": int(requests[1]),
        "rps": float(rate[1]),
        "p50_ms": _wrk_ms(percentiles["50"]),
        "p99_ms": _wrk_ms(percentiles["99"]),
        "errors": errors,
        "non_2xx": int(non_2xx[1]) if non_2xx else 0,
    }


class LoadGenerator:
    """``wrk`` (1 thread) if installed, else ``benchmarks.loadgen``: fixed concurrency."""

    def __init__(self, connections: int, prefer: str = "auto") -> None:
        self.connections = connections
        self.wrk = shutil.which("wrk") if prefer in ("auto", "wrk") else None
        if prefer == "wrk" and not self.wrk:
            raise RuntimeError("--loadgen wrk: wrk is not installed")

    def describe(self) -> str:
        if self.wrk:
            version = subprocess.run(
                [self.wrk, "-v"], capture_output=True, text=True, check=False
            ).stdout.split("\n", 1)[0]
            return f"{version.split(' Copyright')[0].strip()} (-t1 -c{self.connections} --latency)"
        return f"benchmarks.loadgen (python, -c{self.connections})"

    def run(self, url: str, seconds: int) -> dict[str, Any]:
        """Load ``url`` for ``seconds``; the result includes the generator's CPU share."""
        if self.wrk:
            command = [
                self.wrk,
                "-t1",
                f"-c{self.connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "--latency",
                url,
            ]
        else:
            command = [
                sys.executable,
                "-m",
                "benchmarks.loadgen",
                url,
                "-c",
                str(self.connections),
                "-d",
                str(seconds),
            ]
        began = time.perf_counter()
        process = subprocess.Popen(
            pinned(command, LOAD_CPU),
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec(LOAD_CPU),
        )
        assert process.stdout is not None
        assert process.stderr is not None
        output, error = process.stdout.read(), process.stderr.read()
        # wait4, not wait: it also returns the child's own CPU usage.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - began
        if process.returncode != 0:
            raise RuntimeError(f"{command} failed ({process.returncode}):\n{output}\n{error}")
        result = parse_wrk(output) if self.wrk else json.loads(output)
        if not result["requests"]:
            raise RuntimeError(f"{command} completed no request:\n{output}\n{error}")
        result["loadgen_cpu"] = (usage.ru_utime + usage.ru_stime) / elapsed
        return result


def run_module(module: str, quick: bool, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Run an in-process benchmark module in a process of its own, on the server's CPU."""
    command = [sys.executable, "-m", module, *(["--quick"] if quick else [])]
    completed = subprocess.run(
        pinned(command, SERVER_CPU),
        env=child_env(env),
        capture_output=True,
        text=True,
        preexec_fn=preexec(SERVER_CPU),
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


def measure_quietly(
    variant: Variant,
    round_: int,
    upstream: Upstream | None,
    load: LoadGenerator,
    workdir: Path,
    *,
    warmup: int,
    seconds: int,
    retries: int,
    noise: float,
    watch: Watch | None = None,
) -> Run:
    """Measure; while other work took more than ``noise`` of the server's CPU, measure again.

    At most ``retries`` times; the least disturbed attempt is kept. A noisy neighbour slows a
    Django server (which hands every request to threads) far more than its CPU share.
    """
    best: Run | None = None
    for attempt in range(1 + retries):
        run = measure(
            variant, round_, upstream, load, workdir, warmup=warmup, seconds=seconds, watch=watch
        )
        if best is None or run.foreign_cpu < best.foreign_cpu:
            best = run
        best.attempts = attempt + 1
        if run.foreign_cpu <= noise:
            break
    assert best is not None
    return best


def _upstream_stats(upstream: Upstream | None) -> tuple[int, int]:
    return upstream.stats() if upstream is not None else (0, 0)


def _upstream_cpu(upstream: Upstream | None) -> float:
    return cpu_seconds(upstream.process.pid) if upstream is not None else 0.0


def measure(
    variant: Variant,
    round_: int,
    upstream: Upstream | None,
    load: LoadGenerator,
    workdir: Path,
    *,
    warmup: int,
    seconds: int,
    watch: Watch | None = None,
) -> Run:
    """Start the variant's server, warm it up, measure it, stop it; count upstream connections.

    A ``watch`` is told before the server starts, once it answers, and after it stopped.
    """
    connections_before, requests_before = _upstream_stats(upstream)
    if watch is not None:
        watch.before_start()
    try:
        with running_server(variant, upstream, workdir) as server:
            if watch is not None:
                watch.watch(server.process.pid)
            allowed = cpus_allowed(server.process.pid)
            warm = load.run(server.url, warmup)
            window_connections, window_requests = _upstream_stats(upstream)
            server_cpu = cpu_seconds(server.process.pid)
            upstream_cpu = _upstream_cpu(upstream)
            core_busy = cpu_busy_seconds(SERVER_CPU)
            load_busy = cpu_busy_seconds(LOAD_CPU)
            began = time.perf_counter()
            result = load.run(server.url, seconds)
            elapsed = time.perf_counter() - began
            server_seconds = cpu_seconds(server.process.pid) - server_cpu
            # Anything else that ran on the server's CPU meanwhile: other tenants' noise.
            foreign = cpu_busy_seconds(SERVER_CPU) - core_busy - server_seconds
            load_busy = (cpu_busy_seconds(LOAD_CPU) - load_busy) / elapsed
            upstream_cpu = (_upstream_cpu(upstream) - upstream_cpu) / elapsed
            connections, requests = _upstream_stats(upstream)
    except BaseException:
        if watch is not None:
            with suppress(Exception):  # the failure that matters is the one propagating
                watch.after_stop()
        raise
    extra = watch.after_stop() if watch is not None else {}
    connections_after, requests_after = _upstream_stats(upstream)
    return Run(
        variant=variant.key,
        round=round_,
        rps=result["rps"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        requests=result["requests"],
        errors=result["errors"],
        non_2xx=result["non_2xx"],
        warmup_rps=warm["rps"],
        server_cpu=server_seconds / elapsed,
        server_cpu_us_per_request=server_seconds / max(result["requests"], 1) * 1e6,
        foreign_cpu=max(foreign, 0.0) / elapsed,
        upstream_cpu=upstream_cpu,
        loadgen_cpu=result["loadgen_cpu"],
        upstream_connections=connections_after - connections_before,
        upstream_requests=requests_after - requests_before,
        window_connections=connections - window_connections,
        window_requests=requests - window_requests,
        exit_code=server.exit_code,
        server_cpus_allowed=allowed,
        warmup_requests=warm["requests"],
        load_core_busy=load_busy,
        stderr_tail=server.stderr_tail(),
        extra=extra,
    )
