"""Everything here is run from the repository root, as `python -m scripts.<group>.<module>`:

- ``scripts.dev``: what people run while developing (the local service, the emulator);
- ``scripts.bench``: benchmarks, run by hand (docs/benchmarks.md);
- ``scripts.release``: the release steps the workflows run.

``setup``, ``test`` and ``serve`` are the shell entry points the README gives.
"""

from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
