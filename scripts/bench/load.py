"""Bounded load test on loopback: latency percentiles and errors of the handler path.

    python -m scripts.bench.load [--url http://127.0.0.1:3000] [--seconds 10] [--connections 4]

Without ``--url`` it starts the development server on a free port. Each scenario runs ``--connections``
closed-loop keep-alive connections for ``--seconds``; any non-2xx answer or transport error is an error (exit
1). It measures the real handler behind the development server's adapter, not Lambda or API Gateway."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final
from urllib.parse import urlsplit

from model.core import contract
from model.sdk.client import is_loopback
from scripts import REPO_ROOT

MAX_SECONDS: Final = 30.0  # per run, all scenarios together: a load test here is bounded by design
BATCH_SIZE: Final = 100


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    path: str
    batch_size: int | None  # None: one BMI per request


SCENARIOS: Final = (
    Scenario(f"POST {contract.PATH_PREDICT}", contract.PATH_PREDICT, None),
    Scenario(
        f"POST {contract.PATH_PREDICT_BATCH} ({BATCH_SIZE} values)", contract.PATH_PREDICT_BATCH, BATCH_SIZE
    ),
)


@dataclass(slots=True)
class Result:
    scenario: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + len(self.errors)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    def row(self) -> str:
        if not self.latencies_ms:
            return f"| {self.scenario} | 0 | - | - | - | - | - | {len(self.errors)} |"
        return (
            f"| {self.scenario} | {self.requests} | {self.requests / self.seconds:.0f} "
            f"| {self.percentile(50):.2f} | {self.percentile(90):.2f} | {self.percentile(99):.2f} "
            f"| {max(self.latencies_ms):.2f} | {len(self.errors)} |"
        )


def run_scenario(base_url: str, scenario: Scenario, *, seconds: float, connections: int) -> Result:
    split = urlsplit(base_url)
    result = Result(scenario.name, seconds)
    deadline = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 (test inputs, not secrets)
        conn = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port or 80, timeout=30)
        while time.perf_counter() < deadline:
            bmis = [round(rng.uniform(18.0, 42.0), 1) for _ in range(scenario.batch_size or 1)]
            body = json.dumps({"bmi": bmis if scenario.batch_size else bmis[0]})
            started = time.perf_counter()
            try:
                conn.request("POST", scenario.path, body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")  # list.append is atomic: no lock
                conn.close()
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            if 200 <= response.status < 300:
                result.latencies_ms.append(elapsed_ms)
            else:
                result.errors.append(f"HTTP {response.status}")
        conn.close()

    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(worker, range(connections)))  # list(): a worker's exception is raised here
    return result


def _drain(stream: IO[str]) -> None:
    for _line in stream:
        pass


@contextmanager
def local_server() -> Iterator[str]:
    """The development server on a free loopback port, for the duration of the benchmark."""
    process = subprocess.Popen(
        # --json-logs: the function's logs and metrics are written out, as on Lambda, not dropped
        [sys.executable, "-m", "scripts.dev.server", "--port", "0", "--json-logs"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # one access-log line per request would only cost time
        text=True,
    )
    try:
        assert process.stdout is not None
        # The function's init logs come first; the server's "Serving ... on URL" line follows.
        for line in process.stdout:
            if line.startswith("Serving "):
                break
        else:
            raise SystemExit("bench_load: the development server exited before serving")
        # Keep draining stdout (the function's logs and metrics) so that the server never blocks on it.
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def machine() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        cpuinfo = []
    models = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or platform.machine()
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} vCPU ({cpu}), {system}, Python {platform.python_version()}"


def run(base_url: str, *, seconds: float, connections: int) -> list[Result]:
    if not is_loopback(urlsplit(base_url).hostname or ""):
        raise SystemExit("bench_load: load tests run against 127.0.0.1 only")
    return [run_scenario(base_url, s, seconds=seconds, connections=connections) for s in SCENARIOS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    args = parser.parse_args(argv)
    if args.seconds * len(SCENARIOS) > MAX_SECONDS or args.seconds <= 0 or args.connections < 1:
        parser.error(f"the run is bounded: 0 < seconds x {len(SCENARIOS)} scenarios <= {MAX_SECONDS:g}")

    with nullcontext(args.url) if args.url else local_server() as url:
        results = run(url, seconds=args.seconds, connections=args.connections)

    print(f"Machine: {machine()}")
    print(f"{contract.SERVICE_NAME}: {args.connections} connections, {args.seconds:g} s per scenario\n")
    print("| scenario | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())
    errors = [e for r in results for e in r.errors]
    if errors:
        print(f"\n{len(errors)} errors, first: {errors[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
