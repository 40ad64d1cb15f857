"""Runs the function the way Lambda does: the real Runtime Interface Emulator, ``awslambdaric``, and a
task root holding exactly what the image holds (built by :mod:`scripts.image_root`).

The interpreter runs with ``-S -s`` (no site-packages at all) and ``PYTHONPATH=<task root>:<runtime
client>``, the two places a Lambda container imports from, so nothing in this repository or its
virtual environment can stand in for a missing file of the image.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from lambda_fn import contract
from scripts.image_root import REPO_ROOT, dockerfile_env

RIE = REPO_ROOT / ".cache" / "bin" / "aws-lambda-rie"
INVOCATIONS = "/2015-03-31/functions/function/invocations"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def isolated_python(task_root: Path, runtime_dir: Path, **extra_env: str) -> tuple[list[str], dict[str, str]]:
    """The interpreter command and environment of a Lambda container built from the image."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": f"{task_root}:{runtime_dir}",
        "POWERTOOLS_SERVICE_NAME": contract.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": contract.METRICS_NAMESPACE,
        contract.ENV_STAGE: "integration",
        **dockerfile_env(),
        **extra_env,
    }
    return [sys.executable, "-S", "-s"], env


class LambdaUnderRie:
    """One emulated function; use as a context manager. The emulator's output (the function's log and
    EMF lines, and the emulator's own lines) is collected in a file, like CloudWatch Logs would."""

    def __init__(self, task_root: Path, runtime_dir: Path, log_file: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.log_file = log_file
        python, env = isolated_python(task_root, runtime_dir, **extra_env)
        self.command = [
            str(RIE),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{free_port()}",  # not the default 9001: other emulators may be running
            *python,
            "-m",
            "awslambdaric",
            contract.HANDLER,
        ]
        self.env = env
        self.cwd = task_root
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the emulator exited early:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise TimeoutError(f"the emulator did not listen on port {self.port}:\n{self.output()}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        # The emulator and the runtime it started share the session created for them: end exactly those.
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def invoke(self, event: dict[str, Any], timeout: float = 30) -> tuple[int, dict[str, Any]]:
        """Sends one event; returns the emulator's HTTP status and the decoded result."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOCATIONS}",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # the local emulator
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def output(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def json_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines
