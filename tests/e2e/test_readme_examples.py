"""The README's local curl examples, run as written against the local service: the docs cannot rot."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess

import pytest

from scripts import REPO_ROOT
from tests.e2e.target import Target

README_BASE_URL = "http://127.0.0.1:3000"
EXAMPLES = [
    line.strip()
    for line in (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    if line.startswith(f"curl -s {README_BASE_URL}")
]


def test_the_readme_shows_a_local_example_for_every_route():
    from model.core.contract import ROUTES

    shown = {re.search(rf"{README_BASE_URL}(\S+)", example).group(1) for example in EXAMPLES}  # type: ignore[union-attr]
    assert shown == {route.path for route in ROUTES}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("example", EXAMPLES)
def test_readme_example_works_as_written(example: str, loopback_target: Target):
    # Given the example exactly as printed, pointed at the port this suite's server listens on
    argv = [
        arg.replace(README_BASE_URL, loopback_target.base_url.rstrip("/")) for arg in shlex.split(example)
    ]
    # When it runs
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    # Then curl succeeds and the service answers what the README says it answers
    assert result.returncode == 0, result.stderr
    if "-w" in argv:  # a status code, and where a redirect points: "200", or "302 <base URL>/docs"
        status, _, location = result.stdout.strip().partition(" ")
        docs = f"{loopback_target.base_url.rstrip('/')}/docs"
        assert status == "200" or (status == "302" and location == docs), result.stdout
        return
    body = json.loads(result.stdout)
    assert "error" not in body, body
