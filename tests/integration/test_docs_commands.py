"""Every `python -m` command the documentation gives exists and starts (its --help runs)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from scripts import REPO_ROOT
from tests.unit.test_docs import PYTHON_MODULE, _mentions


@pytest.mark.parametrize("module", sorted(_mentions(PYTHON_MODULE)))
def test_every_python_module_the_docs_run_exists_and_starts(module: str):
    assert importlib.util.find_spec(module) is not None, (
        f"docs run `python -m {module}`, which does not exist"
    )
    if module == "infra_cdk.app":
        return  # synthesis itself is exercised by tests/infra (it takes seconds, not a --help)
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
