"""Every task of the project: `nox -l` lists them.

Tests run against the built wheel (not the source tree), so packaging mistakes fail them.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint", "mypy", "coverage"]

ROOT = Path(__file__).parent
# Django x Python pairs the project supports: Django 6.x needs Python >= 3.12.
MATRIX = [
    ("3.10", "4.2"),
    ("3.11", "5.2"),
    ("3.12", "6.0"),
    ("3.13", "6.1"),
]
TEST_ENV = {
    "PYTHONDEVMODE": "1",
    "PYTHONWARNINGS": "error::ResourceWarning,error::DeprecationWarning",
}


def _install_wheel(session: nox.Session, extras: str) -> None:
    """Build the project's wheel and install it (not the source tree) with ``extras``."""
    dist = Path(session.create_tmp()) / "dist"
    for stale in dist.glob("*.whl"):
        stale.unlink()
    session.install("build")
    session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT), silent=True)
    (wheel,) = dist.glob("django_lifespan_di-*.whl")
    session.install(f"{wheel}[{extras}]")


@nox.session
@nox.parametrize(
    ("python", "django"), MATRIX, ids=[f"py{python}-django{django}" for python, django in MATRIX]
)
def tests(session: nox.Session, django: str) -> None:
    """Run the test suite on the built wheel, with one Django version per Python."""
    _install_wheel(session, "test")
    session.install(f"django~={django}.0")
    session.run(
        "python",
        "-m",
        "coverage",
        "run",
        "-m",
        "pytest",
        *session.posargs,
        env={**TEST_ENV, "COVERAGE_FILE": str(ROOT / f".coverage.{session.python}")},
    )


@nox.session(python="3.12")
def coverage(session: nox.Session) -> None:
    """Combine the coverage of the test runs; fail below 100% of src (branch coverage)."""
    session.install("coverage[toml]>=7.6")
    session.chdir(ROOT)
    data = list(ROOT.glob(".coverage.*"))
    if not data:
        session.error("no coverage data: run `nox -s tests` first")
    session.run("coverage", "combine", "--keep", *map(str, data))
    session.run("coverage", "report", "--fail-under=100")


@nox.session(python="3.12")
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.12")
def mypy(session: nox.Session) -> None:
    """Strict mypy with django-stubs."""
    session.install("-e", ".[test]", "mypy>=1.11", "django-stubs>=5", "django~=6.1.0")
    session.run("mypy", env={"PYTHONPATH": str(ROOT)})
