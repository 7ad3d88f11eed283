"""The README's example is the documentation's example project, which the suite runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
SOURCES = [*EXAMPLES.glob("weather/*.py"), EXAMPLES / "test_override.py"]


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.parametrize("block", _readme_blocks()[:5])
def test_readme_example_block_is_part_of_the_tested_example_project(block: str) -> None:
    """Each snippet of the README's example appears verbatim in docs/examples/."""
    assert any(block.strip() in source.read_text(encoding="utf-8") for source in SOURCES), block


def test_readme_has_the_whole_example() -> None:
    """The README shows the container, settings, asgi.py, view and test."""
    blocks = "\n".join(_readme_blocks())
    for needle in (
        "class Container",
        "DJANGO_LIFESPAN_DI",
        "get_asgi_application()",
        "@inject",
        "override_providers(",
    ):
        assert needle in blocks
