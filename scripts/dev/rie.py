"""The function under the real Lambda Runtime Interface Emulator, run as in the image, and the one client of
its invoke API. The interpreter imports from ``<task root>:<runtime client>`` only, the two places a Lambda
container imports from, so nothing in this repository or its virtual environment can stand in for a file the
image lacks; the emulator's output (START/END/REPORT lines, logs, metrics) reads as in CloudWatch Logs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from model.core import contract
from model.core.untrusted import printable
from scripts import REPO_ROOT
from scripts.dev.image_root import build_image_root, build_runtime_dir
from scripts.dev.invoke import DEPLOYED, FUNCTION_NAME, function_environment, say

RIE: Final = REPO_ROOT / ".cache" / "bin" / "aws-lambda-rie"  # installed by scripts/setup
INVOKE_PATH: Final = "/2015-03-31/functions/function/invocations"
START_TIMEOUT_SECONDS: Final = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(endpoint: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Returns once ``endpoint`` accepts connections (the emulator listens before the function initialises);
    raises TimeoutError after ``timeout`` seconds, or RuntimeError as soon as ``process`` has exited."""
    parts = urlsplit(endpoint)
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited ({process.returncode})")
        try:
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=0.5).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {endpoint} after {timeout:.0f} s ({error})") from None
            time.sleep(0.05)


def invoke(endpoint: str, event: Mapping[str, Any], timeout: float) -> tuple[int, Any]:
    """Sends one event; returns the emulator's HTTP status and the decoded result (for a failed invocation:
    502 and Lambda's ``{"errorType": ..., "errorMessage": ...}``)."""
    url, data = endpoint.rstrip("/") + INVOKE_PATH, json.dumps(event).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def isolated_python(
    task_root: Path, runtime_dir: Path, function_env: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The interpreter command and environment of a Lambda container built from the image: the runtime's
    own variables, then the function's configured ones (which win, as on Lambda)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": f"{task_root}:{runtime_dir}",
        **function_env,
    }
    return [sys.executable, "-S", "-s"], env


class EmulatedFunction(AbstractContextManager["EmulatedFunction"]):
    """One execution environment under the emulator: started when created, stopped on leaving its ``with``
    block (or by :meth:`stop`). Its output goes to ``log_file`` when given, else to this terminal."""

    def __init__(
        self,
        task_root: Path,
        runtime_dir: Path,
        function_env: Mapping[str, str],
        *,
        log_file: Path | None = None,
    ) -> None:
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self.log_file = log_file
        python, env = isolated_python(task_root, runtime_dir, function_env)
        emulator = [str(RIE), "--runtime-interface-emulator-address", self.endpoint.removeprefix("http://")]
        emulator += ["--runtime-api-address", f"127.0.0.1:{free_port()}"]  # 9001 may be another emulator's
        with log_file.open("wb") if log_file else nullcontext() as log:
            # A session of its own: stopping it ends exactly the emulator and the runtime it started (and
            # Ctrl-C in the development server's terminal reaches the server, which then stops it).
            self._process = subprocess.Popen(
                [*emulator, *python, "-m", "awslambdaric", contract.HANDLER],
                cwd=task_root,
                env=env,
                stdout=log,
                stderr=None if log is None else subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_port(self.endpoint, START_TIMEOUT_SECONDS, self._process)
        except (RuntimeError, TimeoutError) as error:
            self.stop()
            raise RuntimeError(
                f"the Runtime Interface Emulator did not start: {error}\n{self.output()}"
            ) from None

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        try:
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=5)

    def invoke(self, event: Mapping[str, Any], timeout: float = 30) -> tuple[int, Any]:
        return invoke(self.endpoint, event, timeout)

    def output(self) -> str:
        return "" if self.log_file is None else self.log_file.read_text(errors="replace")


class RieInvoker:
    """The development server's ``--rie`` invoker: one emulated function, configured as deployed, on a freshly
    built image-equivalent directory (with ``artifact`` baked in where the image holds its own), given one
    event at a time by the server's queue."""

    def __init__(self, artifact: Path) -> None:
        function_env = {  # the emulator reads the function's name, memory and timeout from its environment
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(DEPLOYED.memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(DEPLOYED.timeout_seconds),
            **function_environment(),
        }
        self._workdir = Path(tempfile.mkdtemp(prefix="dev-server-rie-"))
        try:
            task_root = build_image_root(self._workdir / "task-root", artifact=artifact)
            runtime_dir = build_runtime_dir(self._workdir / "runtime")
            self._function = EmulatedFunction(task_root, runtime_dir, function_env)
        except (FileNotFoundError, RuntimeError) as error:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise SystemExit(f"cannot run the function under the emulator: {error}") from None

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        """The function's result, or ``None`` when the invocation failed (init error, crash, timeout)."""
        try:
            status, result = self._function.invoke(event, timeout=60)
        except (OSError, ValueError) as error:  # no answer (URLError, timeout), or not JSON
            status, result = None, error
        # A failed invocation comes back as {"errorType", "errorMessage", ...}: API Gateway answers 502.
        if status != 200 or (
            isinstance(result, dict) and "errorType" in result and "statusCode" not in result
        ):
            say(f"[dev-server] invocation failed: {status} {printable(str(result))}")
            return None
        return result

    def close(self) -> None:
        self._function.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)
