"""Fixtures of the package's tests: stage stand-ins on loopback (:mod:`.stage`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .stage import Stage


@pytest.fixture
def stage() -> Iterator[Callable[..., Stage]]:
    """Starts stage stand-ins answering from their scripts; all are stopped after the test."""
    started: list[Stage] = []

    def start(*script: Any) -> Stage:
        started.append(Stage(*script).start())
        return started[-1]

    yield start
    for server in started:
        server.shutdown()
        server.server_close()
