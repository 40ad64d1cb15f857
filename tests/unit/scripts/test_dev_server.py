"""What the development server configures the function with, prints, and notices."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from model.core import contract
from model.core.artifact import ModelArtifact
from model.core.untrusted import printable
from model.train.artifact_file import write_artifact_atomically
from scripts.dev.invoke import DEPLOYED, ModelWatch, function_environment


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


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("/v1/predict", "/v1/predict"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("a\r\nb\tc\x7f\x85", "a\\r\\nb\\tc\\x7f\\x85"),
        ("x" * 300, "x" * 199 + "…"),
    ],
    ids=["plain", "ansi-escape", "c0-c1-controls", "bounded"],
)
def test_printable_escapes_control_characters_and_bounds_the_length(text: str, shown: str) -> None:
    assert printable(text) == shown


class TestModelWatch:
    """A retrained artifact is noticed on the next request: reloaded, or a restart is asked for."""

    @pytest.fixture
    def served(self, model_artifact: ModelArtifact, tmp_path: Path) -> Path:
        path = tmp_path / "model.json"
        write_artifact_atomically(model_artifact, path)
        return path

    @staticmethod
    def retrain(artifact: ModelArtifact, path: Path, version: str) -> None:
        write_artifact_atomically(dataclasses.replace(artifact, model_version=version, sha256=""), path)

    def test_an_unchanged_artifact_is_not_reloaded(self, served, model_artifact, capsys):
        watch = ModelWatch(served, model_artifact.model_version, lambda: pytest.fail("reloaded"))
        watch.check()
        assert capsys.readouterr().err == ""

    def test_a_retrained_artifact_is_reloaded_and_said_once(self, served, model_artifact, capsys):
        watch = ModelWatch(served, model_artifact.model_version, lambda: "bmi-linear-new")
        self.retrain(model_artifact, served, "bmi-linear-new")
        watch.check()
        watch.check()
        assert watch.version == "bmi-linear-new"
        (line,) = capsys.readouterr().err.splitlines()
        assert line.endswith(f"model reloaded from {served}: now serving bmi-linear-new")

    def test_the_same_model_written_again_is_not_reloaded(self, served, model_artifact, capsys):
        watch = ModelWatch(served, model_artifact.model_version, lambda: pytest.fail("reloaded"))
        served.unlink()
        write_artifact_atomically(model_artifact, served)
        watch.check()
        assert capsys.readouterr().err == ""

    def test_an_artifact_that_cannot_be_served_is_not_loaded(self, served, model_artifact, capsys):
        watch = ModelWatch(served, model_artifact.model_version, lambda: pytest.fail("reloaded"))
        served.write_text("{}")
        watch.check()
        (line,) = capsys.readouterr().err.splitlines()
        assert "the model artifact changed and cannot be served" in line
        assert line.endswith(f"still serving {model_artifact.model_version}")

    def test_without_reload_a_restart_is_asked_for(self, served, model_artifact, capsys):
        watch = ModelWatch(served, model_artifact.model_version, None)
        self.retrain(model_artifact, served, "bmi-linear-new")
        watch.check()
        (line,) = capsys.readouterr().err.splitlines()
        assert "now holds bmi-linear-new: restart ./scripts/serve --rie" in line
        assert watch.version == model_artifact.model_version


@pytest.mark.parametrize(
    ("target", "length", "refused"),
    [
        ("/health", "0" * 5000 + "1", None),  # past int()'s 4 300 digits, but one byte
        ("x", "0" * 5000 + "1", "bad_request"),  # an earlier rule answers: the length is never the problem
        ("/health", "0" * 5000 + str(contract.EDGE_BODY_LIMIT_BYTES), "payload_too_large"),
        ("/health", "9" * 5000, "payload_too_large"),
    ],
)
def test_a_content_length_of_any_spelling_is_judged_not_raised(
    target: str, length: str, refused: str
) -> None:
    # h11 refuses such heads first today; the adapter's own rules must not depend on it
    from scripts.dev.http_gateway import refusal

    answer = refusal("GET", target, "1.1", (("host", "a"), ("content-length", length)))
    assert (answer and answer[0]) == refused
