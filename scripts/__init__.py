"""Run from the repository root as `python -m scripts.<group>.<module>`: ``scripts.dev`` (the local service),
``scripts.bench`` (benchmarks, docs/benchmarks.md), ``scripts.release`` (the steps the workflows run)."""

from pathlib import Path
from typing import Final

import model  # noqa: F401  (before anything else: an older Python is told in one line what is needed)

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
