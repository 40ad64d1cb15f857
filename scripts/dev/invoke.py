"""The function as the development server calls it: its environment and context as deployed (with local
values), invoked in this process (``InProcessInvoker``) or under the emulator (:mod:`.rie`), and the served
artifact watched for a retrained one (``ModelWatch``). What it says goes to the terminal, escaped."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol

from infra_cdk.settings import stage_named
from model.core import contract
from model.core.artifact import ArtifactError
from model.core.serving import load_artifact
from model.core.untrusted import printable
from scripts.dev import apigw_proxy

STAGE: Final = "local"
FUNCTION_NAME: Final = f"{contract.SERVICE_NAME}-{STAGE}"
# The function's configuration as deployed to Staging (under --rie, the emulator enforces its timeout).
DEPLOYED: Final = stage_named("Staging")


def say(line: str) -> None:
    """One line for the person at the terminal (stderr: stdout is the function's, under --json-logs)."""
    print(line, file=sys.stderr, flush=True)


class Invoker(Protocol):
    """Runs one event through the function and returns its decoded result (``None`` if it failed)."""

    def invoke(self, event: dict[str, Any], request_id: str) -> Any: ...

    def close(self) -> None: ...


def function_environment() -> dict[str, str]:
    """The variables the infrastructure gives the function, with local values (each overridable from this
    process's environment, e.g. ``POWERTOOLS_LOG_LEVEL=DEBUG``)."""
    defaults = contract.function_environment(stage=STAGE, log_level=DEPLOYED.log_level)
    return {name: os.environ.get(name) or value for name, value in defaults.items()}


class LocalContext:
    """The Lambda context object: the fields the function and Powertools read, with local values."""

    def __init__(self, request_id: str) -> None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.aws_request_id = request_id
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{apigw_proxy.LOCAL_ACCOUNT_ID}:function:{FUNCTION_NAME}"
        )
        self.function_name = FUNCTION_NAME
        self.memory_limit_in_mb = str(DEPLOYED.memory_mb)


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


class InProcessInvoker:
    """Imports the handler (the init phase) and calls it directly, one event at a time from the server's
    queue. Without ``json_logs``, what the function writes to stdout (JSON logs, EMF metrics) is dropped."""

    def __init__(self, *, json_logs: bool = True) -> None:
        os.environ.update(function_environment())
        self._sink = None if json_logs else _Discard()
        self._module_name, _, self._function_name = contract.HANDLER.rpartition(".")
        self._handler = self._import()

    def _output(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext() if self._sink is None else contextlib.redirect_stdout(self._sink)

    def _import(self) -> Any:
        # Powertools' Logger keeps the stream that is sys.stdout when it is created: during this import.
        with self._output():
            return getattr(importlib.import_module(self._module_name), self._function_name)

    def reload(self) -> str:
        """Imports the handler again (a new cold start, with the artifact as it is now) and returns the
        model version it serves; on failure the previous handler stays and the error propagates."""
        previous = sys.modules.pop(self._module_name)
        try:
            self._handler = self._import()
        except BaseException:
            sys.modules[self._module_name] = previous
            raise
        return str(sys.modules[self._module_name].VERSION)

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        with self._output():
            try:
                return self._handler(event, LocalContext(request_id))
            except Exception as exc:  # an unhandled function error: API Gateway answers 502
                say(f"[dev-server] function error: {type(exc).__name__}: {printable(str(exc))}")
                return None

    def close(self) -> None:
        return None


class ModelWatch:
    """The served artifact: a retrained file is noticed on the next request (one ``stat``), then the
    function is reloaded with it (``reload`` returns the version now served) or, without ``reload``, one
    line says that a restart is needed. An artifact that cannot be served is never loaded. Checked where the
    function is invoked, one request at a time."""

    def __init__(self, path: Path, version: str, reload: Callable[[], str] | None) -> None:
        self.path, self.version, self._reload = path, version, reload
        self._signature = _signature(path)

    def check(self) -> None:
        signature = _signature(self.path)
        if signature == self._signature:
            return
        self._signature = signature
        try:
            version = load_artifact(self.path).model_version
        except ArtifactError as error:
            say(
                f"{now()} the model artifact changed and cannot be served "
                f"({printable(str(error))}); still serving {self.version}"
            )
            return
        if version == self.version:
            return  # the same model, written again
        if self._reload is None:
            say(
                f"{now()} {self.path} now holds {version}: restart ./scripts/serve --rie to "
                f"serve it (still serving {self.version})"
            )
            return
        try:
            self.version = self._reload()
        except Exception as error:
            failed = type(error).__name__
            say(f"{now()} reloading the function failed ({failed}); still serving {self.version}")
            return
        say(f"{now()} model reloaded from {self.path}: now serving {self.version}")


def _signature(path: Path) -> tuple[int, ...] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns


def now() -> str:
    return time.strftime("%H:%M:%S")
