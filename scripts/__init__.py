"""Run from the repository root as `python -m scripts.<group>.<module>`: ``scripts.dev`` (the local service),
``scripts.bench`` (benchmarks, docs/benchmarks.md), ``scripts.release`` (the steps the workflows run)."""

from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
