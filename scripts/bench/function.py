"""Measures the prediction function: cold start, warm latency, batch scaling, memory, installed size.

    python -m scripts.bench.function [--quick] [--json build/bench/function.json]

Every measurement runs in a fresh ``python -S`` process whose only import path is the image-equivalent
directory (scripts/dev/image_root.py), through the real entry point, with API Gateway REST proxy events
built by the development server's adapter. The timed process runs scripts/bench/function_worker.py, which
imports nothing of this harness. Results and the machine they came from: docs/benchmarks.md.
"""

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

from lambda_fn import contract
from scripts import REPO_ROOT
from scripts.dev.apigw_proxy import proxy_event
from scripts.dev.image_root import (
    build_image_root,
    dockerfile_env,
    installed_dependencies,
    installed_size_bytes,
)

WORK: Final = REPO_ROOT / "build" / "bench"
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
        **{name: post(contract.PATH_PREDICT_BATCH, body) for name, body in batches.items()},
    }


def run_worker(root: Path, events_file: Path, kind: str, iterations: int = 0) -> tuple[dict[str, Any], float]:
    """One worker in a fresh interpreter confined to ``root`` (with the image's ENV): its JSON line and the
    wall time from spawning the process to reading that line."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(root),
        "LAMBDA_TASK_ROOT": str(root),
        "TZ": "UTC",
        **dockerfile_env(),
        **contract.function_environment(stage="bench", log_level="INFO"),
    }
    command = [sys.executable, "-S", "-s", str(WORKER), kind, str(events_file), str(iterations)]
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed_ms = (time.perf_counter() - started) * 1000
        process.wait(timeout=600)
    if process.returncode != 0 or not line:
        raise RuntimeError(f"worker {kind} failed with exit code {process.returncode}")
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
    events_file = WORK / "events.json"
    events_file.write_text(json.dumps(events()), encoding="utf-8")
    run_worker(root, events_file, "cold")  # the first run writes the bytecode caches (the image ships them)
    cold = [run_worker(root, events_file, "cold") for _ in range(10)]
    return {
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
    return "\n".join(
        [
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
            f"Other warm paths (p50): `/health` {warm['health_p50_us']:.0f} µs, a 422 rejection "
            f"{warm['rejection_p50_us']:.0f} µs (it writes an INFO log line).",
            f"RSS by invocation count (MB, 10^6 bytes): {json.dumps(rss)}; peak {json.dumps(peak)}.",
            f"Import costs kept out of the image: numpy {report['import_numpy_ms']:.0f} ms, X-Ray SDK "
            f"(`aws_xray_sdk.core`, needed by Powertools Tracer) {report['import_xray_sdk_ms']:.0f} ms.",
            "",
            f"Machine: {report['machine']}.",
        ]
    )  # fmt: skip


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
