"""The local loop's benchmark: ``./scripts/serve`` on a fresh clone of HEAD (no .venv, .cache or model, pip's
cache off) until ``GET /health`` answers, then a second start and ``--help``.

    .venv/bin/python -m scripts.bench.serve [--pypi-only]

``--pypi-only`` ignores this machine's pip configuration, so every package comes from PyPI. Prints a
Markdown table for docs/benchmarks.md, and setup's own step timings."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Final

from scripts import REPO_ROOT

START_LIMIT_SECONDS: Final = 300


def serve_until_healthy(repo: Path, env: dict[str, str]) -> tuple[float, list[str]]:
    """Seconds from starting ``./scripts/serve`` to its first 200 on /health, and what it printed."""
    started = time.perf_counter()
    process = subprocess.Popen(
        ["./scripts/serve", "--port", "0"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    try:
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            if line.startswith("Serving "):
                url = line.rsplit(" ", 1)[1].strip()
                break
            if time.perf_counter() - started > START_LIMIT_SECONDS:
                raise SystemExit("bench_serve: no answer within the limit")
        else:
            raise SystemExit("bench_serve: serve exited before serving:\n" + "\n".join(output))
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        return time.perf_counter() - started, output
            except OSError:
                time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Seconds ``command`` takes to run to its end (it must succeed; its output is not shown)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench.serve", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--pypi-only", action="store_true", help="ignore this machine's pip configuration")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    env["PIP_NO_CACHE_DIR"] = "1"
    if args.pypi_only:
        env["PIP_CONFIG_FILE"] = os.devnull
        env.pop("PIP_FIND_LINKS", None)
        env.pop("PIP_EXTRA_INDEX_URL", None)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        repo = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(repo)], check=True)
        first, output = serve_until_healthy(repo, env)
        second, _ = serve_until_healthy(repo, env)
        help_seconds = min(timed(["./scripts/serve", "--help"], repo, env) for _ in range(5))
    print("| measure | seconds |\n|---|---|")
    print(f"| fresh clone: `./scripts/serve` until `GET /health` answers | {first:.1f} |")
    print(f"| second start (set up, model trained) | {second:.1f} |")
    print(f"| `./scripts/serve --help` (best of 5) | {help_seconds:.2f} |")
    print("\nWhat the first run printed:\n")
    shown = (re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output)
    print("\n".join(f"    {line}" for line in shown if line.startswith(("[setup]", "[serve]"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
