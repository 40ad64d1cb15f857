"""What the development server configures the function with."""

from __future__ import annotations

import pytest

from model import contract
from scripts.dev.server import DEPLOYED, function_environment


def test_the_function_gets_the_contracts_environment_and_the_servers_own_values_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given none of the function's variables set in the server's environment but the log level
    for name in contract.function_environment(stage="local", log_level=DEPLOYED.log_level):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(contract.ENV_LOG_LEVEL, "DEBUG")
    # Then the function is configured as the infrastructure configures it, for the local stage
    expected = contract.function_environment(stage="local", log_level="DEBUG")
    assert function_environment() == expected
