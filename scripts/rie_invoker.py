"""The development server's ``--rie`` mode: the function runs under the real Lambda Runtime Interface
Emulator, from the image-equivalent directory, exactly as in the image.

The task root (dependencies + every file the Dockerfile copies) and the runtime client directory come
from :mod:`scripts.image_root`; the interpreter runs with ``-S -s`` and ``PYTHONPATH=<task root>:<runtime
client>``, so nothing from this repository or its virtual environment can stand in for a file the image
lacks. The emulator's output (the runtime's START/END/REPORT lines with init and invoke durations, the
function's logs and metrics) goes straight to this terminal, as CloudWatch Logs would show it.
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
from pathlib import Path
from typing import Any, Final

from lambda_fn import contract
from scripts.image_root import REPO_ROOT, build_image_root, build_runtime_dir, dockerfile_env

RIE: Final = REPO_ROOT / ".cache" / "bin" / "aws-lambda-rie"  # installed by scripts/setup
INVOCATIONS: Final = "/2015-03-31/functions/function/invocations"
START_TIMEOUT_SECONDS: Final = 10


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RieInvoker:
    """One emulated function (one execution environment): invocations are serialised."""

    def __init__(self, workdir: Path, process: subprocess.Popen[bytes], port: int) -> None:
        self._workdir = workdir
        self._process = process
        self._url = f"http://127.0.0.1:{port}{INVOCATIONS}"
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls, function_env: dict[str, str], *, function_name: str, memory_mb: int, timeout_seconds: int
    ) -> RieInvoker:
        if not RIE.is_file():
            raise SystemExit(f"{RIE} is missing: run scripts/setup")
        workdir = Path(tempfile.mkdtemp(prefix="dev-server-rie-"))
        task_root = build_image_root(workdir / "task-root")
        runtime_dir = build_runtime_dir(workdir / "runtime")
        port = _free_port()
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "LAMBDA_TASK_ROOT": str(task_root),
            "PYTHONPATH": f"{task_root}:{runtime_dir}",
            "AWS_LAMBDA_FUNCTION_NAME": function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_seconds),
            **dockerfile_env(),  # the image's own ENV settings
            **function_env,
        }
        command = [
            str(RIE),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            "--runtime-api-address",
            f"127.0.0.1:{_free_port()}",  # not the default 9001: another emulator may be running
            *(sys.executable, "-S", "-s", "-m", "awslambdaric", contract.HANDLER),
        ]
        # A session of its own: Ctrl-C reaches the server, which then stops the emulator and its runtime.
        process = subprocess.Popen(command, cwd=task_root, env=env, start_new_session=True)
        invoker = cls(workdir, process, port)
        invoker._wait_until_listening(port)
        return invoker

    def _wait_until_listening(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.close()
                raise SystemExit(f"the Runtime Interface Emulator exited ({self._process.returncode})")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise SystemExit(f"the Runtime Interface Emulator did not listen on port {port}")

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        """The function's result, or ``None`` when the invocation failed (init error, crash, timeout)."""
        # S310: the URL is the local emulator's, built in __init__ from a constant scheme and host.
        request = urllib.request.Request(  # noqa: S310
            self._url, data=json.dumps(event).encode(), headers={"Content-Type": "application/json"}
        )
        with self._lock:
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    result = json.loads(response.read())
            except (urllib.error.URLError, TimeoutError, ValueError) as exc:
                print(f"[dev-server] invocation failed: {exc}", file=sys.stderr)
                return None
        # A function error comes back as {"errorType", "errorMessage", ...}: API Gateway answers 502.
        if isinstance(result, dict) and "errorType" in result and "statusCode" not in result:
            return None
        return result

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGTERM)
                self._process.wait(timeout=5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)
        shutil.rmtree(self._workdir, ignore_errors=True)
