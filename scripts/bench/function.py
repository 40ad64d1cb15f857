"""Measures the prediction function: cold start, warm latency, batch scaling, memory, installed size.

    python -m scripts.bench.function [--quick] [--json build/bench/function.json]

Every measurement runs in a fresh ``python -S`` process whose only import path is the image-equivalent
directory, through the real entry point (scripts/bench/function_worker.py, which imports nothing of this
harness). The cold start is also compared, in interleaved rounds, with its floors and with the replaced
system; ``--quick`` leaves that out. Results: docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

from model.core import contract
from scripts import REPO_ROOT
from scripts.bench.function_report import BATCH_SIZES, ROUNDS, markdown
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.image_root import (
    build_image_root,
    build_runtime_dir,
    installed_dependencies,
    installed_size_bytes,
)

WORK: Final = REPO_ROOT / "build" / "bench"
WORKER: Final = Path(__file__).with_name("function_worker.py")


def hostile_bodies() -> dict[str, str]:
    """The most expensive bodies under the size limit, by family (docs/operations.md, "Threat model")."""
    under_guard = 2 * contract.BATCH_MAX  # commas: the most a body may hold before it is refused unparsed
    return {
        "300 000 empty objects": '{"bmi": [' + ",".join(["{}"] * 300_000) + "]}",
        "20 000 empty objects (just under the comma guard)": '{"bmi": ['
        + ",".join(["{}"] * under_guard)
        + "]}",
        "20 000 distinct unknown keys": "{" + ",".join(f'"k{i}": 0' for i in range(under_guard)) + "}",
        "10 000 strings": '{"bmi": [' + ",".join(['"x"'] * contract.BATCH_MAX) + "]}",
        "nesting 100 000 deep": '{"bmi": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nesting 20 000 deep, then an unclosed string of escaped quotes": '{"bmi": '
        + "[" * 20_000
        + '"'
        + '\\"' * 500_000,
        "20 000 decimals of 50 digits, then garbage": '{"bmi": ['
        + ",".join(["1." + "1" * 48] * under_guard)
        + "]x",
        "240 integers of 4 000 digits": '{"bmi": [' + ",".join(["9" * 4_000] * 240) + "]}",
        "a 1 MB string of escapes": '{"bmi": "' + "\\u00e9" * 170_000 + '"}',
        "a field repeated 20 000 times": "{" + ",".join(['"bmi": 30'] * under_guard) + "}",
    }


def events() -> dict[str, dict[str, Any]]:
    def post(path: str, body: object) -> dict[str, Any]:
        return proxy_event("POST", path, json.dumps(body).encode(), stage="bench")

    # Deterministic, realistic values (15-50 kg/m^2, some outside the training range).
    batches = {n: [round(15.0 + (i * 7.31) % 35.0, 1) for i in range(n)] for n in BATCH_SIZES}
    return {
        "predict": post(contract.PATH_PREDICT, {"bmi": 27.3}),
        "reject": post(contract.PATH_PREDICT, {"bmi": "27.3"}),
        "legacy": post(contract.PATH_LEGACY_STREAM, {"input": 0.0616962065186885}),
        "health": proxy_event("GET", contract.PATH_HEALTH, stage="bench"),
        "openapi": proxy_event("GET", contract.PATH_OPENAPI, stage="bench"),
        "docs": proxy_event("GET", contract.PATH_DOCS, stage="bench"),
        **{f"batch-{n}": post(contract.PATH_PREDICT_BATCH, {"bmi": bmis}) for n, bmis in batches.items()},
    }


def function_env(root: Path) -> dict[str, str]:
    """A container built from the image: its ENV, then the function's configuration (which wins)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(root),
        "LAMBDA_TASK_ROOT": str(root),
        "TZ": "UTC",
        **contract.function_environment(stage="bench", log_level="INFO"),
    }


def first_line(command: list[str], env: dict[str, str], cwd: Path) -> tuple[str, float]:
    """The first line a fresh process prints, and the wall time from spawning it to reading that line."""
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed_ms = (time.perf_counter() - started) * 1000
        process.wait(timeout=600)
    if process.returncode != 0 or not line:
        raise RuntimeError(f"{command[-3:]} failed with exit code {process.returncode}")
    return line, elapsed_ms


def worker(events_file: Path, kind: str, iterations: int = 0) -> list[str]:
    return [sys.executable, "-S", "-s", str(WORKER), kind, str(events_file), str(iterations)]


def run_worker(root: Path, events_file: Path, kind: str, iterations: int = 0) -> tuple[dict[str, Any], float]:
    line, elapsed_ms = first_line(worker(events_file, kind, iterations), function_env(root), root)
    result: dict[str, Any] = json.loads(line)
    return result, elapsed_ms


def import_cost_ms(module: str, runs: int = 5) -> float:
    """Median cost of importing ``module`` in a fresh process of this (full) environment."""
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def measure(*, quick: bool) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    root = build_image_root(WORK / "image-root")
    # Each worker reads only the events it sends: a cold start reads its one event inside the timed window,
    # and the megabytes of hostile bodies would weigh on every other worker's memory.
    all_events = events()
    events_file, cold_events, hostile_file = (
        WORK / f"events{suffix}.json" for suffix in ("", "-cold", "-hostile")
    )
    events_file.write_text(json.dumps(all_events), encoding="utf-8")
    cold_events.write_text(json.dumps({"predict": all_events["predict"]}), encoding="utf-8")
    hostile = {
        f"hostile-{name}": proxy_event("POST", contract.PATH_PREDICT_BATCH, body.encode(), stage="bench")
        for name, body in hostile_bodies().items()
    }
    hostile["batch-10000"] = all_events["batch-10000"]  # the valid batch the report compares them with
    hostile_file.write_text(json.dumps(hostile), encoding="utf-8")
    run_worker(root, cold_events, "cold")  # the first run writes the bytecode caches (the image ships them)
    cold = [run_worker(root, cold_events, "cold") for _ in range(ROUNDS)]
    comparison = {} if quick else compare_cold_starts(root, cold_events)
    return {
        "cold_comparison": comparison,
        "docs": run_worker(root, events_file, "docs")[0],
        "hostile": run_worker(root, hostile_file, "hostile", 3 if quick else 10)[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.platform(terse=True)}",
        "deps_mb": installed_size_bytes(installed_dependencies()) / 1e6,
        "cold_start_ms": statistics.median(ms for _, ms in cold),
        "cold_start_runs_ms": [round(ms, 1) for _, ms in cold],
        "cold_import_ms": statistics.median(result["import_ms"] for result, _ in cold),
        "cold_first_invocation_ms": statistics.median(result["first_invocation_ms"] for result, _ in cold),
        "load_average_during_cold_runs": round(os.getloadavg()[0], 2),
        "warm": run_worker(root, events_file, "warm", 5_000 if quick else 50_000)[0],
        "memory": run_worker(root, events_file, "memory", 20_000 if quick else 100_000)[0],
        "import_numpy_ms": import_cost_ms("numpy"),
        "import_xray_sdk_ms": import_cost_ms("aws_xray_sdk.core"),
    }


# --- The cold-start comparison ----------------------------------------------------------------------------
LOAD_ARTIFACT: Final = """
from model.core.serving import load_artifact, served_artifact_path
load_artifact(served_artifact_path())
print(1)
"""
MINIMAL_APP: Final = """
import json, sys
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
app, logger, metrics = APIGatewayRestResolver(), Logger(), Metrics(namespace="bench")
app.post("/v1/predict")(lambda: {"prediction": app.current_event.json_body["bmi"] * 10.1 - 113.8})
with open(sys.argv[1]) as events:
    print(app.resolve(json.load(events)["predict"], None)["statusCode"])
"""
REPLACED_CALL: Final = """
import asyncio, replaced_system
async def call():
    sent = []
    async def receive():
        return {"type": "http.request", "body": b'{"input": 0.0617}', "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/stream", "raw_path": b"/stream", "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json")], "server": ("x", 80),
             "client": ("y", 1)}
    await replaced_system.app(scope, receive, send)
    return sent[0]["status"]
print(asyncio.run(call()))
"""


def replaced_system() -> tuple[Path, Path]:
    """The replaced system's interpreter (its own virtual environment) and its pickled model."""
    venv, pickled = WORK / "replaced-venv", WORK / "replaced-model.pkl"
    python = venv / "bin" / "python"
    if not pickled.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        requirements = Path(__file__).with_name("replaced_system.txt")
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        fit = [str(python), str(Path(__file__).with_name("replaced_system.py")), "fit", str(pickled)]
        subprocess.run(fit, check=True)
    return python, pickled


def compare_cold_starts(root: Path, events_file: Path) -> dict[str, float]:
    """Median wall time from spawning each program to its first answer, over interleaved rounds."""
    runtime = build_runtime_dir(WORK / "lambda-runtime")
    replaced_python, pickled = replaced_system()
    here = Path(__file__).parent
    isolated, env = [sys.executable, "-S", "-s", "-c"], function_env(root)
    bare = {"PATH": "/usr/bin:/bin", "TZ": "UTC"}
    programs: dict[str, tuple[list[str], dict[str, str], Path]] = {
        "bare interpreter": ([*isolated, "print(1)"], bare, root),
        "Lambda runtime client (awslambdaric) import": (
            [*isolated, "import awslambdaric.bootstrap; print(1)"], {**bare, "PYTHONPATH": str(runtime)}, root
        ),
        "artifact load (schema, checksum, policy)": ([*isolated, LOAD_ARTIFACT], env, root),
        "minimal Powertools app (resolver, Logger, Metrics)": (
            [*isolated, MINIMAL_APP, str(events_file)], env, root
        ),
        "this function": (worker(events_file, "cold"), env, root),
        "the replaced system (FastAPI, pickled scikit-learn model)": (
            [str(replaced_python), "-c", REPLACED_CALL],
            {**bare, "PYTHONPATH": str(here), "REPLACED_MODEL": str(pickled)},
            here,
        ),
    }  # fmt: skip
    for command, env, cwd in programs.values():
        first_line(command, env, cwd)  # bytecode caches written, files in the page cache
    samples: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(ROUNDS):
        for name, (command, env, cwd) in programs.items():
            samples[name].append(first_line(command, env, cwd)[1])
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks the prediction function.")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    report = measure(quick=args.quick)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
