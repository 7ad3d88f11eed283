"""Every task of the project: `nox -l` lists them.

Tests run against the built wheel (not the source tree), so packaging mistakes fail them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "demo_tests", "lint", "mypy", "coverage", "docs"]
# nox skips a session whose interpreter is missing and still exits 0: on CI, a matrix pair that
# did not run must fail the run (.ci/run also passes --error-on-missing-interpreters).
if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
    nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).parent
# Python x Django (x aiohttp) combinations: Django 6.x needs Python >= 3.12. One run keeps
# aiohttp 3.13, where aioresponses (a test extra) still works (aioresponses issue #289).
MATRIX = [
    ("3.10", "4.2", "aiohttp<3.14"),
    ("3.11", "5.2", "aiohttp"),
    ("3.12", "6.0", "aiohttp"),
    ("3.13", "6.1", "aiohttp"),
]
MATRIX_IDS = [f"py{python}-django{django}" for python, django, _ in MATRIX]
# Every pair Django supports (4.2: Python <= 3.12; 6.x: Python >= 3.12): `nox -s tests_all`,
# about 4 minutes a pair on 2 cores. CI runs MATRIX, one Django per Python, to fit its time.
FULL_MATRIX = [
    (python, django, "aiohttp<3.14" if python == "3.10" else "aiohttp")
    for python, djangos in {
        "3.10": ("4.2", "5.2"),
        "3.11": ("4.2", "5.2"),
        "3.12": ("4.2", "5.2", "6.0", "6.1"),
        "3.13": ("5.2", "6.0", "6.1"),
    }.items()
    for django in djangos
]
# The lint and type tools, pinned: a new release's new rules must not turn CI red by themselves.
RUFF = "ruff==0.17.6"
MYPY = ["mypy==2.4.1", "django-stubs==6.1.2", "celery-types==0.26.0"]
TEST_ENV = {
    "PYTHONDEVMODE": "1",
    "PYTHONWARNINGS": "error::ResourceWarning,error::DeprecationWarning",
}


def _install_wheel(session: nox.Session, extras: str, *also: str) -> None:
    """Build the project's wheel and install it (not the source tree) with ``extras``, and
    ``also`` in the same resolution (a Django pin must pick the extras' versions too:
    djangorestframework 3.16 for Django 4.2)."""
    dist = Path(session.create_tmp()) / "dist"
    for stale in dist.glob("*.whl"):
        stale.unlink()
    session.install("build")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT), silent=True)
    (wheel,) = dist.glob("django_lifespan_di-*.whl")
    session.install(f"{wheel}[{extras}]", *also)


# What of the test matrix this run did, for the report at exit (nox runs sessions in-process).
_RAN: set[str] = set()
_EXAMPLES_SKIPPED: list[str] = []


def _report_what_did_not_run() -> None:
    """At the end of a run that ran some of the tests, list loudly the pairs that did not run."""
    if not _RAN:
        return  # the tests were not selected (or none could run: nox itself says so)
    absent = [
        (pair, python)
        for (python, _, _), pair in zip(MATRIX, MATRIX_IDS, strict=True)
        if python not in _RAN
    ]
    if not absent and not _EXAMPLES_SKIPPED:
        return
    bar = "!" * 78
    lines = [bar, "NOT EVERYTHING RAN: the test matrix is incomplete."]
    for pair, python in absent:
        found = shutil.which(f"python{python}")
        why = "not selected, or stopped before it" if found else f"python{python} not found"
        lines.append(f"  tests({pair}): did not run ({why})")
    lines += [f"  {skipped}" for skipped in _EXAMPLES_SKIPPED]
    if absent:
        lines.append("Install them (pyenv install 3.1x) or run .ci/run. With CI set, this fails.")
    print("\n".join([*lines, bar]), file=sys.stderr)


atexit.register(_report_what_did_not_run)


@nox.session
@nox.parametrize(("python", "django", "aiohttp"), MATRIX, ids=MATRIX_IDS)
def tests(session: nox.Session, django: str, aiohttp: str) -> None:
    """Run the test suite and the docs' examples on the built wheel."""
    assert isinstance(session.python, str)
    _RAN.add(session.python)
    _install_wheel(session, "test", f"django~={django}.0", aiohttp)
    env = {**TEST_ENV, "COVERAGE_FILE": str(ROOT / f".coverage.{session.python}")}
    session.run("python", "-m", "coverage", "run", "-m", "pytest", *session.posargs, env=env)
    if session.posargs:
        # The arguments are for the suite's pytest: the docs' examples are not run with them.
        _EXAMPLES_SKIPPED.append(
            f"docs/examples on py{session.python}: not run (pytest arguments given after --)"
        )
    else:
        session.run(
            "python",
            "-m",
            "coverage",
            "run",
            "--rcfile",
            str(ROOT / "pyproject.toml"),
            "-m",
            "pytest",
            str(ROOT / "docs" / "examples"),
            env=env,
        )


@nox.session
@nox.parametrize(
    ("python", "django", "aiohttp"),
    FULL_MATRIX,
    ids=[f"py{python}-django{django}" for python, django, _ in FULL_MATRIX],
)
def tests_all(session: nox.Session, django: str, aiohttp: str) -> None:
    """The suite on every supported Python x Django pair (CI runs the `tests` subset)."""
    _install_wheel(session, "test", f"django~={django}.0", aiohttp)
    session.run("python", "-m", "pytest", *session.posargs, env=TEST_ENV)


@nox.session(python="3.12")
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them with twine, list what the wheel holds."""
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.install("build", "twine")
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    session.run("twine", "check", "--strict", *map(str, sorted(dist.iterdir())))
    (wheel,) = dist.glob("*.whl")
    session.run("python", "-m", "zipfile", "--list", str(wheel))


@nox.session(python="3.12")
def coverage(session: nox.Session) -> None:
    """Combine the coverage of the test runs; fail below 100% of src (branch coverage)."""
    session.install("coverage[toml]>=7.10.3")
    session.chdir(ROOT)
    data = list(ROOT.glob(".coverage.*"))
    if not data:
        session.error("no coverage data: run `nox -s tests` first")
    session.run("coverage", "combine", "--keep", *map(str, data))
    session.run("coverage", "report", "--fail-under=100")


@nox.session(python="3.12")
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.12")
def mypy(session: nox.Session) -> None:
    """Strict mypy with django-stubs."""
    session.install("-e", ".[test]", *MYPY, "django~=6.1.0")
    session.run("mypy", env={"PYTHONPATH": str(ROOT)})


@nox.session(python="3.12")
def docs(session: nox.Session) -> None:
    """Build the documentation; warnings are errors."""
    session.install("-e", ".[test]", "sphinx>=8", "myst-parser>=4", "furo")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


DEMO = ROOT / "examples" / "demo"
# On Ctrl-C the terminal signals nox and uvicorn together; nox then waits this long for
# uvicorn to exit before it sends SIGTERM, then SIGKILL (its default, 0.3 s, is too short for a
# graceful stop). It covers --timeout-graceful-shutdown plus the lifespan shutdown: two
# dependency levels (the session, then the service it calls) of SHUTDOWN_TIMEOUT 10 s each.
GRACEFUL_SHUTDOWN = 10
INTERRUPT_TIMEOUT = GRACEFUL_SHUTDOWN + 2 * 10 + 5


@nox.session
def demo(session: nox.Session) -> None:
    """Serve the demo with uvicorn until Ctrl-C: `nox -s demo`, or `nox -s demo -- 8001`."""
    session.install(str(ROOT), "uvicorn>=0.30")
    port = session.posargs[0] if session.posargs else os.environ.get("DEMO_PORT", "8000")
    session.chdir(DEMO)
    session.log(f"Open http://127.0.0.1:{port}/ (Ctrl-C stops the server)")
    # On SIGINT uvicorn stops gracefully and exits 0 (checked with uvicorn 0.54).
    session.run(
        "python",
        "-m",
        "uvicorn",
        "demo.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--lifespan",
        "on",
        "--timeout-graceful-shutdown",
        str(GRACEFUL_SHUTDOWN),
        interrupt_timeout=INTERRUPT_TIMEOUT,
    )


@nox.session
def demo_tests(session: nox.Session) -> None:
    """Run the demo's own tests against the installed package."""
    session.install(f"{ROOT}[test]")
    session.chdir(DEMO)
    session.run("python", "-m", "pytest", *session.posargs, env=TEST_ENV)


# Not PYTHONDEVMODE: its asyncio debug mode slows the load generator and the upstream, which
# share the test process. Each server process gets its own warning settings (servers.py).
INTEGRATION_ENV = {
    "LIFESPAN_DI_INTEGRATION": "1",
    "PYTHONWARNINGS": "error::ResourceWarning,error::DeprecationWarning",
}


def _run_integration(session: nox.Session, marker: str, report: str) -> None:
    _install_wheel(session, "test,integration")
    session.chdir(ROOT)
    env = {
        **INTEGRATION_ENV,
        "LIFESPAN_DI_INTEGRATION_REPORT": str(Path(session.create_tmp()) / report),
    }
    session.run(
        "python", "-m", "pytest", "tests/integration", "-m", marker, *session.posargs, env=env
    )


@nox.session(python="3.12")
def integration(session: nox.Session) -> None:
    """Serve the demo with each ASGI server: load, signals, faults, security (about 3 min)."""
    _run_integration(session, "not soak", "integration-report.json")


@nox.session(python="3.12")
def soak(session: nox.Session) -> None:
    """60 s of steady load on uvicorn; fds and RSS sampled every 5 s must stay flat.

    INTEGRATION_SOAK_SECONDS and INTEGRATION_SOAK_SERVER (a server name of the suite) change
    the duration and the server.
    """
    _run_integration(session, "soak", "soak-report.json")


# The peers and the fastest server stack; the versions used are recorded in the results.
BENCH_DEPS = [
    "fastapi",
    "uvicorn[standard]",
    "uvloop",
    "httptools",
    "wireup",
    "psycopg[binary]",
    "httpx",
]


@nox.session(python="3.12")
def bench(session: nox.Session) -> None:
    """Benchmarks: one table, results in benchmarks/results/. `nox -s bench -- --quick`: smoke."""
    session.install(str(ROOT), *BENCH_DEPS)
    if shutil.which("wrk") is None:
        session.warn("wrk not found (apt-get install wrk): using benchmarks/loadgen.py instead")
    session.chdir(ROOT)
    session.run("python", "-m", "benchmarks.run", *session.posargs, env={"PYTHONPATH": str(ROOT)})
