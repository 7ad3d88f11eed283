"""Sphinx configuration: MyST Markdown pages, Furo theme, API pages from docstrings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "docs" / "examples")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "weather.settings")
django.setup()

from django_lifespan_di import __version__  # noqa: E402

project = "django-lifespan-di"
author = "django-lifespan-di developers"
copyright = "2026, django-lifespan-di developers"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = f"django-lifespan-di {version}"
exclude_patterns = ["_build", "examples/**/README.md"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False
