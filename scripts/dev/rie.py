"""The function under the real Lambda Runtime Interface Emulator, run exactly as in the image: one module
for the development server's ``--rie`` mode (:class:`RieInvoker`) and the integration tests
(:class:`EmulatedFunction`, :func:`isolated_python`).

The task root (dependencies + every file the Dockerfile copies) and the runtime client directory come
from :mod:`scripts.dev.image_root`. The interpreter runs with ``-S -s`` (no site-packages at all) and
``PYTHONPATH=<task root>:<runtime client>``, the two places a Lambda container imports from, so nothing
in this repository or its virtual environment can stand in for a file the image lacks. The emulator's
output (the runtime's START/END/REPORT lines with init and invoke durations, the function's logs and
metrics) goes to a log file or straight to the terminal, as CloudWatch Logs would show it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from lambda_fn import contract
from scripts import REPO_ROOT
from scripts.dev.image_root import build_image_root, build_runtime_dir, dockerfile_env

RIE: Final = REPO_ROOT / ".cache" / "bin" / "aws-lambda-rie"  # installed by scripts/setup
INVOKE_PATH: Final = "/2015-03-31/functions/function/invocations"  # the emulator's invoke API
START_TIMEOUT_SECONDS: Final = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def isolated_python(
    task_root: Path, runtime_dir: Path, function_env: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The interpreter command and environment of a Lambda container built from the image: the image's
    own ``ENV`` settings, then the function's configured variables (which win, as on Lambda)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONPATH": f"{task_root}:{runtime_dir}",
        **dockerfile_env(),
        **function_env,
    }
    return [sys.executable, "-S", "-s"], env


class EmulatedFunction:
    """One emulated function (one execution environment); use as a context manager. Its output goes to
    ``log_file`` when given (readable with :meth:`output` and :meth:`json_lines`), else to this terminal."""

    def __init__(
        self,
        task_root: Path,
        runtime_dir: Path,
        function_env: Mapping[str, str],
        *,
        log_file: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.log_file = log_file
        python, env = isolated_python(task_root, runtime_dir, function_env)
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
        log = None if self.log_file is None else self.log_file.open("wb")
        try:
            # A session of its own: stopping it ends exactly the emulator and the runtime it started (and
            # Ctrl-C in the development server's terminal reaches the server, which then stops it).
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=None if log is None else subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if log is not None:
                log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self._with_output(f"exited ({self.process.returncode})"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__(None, None, None)
        raise TimeoutError(self._with_output(f"did not listen on port {self.port}"))

    def _with_output(self, problem: str) -> str:
        output = self.output()
        return f"the Runtime Interface Emulator {problem}" + (f":\n{output}" if output else "")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def invoke(self, event: dict[str, Any], timeout: float = 30) -> tuple[int, Any]:
        """Sends one event; returns the emulator's HTTP status and the decoded result (for a failed
        invocation: 502 and Lambda's ``{"errorType": ..., "errorMessage": ...}``)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            # S310: the URL is the local emulator's, built from a constant scheme and host.
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def output(self) -> str:
        if self.log_file is None or not self.log_file.exists():
            return ""
        return self.log_file.read_text(errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines


class RieInvoker:
    """The development server's invoker: one emulated function built from a fresh image-equivalent
    directory; invocations are serialised, as in one execution environment."""

    def __init__(self, workdir: Path, function: EmulatedFunction) -> None:
        self._workdir = workdir
        self._function = function
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        function_env: dict[str, str],
        *,
        function_name: str,
        memory_mb: int,
        timeout_seconds: int,
        artifact: Path | None = None,
    ) -> RieInvoker:
        """Builds the task root (with ``artifact`` baked in instead of the default one, when given) and
        starts the emulator on it; exits with the reason if either fails."""
        if not RIE.is_file():
            raise SystemExit(f"{RIE} is missing: run scripts/setup")
        workdir = Path(tempfile.mkdtemp(prefix="dev-server-rie-"))
        try:
            task_root = build_image_root(workdir / "task-root", artifact=artifact)
        except (FileNotFoundError, ValueError) as error:
            shutil.rmtree(workdir, ignore_errors=True)
            raise SystemExit(f"cannot build the image-equivalent directory: {error}") from None
        function = EmulatedFunction(
            task_root,
            build_runtime_dir(workdir / "runtime"),
            {
                "AWS_LAMBDA_FUNCTION_NAME": function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_seconds),
                **function_env,
            },
        )
        invoker = cls(workdir, function)
        try:
            function.__enter__()
        except (RuntimeError, TimeoutError) as error:
            invoker.close()
            raise SystemExit(str(error)) from None
        return invoker

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        """The function's result, or ``None`` when the invocation failed (init error, crash, timeout)."""
        with self._lock:
            try:
                status, result = self._function.invoke(event, timeout=60)
            except (urllib.error.URLError, TimeoutError, ValueError) as exc:
                print(f"[dev-server] invocation failed: {exc}", file=sys.stderr)
                return None
        if status != 200:
            print(f"[dev-server] invocation failed: HTTP {status}", file=sys.stderr)
            return None
        # A function error comes back as {"errorType", "errorMessage", ...}: API Gateway answers 502.
        if isinstance(result, dict) and "errorType" in result and "statusCode" not in result:
            return None
        return result

    def close(self) -> None:
        self._function.__exit__(None, None, None)
        shutil.rmtree(self._workdir, ignore_errors=True)
