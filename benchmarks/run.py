"""Run every benchmark of issues #6 and #7, print one table, write ``benchmarks/results/``.

``python -m benchmarks.run`` (what ``nox -s bench`` runs) or ``python -m benchmarks.run --quick``
for a smoke run of a few seconds per variant. Sections:

1. proxy: a view that fetches a 64-byte body from a local aiohttp upstream, five ways with
   aiohttp and two with httpx (a shared ``AsyncClient`` injected, and one per request);
2. handler: a constant-response async view under Django's ASGIHandler and ours;
3. injection: ns per call of an injected async view, in process;
4. lifecycle: start and stop of 10 independent resources of 100 ms each;
5. threads: reusable request threads (REQUEST_THREADS) off and on against Django's handler, on
   a constant async view and on a one-query ORM view over a PostgreSQL the benchmark starts.

The HTTP sections restart the server for every run, warm it up, then measure with ``wrk`` (or
``benchmarks.loadgen``) at fixed concurrency; the variants are interleaved, round after round,
in a rotating order, so that drift of a noisy machine spreads over all of them.

A run of some sections (``--only``) keeps the other sections of ``results/latest.json``, each
with the date and machine of the run that measured it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import httpbench, inject_cost, machine, postgres
from benchmarks.apps.sessions import POOL_SIZE
from benchmarks.apps.settings_threads import REQUEST_THREADS
from benchmarks.httpbench import Variant
from benchmarks.serve import loop_and_http

RESULTS = Path(__file__).resolve().parent / "results"
_STOCK_APP = "benchmarks.apps.asgi_stock:application"
_OURS_APP = "benchmarks.apps.asgi_lifespan:application"
_PLAIN = "benchmarks.apps.settings_plain"
_DI = "benchmarks.apps.settings_di"
_THREADS = "benchmarks.apps.settings_threads"
_ORM = "benchmarks.apps.settings_orm"
_ORM_THREADS = "benchmarks.apps.settings_orm_threads"

_FASTAPI_APP = "benchmarks.apps.fastapi_app:app"
_RAW_APP = "benchmarks.apps.raw_asgi:app"

PROXY = [
    Variant(
        "a", "a. Django, new ClientSession per request", _STOCK_APP, "/per-request", "auto", _PLAIN
    ),
    Variant("b", "b. Django, module-global session + Lock", _STOCK_APP, "/global", "auto", _PLAIN),
    Variant("c", "c. Django + django-lifespan-di", _OURS_APP, "/injected", "on", _DI),
    Variant("d", "d. FastAPI, lifespan session + Depends", _FASTAPI_APP, "/proxy"),
    Variant("e", "e. raw ASGI, global session (ceiling)", _RAW_APP, "/proxy"),
    Variant("f", "f. Django + django-lifespan-di, httpx", _OURS_APP, "/injected-httpx", "on", _DI),
    Variant(
        "g",
        "g. Django, new httpx.AsyncClient per request",
        _STOCK_APP,
        "/per-request-httpx",
        "auto",
        _PLAIN,
    ),
]
HANDLER = [
    Variant("stock", "Django ASGIHandler (stock)", _STOCK_APP, "/const", "auto", _DI),
    Variant("ours", "LifespanASGIHandler (ours)", _OURS_APP, "/const", "on", _DI),
]
SAME_PROCESS_TARGETS = (("constant", "our handler / stock handler"), ("proxy", "(c)/(b)"))
ROUNDS_FACTOR = {"proxy": 2, "handler": 3}
"""These sections run this many times ``--rounds``: their targets compare two variants whose
runs land in throughput modes several percent apart (a fresh server each run, whatever the
code), so they take the median of the per-round ratios, over more rounds."""
PAIRED = "median of per-round ratios"
THROUGHPUT_TARGET = f"(c)/(b) throughput ({PAIRED})"
P99_TARGET = f"(c)/(b) p99 latency ({PAIRED})"
HANDLER_TARGET = f"our handler / stock handler, constant view ({PAIRED})"
CONN_MAX_AGES = (0, 60)
DEFAULT_MAX_IDLE = 16  # the library's default


def threads_variants(connections: int, cluster: postgres.Cluster | None) -> list[Variant]:
    """Section 5: stock, ours off, ours on with the default MAX_IDLE and with a sized one.

    The sized MAX_IDLE is twice the load's connections: a connection's next request starts as
    soon as the response is sent, while the previous request still runs its post-response
    work (``response.close()``, ``request_finished``) on its thread, so up to about two
    requests per connection hold a thread. The constant view always; the ORM view, for each
    CONN_MAX_AGE, when ``cluster`` runs.
    """
    sized = 2 * connections
    kinds = [
        ("stock", "Django ASGIHandler (stock)", _STOCK_APP, "auto", False, ()),
        ("off", "ours, REQUEST_THREADS off", _OURS_APP, "on", False, ()),
        (
            "on",
            f"ours, REQUEST_THREADS on (default MAX_IDLE {DEFAULT_MAX_IDLE})",
            _OURS_APP,
            "on",
            True,
            (("BENCH_MAX_IDLE", str(DEFAULT_MAX_IDLE)),),
        ),
        (
            f"on{sized}",
            f"ours, REQUEST_THREADS on, MAX_IDLE {sized}",
            _OURS_APP,
            "on",
            True,
            (("BENCH_MAX_IDLE", str(sized)),),
        ),
    ]
    variants = [
        Variant(
            f"const-{kind}",
            f"constant view, {label}",
            app,
            "/const",
            lifespan,
            _THREADS if threads else _DI,
            env=env,
        )
        for kind, label, app, lifespan, threads, env in kinds
    ]
    if cluster is not None:
        variants += [
            Variant(
                f"orm{age}-{kind}",
                f"ORM view, CONN_MAX_AGE={age}, {label}",
                app,
                "/item",
                lifespan,
                _ORM_THREADS if threads else _ORM,
                env=(*cluster.django_env().items(), ("BENCH_CONN_MAX_AGE", str(age)), *env),
            )
            for age in CONN_MAX_AGES
            for kind, label, app, lifespan, threads, env in kinds
        ]
    return variants


SECTIONS = ("inject", "lifecycle", "proxy", "handler", "threads")
# The results' key of each section (the order they are run, and listed in the targets).
_RESULT_KEYS = {
    "inject": "injection",
    "lifecycle": "lifecycle",
    "proxy": "proxy",
    "handler": "handler",
    "threads": "threads",
}


@dataclasses.dataclass(frozen=True)
class Settings:
    quick: bool
    rounds: int
    warmup: int
    seconds: int
    connections: int
    loadgen: str
    sections: tuple[str, ...]
    retries: int
    noise: float


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _run_http(
    variants: list[Variant],
    settings: Settings,
    upstream: httpbench.Upstream | None,
    load: httpbench.LoadGenerator,
    workdir: Path,
    name: str,
    watch: httpbench.Watch | None = None,
) -> dict[str, list[httpbench.Run]]:
    runs: dict[str, list[httpbench.Run]] = {variant.key: [] for variant in variants}
    for round_ in range(settings.rounds):
        shift = round_ % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            run = httpbench.measure_quietly(
                variant,
                round_,
                upstream,
                load,
                workdir,
                warmup=settings.warmup,
                seconds=settings.seconds,
                retries=settings.retries,
                noise=settings.noise,
                watch=watch,
            )
            runs[variant.key].append(run)
            seen = (
                f"  upstream conns {run.upstream_connections}"
                if upstream is not None
                else "".join(f"  {key} {value}" for key, value in run.extra.items())
            )
            _progress(
                f"{name} round {round_ + 1}/{settings.rounds} {variant.key}: {run.rps:8.0f} req/s"
                f"  p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:7.2f} ms"
                + (f"  errors {run.errors + run.non_2xx}" if run.errors + run.non_2xx else "")
                + seen
                + f"  other work on CPU {httpbench.SERVER_CPU} {run.foreign_cpu:.0%}"
                + (f" (best of {run.attempts} attempts)" if run.attempts > 1 else "")
            )
    return runs


def _summarize_http(
    variants: list[Variant], runs: dict[str, list[httpbench.Run]]
) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for variant in variants:
        mine = runs[variant.key]
        upstream_requests = sum(run.upstream_requests for run in mine)
        summary[variant.key] = {
            "label": variant.label,
            "app": variant.app,
            "path": variant.path,
            "settings": variant.settings,
            "env": {k: v for k, v in variant.env if not k.startswith("BENCH_PG_")},
            "rps": _spread([run.rps for run in mine]),
            "p50_ms": _spread([run.p50_ms for run in mine]),
            "p99_ms": _spread([run.p99_ms for run in mine]),
            "upstream_connections_per_run": [run.upstream_connections for run in mine],
            "upstream_requests_per_run": [run.upstream_requests for run in mine],
            # Over each server's whole life: every connection it opened, every request it made.
            "connections_per_upstream_request": (
                sum(run.upstream_connections for run in mine) / upstream_requests
                if upstream_requests
                else None
            ),
            "server_cpu": statistics.median(run.server_cpu for run in mine),
            "server_cpu_us_per_request": _spread([run.server_cpu_us_per_request for run in mine]),
            "foreign_cpu": statistics.median(run.foreign_cpu for run in mine),
            "load_cpu": statistics.median(run.upstream_cpu + run.loadgen_cpu for run in mine),
            "errors": sum(run.errors + run.non_2xx for run in mine),
            "load_core_busy": statistics.median(run.load_core_busy for run in mine),
            "runs": [dataclasses.asdict(run) for run in mine],
        }
        observed = {key for run in mine for key in run.extra}
        for key in sorted(observed):
            summary[variant.key][f"{key}_per_run"] = [run.extra.get(key) for run in mine]
        if "db_sessions" in observed:
            # The readiness probe and what wrk counted (not the requests in flight as it stops).
            served = sum(run.requests + run.warmup_requests + 1 for run in mine)
            sessions = sum(run.extra.get("db_sessions", 0) for run in mine)
            summary[variant.key]["db_sessions_per_request"] = sessions / served
    return summary


def _paired(
    runs: dict[str, list[httpbench.Run]], key: str, base: str, metric: str
) -> dict[str, float]:
    """Ratio of the medians; the median and range of the per-round ratios (the runs of a round
    are measured next to each other)."""
    mine = [getattr(run, metric) for run in runs[key]]
    theirs = [getattr(run, metric) for run in runs[base]]
    per_round = [m / t for m, t in zip(mine, theirs, strict=True)]
    return {
        "ratio": statistics.median(mine) / statistics.median(theirs),
        "paired_median": statistics.median(per_round),
        "min": min(per_round),
        "max": max(per_round),
    }


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _target(
    section: str, name: str, measured: str, target: str, met: bool | None
) -> dict[str, Any]:
    """A target of ``section`` (a results key); ``met`` is None when it could not be measured."""
    return {"section": section, "name": name, "measured": measured, "target": target, "met": met}


def run_all(settings: Settings) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    started = time.time()
    result: dict[str, Any] = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if settings.quick else "full",
        "machine": machine.describe(root),
        "sections": {},
        "targets": [],
    }
    httpbench.pin_self()
    loop, http = loop_and_http()
    sections = result["sections"]
    targets = result["targets"]

    if "inject" in settings.sections:
        _progress("injection cost (in process) ...")
        injection = httpbench.run_module("benchmarks.inject_cost", settings.quick)
        sections["injection"] = injection
        overhead = injection["ours_overhead_ns"]
        targets.append(
            _target(
                "injection",
                "injection overhead of one LifespanResource",
                f"{overhead:.0f} ns",
                "<= 1000 ns",
                overhead <= 1000,
            )
        )
        ratio = injection["stock_async_over_ours"]
        targets.append(
            _target(
                "injection",
                "stock async Resource overhead / ours",
                f"{ratio:.1f}x",
                ">= 25x",
                ratio >= 25,
            )
        )

    if "lifecycle" in settings.sections:
        _progress("startup/shutdown of 10 x 100 ms resources ...")
        lifecycle = httpbench.run_module("benchmarks.lifecycle_cost", settings.quick)
        sections["lifecycle"] = lifecycle
        for phase in ("startup", "shutdown"):
            ms = lifecycle[f"ours_{phase}"]["ms"]
            targets.append(
                _target(
                    "lifecycle",
                    f"Lifecycle {phase}, 10 x 100 ms",
                    f"{ms:.0f} ms",
                    "< 300 ms",
                    ms < 300,
                )
            )

    http_sections = [s for s in ("proxy", "handler", "threads") if s in settings.sections]
    if http_sections:
        load = httpbench.LoadGenerator(settings.connections, settings.loadgen)
        result["method"] = {
            "server": f"uvicorn, 1 worker, no access log, loop={loop}, http={http}",
            "load_generator": load.describe(),
            "connections": settings.connections,
            "warmup_s": settings.warmup,
            "measure_s": settings.seconds,
            "rounds": settings.rounds,
            "pinning": httpbench.pinning_description(),
            "pool_size": POOL_SIZE,
            "order": "variants interleaved, rotating order each round; a fresh server each run",
            "noise": (
                f"a run during which other work took more than {settings.noise:.0%} of the "
                f"server's CPU is measured again, up to {settings.retries} more time(s); the "
                "least disturbed attempt is kept"
            ),
        }
        with contextlib.ExitStack() as stack:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            upstream = None
            if "proxy" in settings.sections or "handler" in settings.sections:
                upstream = stack.enter_context(httpbench.running_upstream(workdir))
            if "proxy" in settings.sections:
                assert upstream is not None
                rounds = settings.rounds * ROUNDS_FACTOR["proxy"]
                more = dataclasses.replace(settings, rounds=rounds)
                runs = _run_http(PROXY, more, upstream, load, workdir, "proxy")
                proxy = _summarize_http(PROXY, runs)
                ratios = {
                    key: {
                        "vs_b": _paired(runs, key, "b", "rps"),
                        "vs_e": _paired(runs, key, "e", "rps"),
                    }
                    for key in runs
                }
                p99 = _paired(runs, "c", "b", "p99_ms")
                sections["proxy"] = {
                    "variants": proxy,
                    "ratios": ratios,
                    "p99_c_vs_b": p99,
                    "rounds": rounds,
                }
                throughput = ratios["c"]["vs_b"]["paired_median"]
                targets.append(
                    _target(
                        "proxy",
                        THROUGHPUT_TARGET,
                        f"{throughput:.3f}",
                        ">= 0.97",
                        throughput >= 0.97,
                    )
                )
                targets.append(
                    _target(
                        "proxy",
                        P99_TARGET,
                        f"{p99['paired_median']:.3f}",
                        "<= 1.10",
                        p99["paired_median"] <= 1.10,
                    )
                )
                most = max(proxy["c"]["upstream_connections_per_run"])
                targets.append(
                    _target(
                        "proxy",
                        "(c) upstream connections per server run",
                        f"max {most}",
                        f"<= {POOL_SIZE} (pool size)",
                        most <= POOL_SIZE,
                    )
                )
                per_request = proxy["a"]["connections_per_upstream_request"] or 0.0
                targets.append(
                    _target(
                        "proxy",
                        "(a) upstream connections per request",
                        f"{per_request:.3f}",
                        "one per request (>= 0.99)",
                        per_request >= 0.99,
                    )
                )
            if "handler" in settings.sections:
                assert upstream is not None
                rounds = settings.rounds * ROUNDS_FACTOR["handler"]
                runs = _run_http(
                    HANDLER,
                    dataclasses.replace(settings, rounds=rounds),
                    upstream,
                    load,
                    workdir,
                    "handler",
                )
                handler = _summarize_http(HANDLER, runs)
                ratio = _paired(runs, "ours", "stock", "rps")
                p99 = _paired(runs, "ours", "stock", "p99_ms")
                _progress("handlers in one process ...")
                same_process = httpbench.run_module(
                    "benchmarks.handler_inproc",
                    settings.quick,
                    {"BENCH_UPSTREAM_URL": upstream.url},
                )
                sections["handler"] = {
                    "variants": handler,
                    "ratio": ratio,
                    "p99_ratio": p99,
                    "rounds": rounds,
                    "same_process": same_process,
                }
                targets.append(
                    _target(
                        "handler",
                        HANDLER_TARGET,
                        f"{ratio['paired_median']:.3f}",
                        ">= 0.97",
                        ratio["paired_median"] >= 0.97,
                    )
                )
                for view, name in SAME_PROCESS_TARGETS:
                    measured = same_process[view]["ratio"]
                    targets.append(
                        _target(
                            "handler",
                            f"{name}, {view} view, one process (requests per CPU-second)",
                            f"{measured:.3f}",
                            ">= 0.97",
                            measured >= 0.97,
                        )
                    )
            if "threads" in settings.sections:
                sections["threads"] = _threads_section(settings, load, workdir)
                targets.extend(_threads_targets(sections["threads"]))

    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round(time.time() - started, 1)
    return result


def _threads_section(
    settings: Settings, load: httpbench.LoadGenerator, workdir: Path
) -> dict[str, Any]:
    """Section 5: the constant view always; the ORM view when PostgreSQL can be started."""
    section: dict[str, Any] = {"postgres": None, "skipped": None}
    with contextlib.ExitStack() as stack:
        cluster = None
        _progress("request threads: starting PostgreSQL ...")
        try:
            cluster = stack.enter_context(postgres.running_cluster())
        except postgres.Unavailable as exc:
            section["skipped"] = str(exc)
            _progress(f"request threads: SKIPPING the PostgreSQL view: {exc}")
        if cluster is not None:
            section["postgres"] = {
                "version": postgres.server_version(cluster),
                "address": f"{cluster.host}:{cluster.port}",
                "max_connections": postgres.MAX_CONNECTIONS,
                "pinning": f"CPU {httpbench.LOAD_CPU}, with the load generator",
            }
            _progress(
                f"request threads: PostgreSQL {section['postgres']['version']} on "
                f"{section['postgres']['address']}"
            )
        variants = threads_variants(settings.connections, cluster)
        watch = postgres.ConnectionWatch(cluster)
        runs = _run_http(variants, settings, None, load, workdir, "threads", watch)
    section["variants"] = _summarize_http(variants, runs)
    section["ratios"] = {
        variant.key: {
            "rps": _paired(runs, variant.key, _stock_of(variant.key), "rps"),
            "p99_ms": _paired(runs, variant.key, _stock_of(variant.key), "p99_ms"),
        }
        for variant in variants
    }
    section["request_threads"] = {
        "IDLE_TIMEOUT": REQUEST_THREADS["IDLE_TIMEOUT"],
        "MAX_IDLE": [DEFAULT_MAX_IDLE, 2 * settings.connections],
    }
    return section


def _stock_of(key: str) -> str:
    """The stock handler's variant that ``key`` is compared with (same view, same database)."""
    return key.rsplit("-", 1)[0] + "-stock"


def _threads_target_specs(section: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(variant key, target name, target) of each target of section 5, in table order."""
    specs = []
    ons = [key for key in section["variants"] if key.startswith("const-on")]
    for key in ons:
        specs.append((key, f"request threads {key[6:]} / stock, constant view", ">= 1.4x"))
    specs.append(("const-off", "request threads off / stock, constant view", "0.97x-1.03x"))
    for key in ons:
        specs.append(
            (
                "orm60" + key[5:],
                f"request threads {key[6:]} / stock, PostgreSQL view, CONN_MAX_AGE=60, errors",
                ">= 2x, 0 errors",
            )
        )
    return specs


def _threads_targets(section: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    for key, name, target in _threads_target_specs(section):
        if key not in section["variants"]:
            targets.append(_target("threads", name, f"skipped: {section['skipped']}", target, None))
            continue
        ratio = section["ratios"][key]["rps"]["ratio"]
        errors = section["variants"][key]["errors"]
        if key.startswith("orm"):
            measured, met = f"{ratio:.3f}x, {errors} errors", ratio >= 2 and errors == 0
        elif key == "const-off":
            measured, met = f"{ratio:.3f}x", 0.97 <= ratio <= 1.03
        else:
            measured, met = f"{ratio:.3f}x", ratio >= 1.4
        targets.append(_target("threads", name, measured, target, met))
    return targets


# -- results of several runs ---------------------------------------------------------------

_HTTP_SECTIONS = ("proxy", "handler", "threads")


def _provenance(result: dict[str, Any], key: str) -> dict[str, Any]:
    """The run that measured section ``key`` of ``result``: when, on what, how."""
    run: dict[str, Any] = {
        "generated": result["generated"],
        "mode": result["mode"],
        "machine": result["machine"],
    }
    if key in _HTTP_SECTIONS and "method" in result:
        run["method"] = result["method"]
    return run


def _legacy_section(name: str) -> str:
    """The section of a target written before targets named their section."""
    if name.startswith(("injection", "stock async")):
        return "injection"
    if name.startswith("Lifecycle"):
        return "lifecycle"
    if name.startswith(("(a)", "(b)", "(c)")):
        return "proxy"
    return "handler"


def keep_previous(result: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    """Add the sections of ``previous`` that this run did not measure; return their keys.

    Each kept section keeps its targets and the date, machine and method of its own run.
    """
    result["section_runs"] = {key: _provenance(result, key) for key in result["sections"]}
    runs = previous.get("section_runs", {})
    kept = [key for key in previous.get("sections", {}) if key not in result["sections"]]
    for key in kept:
        result["sections"][key] = previous["sections"][key]
        result["section_runs"][key] = runs.get(key) or _provenance(previous, key)
    for target in previous.get("targets", []):
        section = target.get("section") or _legacy_section(target["name"])
        if section in kept:
            result["targets"].append({**target, "section": section})
    order = list(_RESULT_KEYS.values())
    result["sections"] = dict(sorted(result["sections"].items(), key=lambda i: order.index(i[0])))
    result["targets"].sort(key=lambda target: order.index(target["section"]))
    return kept


# -- the table ----------------------------------------------------------------------------

COLUMNS = (
    "Benchmark / variant",
    "Median",
    "Min-max",
    "p50 / p99 ms",
    "CPU us/req",
    "Ratio",
    "Target",
    "Verdict",
)


def _verdict(met: bool | None) -> str:
    return "skipped" if met is None else "met" if met else "NOT MET"


def _num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _row(
    label: str,
    median: str = "",
    spread: str = "",
    latency: str = "",
    cpu: str = "",
    ratio: str = "",
    target: str = "",
    verdict: str = "",
) -> tuple[str, ...]:
    return ("  " + label, median, spread, latency, cpu, ratio, target, verdict)


def _http_row(
    entry: dict[str, Any],
    ratio: str,
    target: str = "",
    verdict: str = "",
    *,
    always_errors: bool = False,
) -> tuple[str, ...]:
    rps, p50, p99 = entry["rps"], entry["p50_ms"], entry["p99_ms"]
    errors = f" [{entry['errors']} errors]" if entry["errors"] or always_errors else ""
    return _row(
        entry["label"] + errors,
        f"{_num(rps['median'])} req/s",
        f"{_num(rps['min'])}-{_num(rps['max'])}",
        f"{p50['median']:.1f} / {p99['median']:.1f}",
        _num(entry["server_cpu_us_per_request"]["median"]),
        ratio,
        target,
        verdict,
    )


def _section_run(result: dict[str, Any], key: str) -> dict[str, Any]:
    """When, where and how section ``key`` was measured (it may be kept from an earlier run)."""
    return result.get("section_runs", {}).get(key) or _provenance(result, key)


def _method(result: dict[str, Any], key: str) -> dict[str, Any]:
    method: dict[str, Any] = _section_run(result, key).get("method") or result["method"]
    return method


def _heading(result: dict[str, Any], key: str, text: str) -> str:
    generated = _section_run(result, key)["generated"]
    if generated != result["generated"]:
        text += f" [kept from the run of {generated}]"
    return text


def _load(method: dict[str, Any]) -> str:
    return f"wrk -c{method['connections']}, {method['rounds']} x {method['measure_s']} s"


def _proxy_rows(result: dict[str, Any], verdicts: dict[str, str]) -> list[tuple[str, ...] | str]:
    proxy, method = result["sections"]["proxy"], _method(result, "proxy")
    method = {**method, "rounds": proxy.get("rounds", method["rounds"])}
    rows: list[tuple[str, ...] | str] = [
        _heading(
            result,
            "proxy",
            f"1. Proxy: view fetches 64 B from a local aiohttp upstream ({_load(method)})",
        )
    ]
    for key, entry in proxy["variants"].items():
        vs_b, vs_e = proxy["ratios"][key]["vs_b"], proxy["ratios"][key]["vs_e"]
        if key == "c":
            ratio = (
                f"{vs_b['paired_median']:.3f}x b per round ({vs_b['min']:.2f}-"
                f"{vs_b['max']:.2f}); ratio of medians {vs_b['ratio']:.3f}x b, "
                f"{vs_e['ratio']:.2f}x e"
            )
            rows.append(
                _http_row(entry, ratio, ">= 0.97x b (per round)", verdicts[THROUGHPUT_TARGET])
            )
        else:
            rows.append(_http_row(entry, f"{vs_b['ratio']:.2f}x b, {vs_e['ratio']:.2f}x e"))
    p99 = proxy["p99_c_vs_b"]
    rows.append(
        _row(
            "(c) p99 vs (b) p99",
            f"{proxy['variants']['c']['p99_ms']['median']:.1f} ms",
            ratio=(
                f"{p99['paired_median']:.3f}x per round ({p99['min']:.2f}-{p99['max']:.2f}); "
                f"ratio of medians {p99['ratio']:.3f}x"
            ),
            target="<= 1.10x (per round)",
            verdict=verdicts[P99_TARGET],
        )
    )
    for key, entry in proxy["variants"].items():
        conns = entry["upstream_connections_per_run"]
        per_request = entry["connections_per_upstream_request"]
        target, verdict = "", ""
        if key == "c":
            target = f"<= {method['pool_size']} (pool)"
            verdict = verdicts["(c) upstream connections per server run"]
        elif key == "a":
            target = "1 per request"
            verdict = verdicts["(a) upstream connections per request"]
        rows.append(
            _row(
                f"({key}) upstream TCP connections per server run",
                _num(statistics.median(conns)),
                f"{_num(min(conns))}-{_num(max(conns))}",
                ratio=f"{per_request:.3f} per upstream request" if per_request else "",
                target=target,
                verdict=verdict,
            )
        )
    return rows


def _handler_rows(result: dict[str, Any], verdicts: dict[str, str]) -> list[tuple[str, ...] | str]:
    handler, method = result["sections"]["handler"], _method(result, "handler")
    ratio = handler["ratio"]
    method = {**method, "rounds": handler.get("rounds", method["rounds"])}
    heading = f"2. Handler: constant 64 B async view ({_load(method)})"
    return [
        _heading(result, "handler", heading),
        _http_row(handler["variants"]["stock"], "1.00x"),
        _http_row(
            handler["variants"]["ours"],
            f"{ratio['paired_median']:.3f}x stock per round ({ratio['min']:.2f}-"
            f"{ratio['max']:.2f}); ratio of medians {ratio['ratio']:.3f}x",
            ">= 0.97x (per round)",
            verdicts[HANDLER_TARGET],
        ),
        *_same_process_rows(handler["same_process"], verdicts),
    ]


def _same_process_rows(
    same: dict[str, Any], verdicts: dict[str, str]
) -> list[tuple[str, ...] | str]:
    rows: list[tuple[str, ...] | str] = [
        f"2. Both handlers in one process, alternating batches of {same['requests_per_batch']:,} "
        f"requests at concurrency {same['concurrency']} ({same['repeats']} each, "
        f"{same['loop']}): CPU per request"
    ]
    views = (
        ("constant", "constant view", "our handler / stock handler", "/const", "/const"),
        ("proxy", "proxy view", "(c)/(b)", "(b) /global", "(c) /injected"),
    )
    for key, label, name, stock_path, ours_path in views:
        entry = same[key]
        for side, handler, path in (
            ("stock", "Django ASGIHandler (stock)", stock_path),
            ("ours", "LifespanASGIHandler (ours)", ours_path),
        ):
            cpu = entry[f"{side}_cpu_us"]
            ratio, target, verdict = "1.00x", "", ""
            if side == "ours":
                ratio = (
                    f"{entry['ratio']:.3f}x stock requests per CPU-second "
                    f"({entry['min']:.2f}-{entry['max']:.2f})"
                )
                target = ">= 0.97x"
                verdict = verdicts[f"{name}, {key} view, one process (requests per CPU-second)"]
            rows.append(
                _row(
                    f"{label}, {handler}, {path}",
                    f"{_num(cpu['median'])} us",
                    f"{_num(cpu['min'])}-{_num(cpu['max'])}",
                    ratio=ratio,
                    target=target,
                    verdict=verdict,
                )
            )
    return rows


def _injection_rows(
    result: dict[str, Any], verdicts: dict[str, str]
) -> list[tuple[str, ...] | str]:
    injection = result["sections"]["injection"]
    rows: list[tuple[str, ...] | str] = [
        _heading(
            result,
            "injection",
            f"3. Injection, in process: ns per call of an async view "
            f"({injection['repeats']} x {injection['iterations']:,} calls, {injection['loop']})",
        )
    ]
    for key, entry in injection["rows"].items():
        target, verdict = "", ""
        if key == "ours":
            target = "overhead <= 1,000 ns"
            verdict = verdicts["injection overhead of one LifespanResource"]
        rows.append(
            _row(
                entry["label"],
                f"{_num(entry['ns'])} ns",
                f"{_num(entry['min'])}-{_num(entry['max'])}",
                ratio=f"{entry['vs_plain']:.1f}x plain, +{_num(entry['overhead_ns'])} ns",
                target=target,
                verdict=verdict,
            )
        )
    for key, reason in injection["skipped"].items():
        rows.append(_row(inject_cost.VARIANTS[key], "skipped", reason[:40]))
    rows.append(
        _row(
            "overhead: stock async Resource / ours",
            ratio=f"{injection['stock_async_over_ours']:.1f}x",
            target=">= 25x",
            verdict=verdicts["stock async Resource overhead / ours"],
        )
    )
    rows.append(
        _row(
            "ours: fixed cost, then per extra resource",
            f"{_num(injection['ours_fixed_ns'])} ns",
            ratio=f"+{_num(injection['ours_marginal_ns_per_resource'])} ns per extra resource",
        )
    )
    return rows


def _lifecycle_rows(
    result: dict[str, Any], verdicts: dict[str, str]
) -> list[tuple[str, ...] | str]:
    lifecycle = result["sections"]["lifecycle"]
    rows: list[tuple[str, ...] | str] = [
        _heading(
            result,
            "lifecycle",
            f"4. Startup/shutdown: {lifecycle['resources']} independent resources of "
            f"{lifecycle['delay_ms']:.0f} ms each ({lifecycle['repeats']} repeats)",
        )
    ]
    labels = {
        "ours_startup": "Lifecycle.startup() (ours)",
        "ours_shutdown": "Lifecycle.shutdown() (ours)",
        "stock_startup": "container.init_resources() (dependency-injector)",
        "stock_shutdown": "container.shutdown_resources() (dependency-injector)",
    }
    for key, label in labels.items():
        entry = lifecycle[key]
        target, verdict = "", ""
        if key.startswith("ours"):
            target = "< 300 ms"
            verdict = verdicts[f"Lifecycle {key.split('_')[1]}, 10 x 100 ms"]
        rows.append(
            _row(
                label,
                f"{entry['ms']:.1f} ms",
                f"{entry['min']:.1f}-{entry['max']:.1f}",
                target=target,
                verdict=verdict,
            )
        )
    return rows


def _threads_rows(result: dict[str, Any], verdicts: dict[str, str]) -> list[tuple[str, ...] | str]:
    threads, method = result["sections"]["threads"], _method(result, "threads")
    max_idle = " or ".join(str(n) for n in threads["request_threads"]["MAX_IDLE"])
    rows: list[tuple[str, ...] | str] = [
        _heading(
            result,
            "threads",
            f"5. Request threads (on: MAX_IDLE {max_idle}, IDLE_TIMEOUT "
            f"{threads['request_threads']['IDLE_TIMEOUT']}): constant 64 B async view, "
            f"one-query sync ORM view ({_load(method)})",
        )
    ]
    targets = {key: (target, name) for key, name, target in _threads_target_specs(threads)}
    for key, entry in threads["variants"].items():
        ratio = threads["ratios"][key]["rps"]
        text = (
            "1.00x"
            if key.endswith("-stock")
            else f"{ratio['ratio']:.3f}x stock ({ratio['min']:.2f}-{ratio['max']:.2f})"
        )
        target, name = targets.get(key, ("", ""))
        rows.append(_http_row(entry, text, target, verdicts.get(name, ""), always_errors=True))
    database = threads["postgres"]
    if database is None:
        rows.append(_row(f"ORM view on PostgreSQL: {threads['skipped']}", "skipped"))
        for key, (target, name) in targets.items():
            if key.startswith("orm"):
                rows.append(_row(name, target=target, verdict=verdicts.get(name, "")))
        return rows
    rows.append(
        f"5. PostgreSQL {database['version']} on {database['address']} "
        f"(max_connections {database['max_connections']}, {database['pinning']}): "
        "connections of the benchmark database per server run"
    )
    for key, entry in threads["variants"].items():
        if not key.startswith("orm"):
            continue
        most = entry["db_connections_max_per_run"]
        sessions = entry["db_sessions_per_run"]
        rows.append(
            _row(
                f"{entry['label']}: most open at once",
                _num(statistics.median(most)),
                f"{_num(min(most))}-{_num(max(most))}",
                ratio=(
                    f"{_num(statistics.median(sessions))} opened per run, "
                    f"{entry['db_sessions_per_request']:.3f} per request"
                ),
            )
        )
    return rows


def table_rows(result: dict[str, Any]) -> list[tuple[str, ...] | str]:
    """Rows of the one table; a bare string is a section heading."""
    verdicts = {target["name"]: _verdict(target["met"]) for target in result["targets"]}
    rows: list[tuple[str, ...] | str] = []
    for section, build in (
        ("proxy", _proxy_rows),
        ("handler", _handler_rows),
        ("injection", _injection_rows),
        ("lifecycle", _lifecycle_rows),
        ("threads", _threads_rows),
    ):
        if section in result["sections"]:
            rows += build(result, verdicts)
    return rows


def render_text(rows: list[tuple[str, ...] | str]) -> str:
    cells = [row for row in rows if isinstance(row, tuple)]
    widths = [max(len(str(c)) for c in column) for column in zip(COLUMNS, *cells, strict=True)]
    rule = "-+-".join("-" * width for width in widths)

    def line(row: Sequence[str]) -> str:
        return " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    out = [line(COLUMNS), rule]
    for row in rows:
        out.append(line(row) if isinstance(row, tuple) else row)
    return "\n".join(out)


def render_markdown(result: dict[str, Any], rows: list[tuple[str, ...] | str]) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = [
        f"# Benchmarks ({result['mode']} run, {result['generated']})",
        "",
        f"Machine: {machine.one_line(result['machine'])}.",
        f"Load average before / after: {result['machine']['load_average_before']} / "
        f"{result['machine']['load_average_after']}. Commit: {result['machine']['git']}.",
        "",
    ]
    if result["mode"] == "quick":
        lines += ["**Quick smoke run: too short for the numbers to mean anything.**", ""]
    earlier = {
        key: run
        for key in result["sections"]
        if (run := _section_run(result, key))["generated"] != result["generated"]
    }
    if earlier:
        lines += [
            "Sections kept from earlier runs (this run measured "
            + ", ".join(key for key in result["sections"] if key not in earlier)
            + "):",
            "",
        ]
        for key, run in earlier.items():
            lines.append(
                f"- {key}: {run['mode']} run of {run['generated']}, commit "
                f"{run['machine']['git']}, load average before / after "
                f"{run['machine']['load_average_before']} / "
                f"{run['machine'].get('load_average_after')}"
            )
        lines.append("")
    methods: list[tuple[dict[str, Any], list[str]]] = []
    for key in result["sections"]:
        method = _section_run(result, key).get("method")
        if method is None:
            continue
        for known, keys in methods:
            if known == method:
                keys.append(key)
                break
        else:
            methods.append((method, [key]))
    for method, keys in methods:
        lines += [
            (f"HTTP ({', '.join(keys)}): " if len(methods) > 1 else "HTTP: ")
            + f"{method['server']}; load: {method['load_generator']}, "
            f"{method['warmup_s']} s warm-up then {method['measure_s']} s measured per run, "
            f"{method['rounds']} rounds, {method['order']}; {method['noise']}. "
            f"Pinning: {method['pinning']}. "
            "Ratios: of the medians; in brackets the range of the per-round ratios.",
            "",
        ]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        if isinstance(row, str):
            lines.append(f"| **{escape(row)}** |" + " |" * (len(COLUMNS) - 1))
        else:
            lines.append("| " + " | ".join(escape(cell.strip()) for cell in row) + " |")
    lines += ["", "## Targets", ""]
    for target in result["targets"]:
        lines.append(
            f"- {target['name']}: {target['measured']} (target {target['target']}): "
            f"**{_verdict(target['met'])}**"
        )
    for name in ("proxy", "handler"):
        if name not in result["sections"]:
            continue
        lines += [
            "",
            f"## CPU during the measured windows ({name}, medians)",
            "",
            "Server CPU below 100% means the server waited (Django hands each request to",
            "threads); upstream + load generator near 100% would mean they were the bottleneck;",
            "other work on the server's CPU is noise from outside the benchmark.",
            "",
            "| Variant | server CPU | CPU us/request (min-max) | upstream + load generator "
            "| other work on the server's CPU |",
            "|---|---|---|---|---|",
        ]
        for entry in result["sections"][name]["variants"].values():
            cpu = entry["server_cpu_us_per_request"]
            lines.append(
                f"| {entry['label']} | {entry['server_cpu']:.0%} "
                f"| {cpu['median']:.0f} ({cpu['min']:.0f}-{cpu['max']:.0f}) "
                f"| {entry['load_cpu']:.0%} | {entry['foreign_cpu']:.0%} |"
            )
    if "threads" in result["sections"]:
        lines += _threads_markdown(result["sections"]["threads"])
    return "\n".join(lines) + "\n"


def _threads_markdown(threads: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## CPU and threads during the request-threads runs (medians)",
        "",
        "CPU 1 runs the load generator and PostgreSQL (and this orchestrator): near 100% would",
        "mean they were the bottleneck. Threads: the most the server process had at once (its",
        "runnable threads are what raises the load average during this section).",
        "Errors: socket errors plus non-2xx responses, over all rounds.",
        "",
        "| Variant | server CPU | CPU us/request (min-max) | CPU 1 busy "
        "| other work on the server's CPU | server threads (max) | p99 vs stock | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, entry in threads["variants"].items():
        cpu = entry["server_cpu_us_per_request"]
        p99 = threads["ratios"][key]["p99_ms"]["ratio"]
        most = statistics.median(entry.get("server_threads_max_per_run") or [0])
        lines.append(
            f"| {entry['label']} | {entry['server_cpu']:.0%} "
            f"| {cpu['median']:.0f} ({cpu['min']:.0f}-{cpu['max']:.0f}) "
            f"| {entry['load_core_busy']:.0%} | {entry['foreign_cpu']:.0%} "
            f"| {most:.0f} | {p99:.2f}x | {entry['errors']} |"
        )
    if threads["postgres"] is None:
        lines += ["", f"The PostgreSQL view was skipped: {threads['skipped']}"]
        return lines
    lines += [
        "",
        "Connections of the benchmark database, per server run: the most open at once",
        "(`pg_stat_activity`, sampled every 50 ms), how many sessions the database accepted",
        'over the server\'s life (`pg_stat_database.sessions`; "per request" divides by the',
        "requests wrk counted), and the most still open once the server had exited (after up",
        "to 10 s).",
        "Medians, with min-max across rounds.",
        "",
        "| Variant | most open | sessions opened | per request | left open |",
        "|---|---|---|---|---|",
    ]
    for key, entry in threads["variants"].items():
        if key.startswith("orm"):
            lines.append(
                f"| {entry['label']} | {_median_range(entry['db_connections_max_per_run'])} "
                f"| {_median_range(entry['db_sessions_per_run'])} "
                f"| {entry['db_sessions_per_request']:.3f} "
                f"| {max(entry['db_connections_left_per_run'])} |"
            )
    return lines


def _median_range(values: Sequence[float]) -> str:
    return f"{_num(statistics.median(values))} ({_num(min(values))}-{_num(max(values))})"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, a few seconds a variant")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (5; quick: 1)")
    parser.add_argument("--warmup", type=int, help="warm-up seconds per run (3; quick: 1)")
    parser.add_argument("--seconds", type=int, help="measured seconds per run (10; quick: 2)")
    parser.add_argument("--connections", type=int, default=64, help="concurrency (64)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only these")
    parser.add_argument(
        "--retries", type=int, help="re-measure a disturbed run up to N more times (1; quick: 0)"
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.10,
        help="share of the server's CPU taken by other work that counts as disturbed (0.10)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    defaults: Callable[[int | None, int, int], int] = lambda given, full, quick: (  # noqa: E731
        given if given is not None else (quick if args.quick else full)
    )
    settings = Settings(
        quick=args.quick,
        rounds=defaults(args.rounds, 5, 1),
        warmup=defaults(args.warmup, 3, 1),
        seconds=defaults(args.seconds, 10, 2),
        connections=args.connections,
        loadgen=args.loadgen,
        sections=tuple(args.only or SECTIONS),
        retries=defaults(args.retries, 1, 0),
        noise=args.noise,
    )
    result = run_all(settings)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    # A smoke run must not overwrite the real results.
    stem = "quick" if args.quick else "latest"
    previous_file = args.results_dir / f"{stem}.json"
    previous = json.loads(previous_file.read_text()) if previous_file.exists() else {}
    kept = keep_previous(result, previous)
    rows = table_rows(result)
    text = render_text(rows)
    result["table"] = text
    print()
    print(f"Machine: {machine.one_line(result['machine'])}")
    if "method" in result:
        method = result["method"]
        print(f"HTTP: {method['server']}; {method['load_generator']}; {method['pinning']}")
    print(text)
    if kept:
        print(f"\nkept from {previous_file.name}: {', '.join(kept)} (not measured by this run)")
    _write(args.results_dir / f"{stem}.json", json.dumps(result, indent=2) + "\n")
    _write(args.results_dir / f"{stem}.md", render_markdown(result, rows))
    print(f"\nwrote {args.results_dir / stem}.json and .md ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
