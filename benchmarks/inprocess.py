"""The command line of the in-process benchmark modules (sections 2, 3 and 4).

``run.py`` runs each one in a process of its own (``httpbench.run_module``) and reads the JSON
it prints.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any


def main(run: Callable[[bool], dict[str, Any]], description: str | None) -> None:
    """``python -m benchmarks.<module> [--quick]``: print ``run(quick)`` as JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
