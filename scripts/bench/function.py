"""Measures the prediction function: cold start, warm latency, batch scaling, memory, installed size.

    python -m scripts.bench.function [--quick] [--baseline REF] [--json build/bench/function.json]

Every measurement runs in a fresh ``python -S`` process whose only import path is the image-equivalent
directory (scripts/dev/image_root.py), through the real entry point, with API Gateway REST proxy events
built by the development server's adapter. The timed process runs scripts/bench/function_worker.py, which
imports nothing of this harness. Results and the machine they came from: docs/benchmarks.md.

The cold start is also compared, in interleaved rounds of one run each, with its floors (a bare
interpreter, the Lambda runtime client's import, loading the artifact, a minimal Powertools app), with the
function as it was at ``--baseline`` (built from that commit's own Dockerfile and lock) and with the system
this service replaces (scripts/bench/replaced_system.py, in its own virtual environment). ``--quick``
leaves the comparison out.
"""

from __future__ import annotations

import argparse
import json
import math
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
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.image_root import (
    build_image_root,
    build_runtime_dir,
    installed_dependencies,
    installed_size_bytes,
)

WORK: Final = REPO_ROOT / "build" / "bench"
BASELINE: Final = "626574a"  # main when issue 16 measured the cold start it asks to halve
ROUNDS: Final = 10
WORKER: Final = Path(__file__).with_name("function_worker.py")
BATCH_SIZES: Final = (1, 10, 100, 1_000, 10_000)
TARGETS: Final = {
    "cold_start_ms": 250.0,
    "warm_p50_us": 100.0,
    "warm_p99_us": 300.0,
    "batch_1000_ms": 1.0,
    "rss_after_10k_mb": 80.0,
    "deps_mb": 40.0,
}


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
        "240 integers of 4 000 digits": '{"bmi": [' + ",".join(["9" * 4_000] * 240) + "]}",
        "a 1 MB string of escapes": '{"bmi": "' + "\\u00e9" * 170_000 + '"}',
        "a field repeated 20 000 times": "{" + ",".join(['"bmi": 30'] * under_guard) + "}",
    }


def events() -> dict[str, dict[str, Any]]:
    def post(path: str, body: object) -> dict[str, Any]:
        return proxy_event("POST", path, json.dumps(body).encode(), stage="bench")

    # Deterministic, realistic values (15-50 kg/m^2, some outside the training range).
    batches = {
        f"batch-{n}": {"bmi": [round(15.0 + (i * 7.31) % 35.0, 1) for i in range(n)]} for n in BATCH_SIZES
    }
    return {
        "predict": post(contract.PATH_PREDICT, {"bmi": 27.3}),
        "reject": post(contract.PATH_PREDICT, {"bmi": "27.3"}),
        "legacy": post(contract.PATH_LEGACY_STREAM, {"input": 0.0616962065186885}),
        "health": proxy_event("GET", contract.PATH_HEALTH, stage="bench"),
        "openapi": proxy_event("GET", contract.PATH_OPENAPI, stage="bench"),
        "docs": proxy_event("GET", contract.PATH_DOCS, stage="bench"),
        **{name: post(contract.PATH_PREDICT_BATCH, body) for name, body in batches.items()},
    }


def hostile_events() -> dict[str, dict[str, Any]]:
    return {
        f"hostile-{name}": proxy_event("POST", contract.PATH_PREDICT_BATCH, body.encode(), stage="bench")
        for name, body in hostile_bodies().items()
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


def worker(root: Path, events_file: Path, kind: str, iterations: int = 0) -> list[str]:
    return [sys.executable, "-S", "-s", str(WORKER), kind, str(events_file), str(iterations)]


def run_worker(root: Path, events_file: Path, kind: str, iterations: int = 0) -> tuple[dict[str, Any], float]:
    line, elapsed_ms = first_line(worker(root, events_file, kind, iterations), function_env(root), root)
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


def measure(*, quick: bool, baseline: str) -> dict[str, Any]:
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
    hostile_file.write_text(
        json.dumps({**hostile_events(), "batch-10000": all_events["batch-10000"]}), encoding="utf-8"
    )
    run_worker(root, cold_events, "cold")  # the first run writes the bytecode caches (the image ships them)
    cold = [run_worker(root, cold_events, "cold") for _ in range(ROUNDS)]
    comparison = {} if quick else compare_cold_starts(root, cold_events, baseline)
    return {
        "cold_comparison": comparison,
        "docs": run_worker(root, events_file, "docs")[0],
        "hostile": run_worker(root, hostile_file, "hostile", 3 if quick else 10)[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.platform(terse=True)}",
        "deps_mb": installed_size_bytes(installed_dependencies(use_cache=True)) / 1e6,
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
from model.core.artifact import DEFAULT_ARTIFACT_PATH, load_artifact
load_artifact(DEFAULT_ARTIFACT_PATH)
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


def baseline_root(ref: str) -> Path:
    """The image-equivalent directory of the function at ``ref``, built by that commit's own tooling from
    its own Dockerfile and lock, with the model its own trainer makes."""
    tree = WORK / f"baseline-{ref}"
    if not tree.exists():
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", ref], cwd=REPO_ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        subprocess.run([sys.executable, "-m", "model.train"], cwd=tree, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "scripts.image_root", "image-root"], cwd=tree, check=True)
    return tree / "image-root"


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


def compare_cold_starts(root: Path, events_file: Path, baseline: str) -> dict[str, float]:
    """Median wall time from spawning each program to its first answer, over interleaved rounds."""
    old = baseline_root(baseline)
    runtime = build_runtime_dir(WORK / "lambda-runtime")
    replaced_python, pickled = replaced_system()
    here = Path(__file__).parent
    bare = {"PATH": "/usr/bin:/bin", "TZ": "UTC"}
    programs: dict[str, tuple[list[str], dict[str, str], Path]] = {
        "bare interpreter": ([sys.executable, "-S", "-s", "-c", "print(1)"], bare, root),
        "Lambda runtime client (awslambdaric) import": (
            [sys.executable, "-S", "-s", "-c", "import awslambdaric.bootstrap; print(1)"],
            {**bare, "PYTHONPATH": str(runtime)},
            root,
        ),
        "artifact load (schema, checksum, policy)": (
            [sys.executable, "-S", "-s", "-c", LOAD_ARTIFACT],
            function_env(root),
            root,
        ),
        "minimal Powertools app (resolver, Logger, Metrics)": (
            [sys.executable, "-S", "-s", "-c", MINIMAL_APP, str(events_file)], function_env(root), root
        ),
        "this function": (worker(root, events_file, "cold"), function_env(root), root),
        f"the function at {baseline} (before this work)": (
            worker(old, events_file, "cold"), function_env(old), old
        ),
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


def markdown(report: dict[str, Any]) -> str:
    warm, memory, batch = report["warm"], report["memory"], report["warm"]["batch_ms"]
    rss, peak = memory["rss_mb"], memory["peak_rss_mb"]
    last = max(rss, key=int)
    growth = rss[last] - rss["10000"]

    def row(label: str, value: float, target: str, unit: str, digits: int) -> str:
        limit = TARGETS[target]
        verdict = "✅" if value < limit else "❌"
        return f"| {label} | {value:.{digits}f} {unit} | < {limit:.0f} {unit} | {verdict} |"

    sizes = [str(n) for n in BATCH_SIZES]
    docs = report["docs"]
    return "\n".join(
        [
            *comparison_table(report["cold_comparison"]),
            *memory_table(report),
            "| Measure | Result | Target | |",
            "|---|---|---|---|",
            row("Cold start: fresh process, import + one /v1/predict (median of 10)", report["cold_start_ms"],
                "cold_start_ms", "ms", 0),
            row("Warm, one prediction, full handler: p50", warm["warm_p50_us"], "warm_p50_us", "µs", 0),
            row("Warm, one prediction, full handler: p99", warm["warm_p99_us"], "warm_p99_us", "µs", 0),
            row("Warm, 1 000-value batch (median)", batch["1000"], "batch_1000_ms", "ms", 2),
            row("Peak RSS after 10 000 invocations", peak["10000"], "rss_after_10k_mb", "MB", 1),
            f"| RSS growth from 10 000 to {int(last):,} invocations | {growth:+.2f} MB | none | "
            f"{'✅' if growth < 1.0 else '❌'} |".replace(",", " "),
            row("Installed runtime dependencies", report["deps_mb"], "deps_mb", "MB", 1),
            *hostile_table(report["hostile"]),
            "",
            "Batch scaling (median per invocation, full handler):",
            "",
            "| values | " + " | ".join(f"{int(n):,}".replace(",", " ") for n in sizes) + " |",
            "|---|" + "---|" * len(sizes),
            "| ms | " + " | ".join(f"{batch[n]:.3f}" for n in sizes) + " |",
            "| µs per value | " + " | ".join(f"{1000 * batch[n] / int(n):.2f}" for n in sizes) + " |",
            "",
            f"Cold start detail: import of the handler (model load included) {report['cold_import_ms']:.0f} "
            f"ms, first invocation {report['cold_first_invocation_ms']:.1f} ms; runs (ms): "
            f"{report['cold_start_runs_ms']}; 1-minute load average "
            f"{report['load_average_during_cold_runs']}.",
            f"First documentation requests after init: `/openapi.json` {docs['first_openapi_ms']:.0f} ms, "
            f"`/docs` {docs['first_docs_ms']:.0f} ms (built on first request, then cached).",
            f"Other warm paths (p50): `/health` {warm['health_p50_us']:.0f} µs, a 422 rejection "
            f"{warm['rejection_p50_us']:.0f} µs (it writes an INFO log line).",
            f"RSS by invocation count (MB, 10^6 bytes): {json.dumps(rss)}; peak {json.dumps(peak)}.",
            f"Import costs kept out of the image: numpy {report['import_numpy_ms']:.0f} ms, X-Ray SDK "
            f"(`aws_xray_sdk.core`, needed by Powertools Tracer) {report['import_xray_sdk_ms']:.0f} ms.",
            "",
            f"Machine: {report['machine']}.",
        ]
    )  # fmt: skip


def hostile_table(hostile: dict[str, Any]) -> list[str]:
    reference = hostile["cpu_ms"]["batch-10000"]
    rows = [
        f"| {name.removeprefix('hostile-')} | {ms:.2f} ms | {ms / reference:.1f}x |"
        for name, ms in sorted(hostile["cpu_ms"].items(), key=lambda item: -item[1])
        if name.startswith("hostile-")
    ]
    return [
        "",
        "Most expensive bodies under the size limit (CPU per request, best of runs; target: at most 10x a "
        f"valid 10 000-value batch, {reference:.2f} ms here; peak RSS of the process "
        f"{hostile['peak_rss_mb']:.0f} MB):",
        "",
        "| body | CPU | relative to a valid 10 000-value batch |",
        "|---|---|---|",
        *rows,
    ]


def comparison_table(medians: dict[str, float]) -> list[str]:
    if not medians:
        return []
    this = medians["this function"]
    before = next(ms for name, ms in medians.items() if name.startswith("the function at"))
    replaced = next(ms for name, ms in medians.items() if name.startswith("the replaced system"))
    rows = [f"| {name} | {ms:.0f} ms | {ms / this:.2f}x |" for name, ms in medians.items()]
    return [
        f"Cold start, interleaved rounds (median of {ROUNDS}; spawn to first answer):",
        "",
        "| program | cold start | relative to this function |",
        "|---|---|---|",
        *rows,
        "",
        f"This function takes {this / before:.2f}x the cold start it had before (target: at most 0.55x) and "
        f"is {replaced / this:.0f}x faster than the replaced system (target: at least 18x).",
        "",
    ]


# Lambda gives a function CPU in proportion to its memory: one vCPU at 1 769 MB. Prices: arm64, us-east-1 and
# eu-west-1, December 2026 (aws.amazon.com/lambda/pricing): per GB-second of billed duration, per request.
FULL_VCPU_MB: Final = 1_769
PRICE_PER_GB_SECOND: Final = 0.0000133334
PRICE_PER_MILLION_REQUESTS: Final = 0.20
MEMORY_SIZES_MB: Final = (128, 256, 512, 1_024)


def memory_table(report: dict[str, Any]) -> list[str]:
    """Cold start, billed duration and monthly cost by memory size, from this run's single-core figures
    scaled by the CPU share Lambda allocates (assumptions in docs/deploy.md, "Memory size")."""
    cold_ms = report["cold_start_ms"]
    warm_ms = report["warm"]["warm_p50_us"] / 1000
    batch_ms = report["warm"]["batch_ms"]["1000"]
    rows = []
    for mb in MEMORY_SIZES_MB:
        share = min(1.0, mb / FULL_VCPU_MB)
        billed_single, billed_batch = (max(1, math.ceil(ms / share)) for ms in (warm_ms, batch_ms))
        monthly = [
            requests * PRICE_PER_MILLION_REQUESTS / 1e6
            + requests * billed_single / 1000 * mb / 1024 * PRICE_PER_GB_SECOND
            for requests in (1e6, 100e6)
        ]
        rows.append(
            f"| {mb} MB | {share:.2f} | {cold_ms / share:.0f} ms | {billed_single} ms | {billed_batch} ms | "
            f"${monthly[0]:.2f} | ${monthly[1]:.2f} |"
        )
    return [
        "",
        "Memory size (Lambda only; CPU share = memory / 1 769 MB; cold start and billed durations are this "
        "run's single-core figures divided by that share, billed in whole milliseconds):",
        "",
        "| memory | vCPU | cold start | billed, one prediction | billed, 1 000-value batch | "
        "1 M predictions / month | 100 M predictions / month |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks the prediction function.")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--baseline", default=BASELINE, help=f"commit to compare with (default {BASELINE})")
    args = parser.parse_args(argv)
    report = measure(quick=args.quick, baseline=args.baseline)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
