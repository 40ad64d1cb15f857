"""The distribution's build hook (hatchling's standard ``custom`` hook): the wheel holds the trained artifact
(``model/artifacts/model.json``), so that predicting needs nothing but the package. The artifact is a build
output, never committed: a tree without one (a fresh clone) has it trained first by the project's own trainer
(deterministic, well under a second), for which the hook asks the build frontend for numpy, the ``train``
extra. Either way the artifact must load as the service loads it, or the build fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Final

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ARTIFACT: Final = Path("model", "artifacts", "model.json")
# Loads the artifact as the function and the package do: refused if it is corrupt or below the serving policy.
_CHECK: Final = (
    "import pathlib, sys; from model.core.serving import load_artifact;"
    "load_artifact(pathlib.Path(sys.argv[1]))"
)


class ModelArtifactHook(BuildHookInterface):  # type: ignore[type-arg]
    def dependencies(self) -> list[str]:
        if (Path(self.root) / ARTIFACT).is_file():
            return []
        return list(self.metadata.core.optional_dependencies["train"])

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if not (Path(self.root) / ARTIFACT).is_file():
            print(f"{ARTIFACT} is absent: training it (python -m model.train)", file=sys.stderr, flush=True)
            self._python("-m", "model.train", "--out", str(ARTIFACT))
        self._python("-c", _CHECK, str(ARTIFACT))  # fail the build, not the first prediction

    def _python(self, *args: str) -> None:
        """The build environment's interpreter, from the source root, where ``model`` is importable."""
        result = subprocess.run(
            [sys.executable, *args], cwd=self.root, check=False, capture_output=True, text=True
        )
        sys.stderr.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise SystemExit(
                f"cannot package the model: `python {' '.join(args[:2])}` exited {result.returncode}"
            )
