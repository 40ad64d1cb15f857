"""Measures the prediction function: cold start, warm latency, batch scaling, memory, installed size.

Run from the repository root (after ``python -m model.train``)::

    python -m scripts.bench.function            # prints a Markdown report
    python -m scripts.bench.function --quick    # fewer iterations, for a smoke run

Every measurement of the function runs in a fresh ``python -S`` process whose only import path is the
image-equivalent directory (:mod:`scripts.dev.image_root`): the code, dependencies and artifact the image
holds, and nothing from this repository's virtual environment. Invocations go through the real entry point
(``lambda_fn.handler.handler``) with API Gateway REST proxy events, Logger and Metrics included; their
output goes to /dev/null (in Lambda it goes to a pipe read by the runtime).

This file is also the worker: ``python -S scripts/bench/function.py --worker <kind>`` runs one
measurement and prints one JSON line. The worker imports nothing but the standard library and the
function, so it can run with the image root as its whole import path.
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

# The worker runs with the image root as its only import path: the repository is found by path, not import.
IMAGE_ROOT: Final = Path(__file__).resolve().parents[2] / "build" / "bench-image-root"

TARGETS: Final = {
    "cold_start_ms": 250.0,
    "warm_p50_us": 100.0,
    "warm_p99_us": 300.0,
    "batch_1000_ms": 1.0,
    "rss_after_10k_mb": 80.0,
    "deps_mb": 40.0,
}


# --- Worker side: standard library + the function only -------------------------------------------------
class _Context:
    function_name = "diabetes-progression-bench"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:diabetes-progression-bench"
    aws_request_id = "bench-request"


def _event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": "bench-request-id",
            "stage": "bench",
            "path": f"/bench{path}",
            "httpMethod": method,
            "resourcePath": path,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _batch_body(size: int) -> str:
    # Deterministic, realistic values (18.0-42.2 kg/m^2, some outside the training range).
    return json.dumps({"bmi": [round(15.0 + (i * 7.31) % 35.0, 1) for i in range(size)]})


def _silence_stdout() -> Any:
    """Keeps a handle on the real stdout for the result and sends the function's output to /dev/null
    (Powertools' Logger holds sys.stdout from import time, so the file descriptor itself is redirected)."""
    real = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    return real


def _timed_ns(handler: Any, event: dict[str, Any], context: Any, n: int) -> list[int]:
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        handler(event, context)
        samples.append(time.perf_counter_ns() - start)
    return samples


def _percentile(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0  # µs


def _worker_cold(out: Any) -> None:
    started = time.perf_counter()
    from lambda_fn.handler import handler  # importing it is what is measured

    imported = time.perf_counter()
    context: Any = _Context()  # duck-typed like the runtime's own context object
    response = handler(_event("POST", contract.PATH_PREDICT, '{"bmi": 27.3}'), context)
    answered = time.perf_counter()
    out.write(
        json.dumps(
            {
                "status": response["statusCode"],
                "import_ms": (imported - started) * 1000,
                "first_invocation_ms": (answered - imported) * 1000,
            }
        )
        + "\n"
    )
    out.flush()


def _worker_warm(out: Any, iterations: int) -> None:
    from lambda_fn.handler import handler

    context = _Context()
    one = _event("POST", contract.PATH_PREDICT, '{"bmi": 27.3}')
    _timed_ns(handler, one, context, 2000)  # warm-up: caches, branch predictors, allocator pools
    single = _timed_ns(handler, one, context, iterations)
    result: dict[str, Any] = {
        "warm_p50_us": _percentile(single, 0.50),
        "warm_p99_us": _percentile(single, 0.99),
        "health_p50_us": _percentile(
            _timed_ns(handler, _event("GET", contract.PATH_HEALTH), context, iterations // 4), 0.5
        ),
        "rejection_p50_us": _percentile(
            _timed_ns(
                handler, _event("POST", contract.PATH_PREDICT, '{"bmi": "27.3"}'), context, iterations // 4
            ),
            0.5,
        ),
        "batch_ms": {},
    }
    # What one INFO line costs (why successes log at DEBUG): the rejection line's fields, formatted by
    # Powertools' JSON formatter and written to stdout.
    from lambda_fn.observability import logger

    fields = {
        "method": "POST",
        "path": contract.PATH_PREDICT,
        "status": 422,
        "error_code": "validation_error",
    }

    def log_line(*_: Any) -> None:
        logger.info("request rejected", extra=fields)

    result["info_log_line_p50_us"] = _percentile(_timed_ns(log_line, {}, None, iterations // 4), 0.5)
    for size in (1, 10, 100, 1000, 10000):
        event = _event("POST", contract.PATH_PREDICT_BATCH, _batch_body(size))
        repeats = max(20, min(2000, 200_000 // size))
        _timed_ns(handler, event, context, max(3, repeats // 10))
        result["batch_ms"][str(size)] = _percentile(_timed_ns(handler, event, context, repeats), 0.5) / 1000.0
    out.write(json.dumps(result) + "\n")
    out.flush()


def _rss_mb() -> float:
    with Path("/proc/self/statm").open() as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _worker_memory(out: Any, total: int) -> None:
    import resource

    from lambda_fn.handler import handler

    context: Any = _Context()
    # A realistic mix: single predictions, batches, rejections, health checks.
    events = [
        _event("POST", contract.PATH_PREDICT, '{"bmi": 27.3}'),
        _event("POST", contract.PATH_PREDICT_BATCH, _batch_body(100)),
        _event("POST", contract.PATH_PREDICT, '{"bmi": "oops"}'),
        _event("GET", contract.PATH_HEALTH),
        _event("POST", contract.PATH_LEGACY_STREAM, '{"input": 0.0616962065186885}'),
    ]
    rss: dict[str, float] = {}
    peak: dict[str, float] = {}
    for i in range(1, total + 1):
        handler(events[i % len(events)], context)
        if i in (1, 1000, 10_000) or i % 25_000 == 0:
            rss[str(i)] = round(_rss_mb(), 2)
            peak[str(i)] = round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6, 2
            )  # kB -> MB
    out.write(json.dumps({"rss_mb": rss, "peak_rss_mb": peak}) + "\n")
    out.flush()


def _worker(kind: str, iterations: int) -> None:
    out = _silence_stdout()
    if kind == "cold":
        _worker_cold(out)
    elif kind == "warm":
        _worker_warm(out, iterations)
    elif kind == "memory":
        _worker_memory(out, iterations)
    else:
        raise SystemExit(f"unknown worker {kind!r}")


# --- Parent side -----------------------------------------------------------------------------------------
def _run_worker(kind: str, iterations: int = 0) -> tuple[dict[str, Any], float]:
    """Runs a worker in a fresh interpreter confined to the image root (with the image's ENV); returns its
    JSON line and the wall time from spawning the process to reading that line."""
    from scripts.dev.image_root import dockerfile_env

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(IMAGE_ROOT),
        "LAMBDA_TASK_ROOT": str(IMAGE_ROOT),
        **contract.function_environment(stage="bench", log_level="INFO"),
        "TZ": "UTC",
        **dockerfile_env(),
    }
    command = [
        sys.executable,
        "-S",
        "-s",
        str(Path(__file__)),
        "--worker",
        kind,
        "--iterations",
        str(iterations),
    ]
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, cwd=IMAGE_ROOT, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        elapsed_ms = (time.perf_counter() - started) * 1000
        process.wait(timeout=600)
    if process.returncode != 0 or not line:
        raise RuntimeError(f"worker {kind} failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(line)
    return result, elapsed_ms


def _import_cost_ms(module: str, runs: int = 5) -> float:
    """Median cost of importing ``module`` in a fresh process of this (full) environment."""
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def measure(*, quick: bool) -> dict[str, Any]:
    from scripts.dev.image_root import build_image_root, installed_dependencies, installed_size_bytes

    build_image_root(IMAGE_ROOT)
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.platform(terse=True)}",
        "deps_mb": installed_size_bytes(installed_dependencies(use_cache=True)) / 1e6,
    }
    _run_worker("cold")  # the first run writes the image root's bytecode caches (the image ships them)
    cold = [_run_worker("cold") for _ in range(10)]
    report["cold_start_ms"] = statistics.median(ms for _, ms in cold)
    report["cold_start_runs_ms"] = [round(ms, 1) for _, ms in cold]
    report["cold_import_ms"] = statistics.median(result["import_ms"] for result, _ in cold)
    report["cold_first_invocation_ms"] = statistics.median(
        result["first_invocation_ms"] for result, _ in cold
    )
    report["load_average_during_cold_runs"] = round(os.getloadavg()[0], 2)
    report["warm"] = _run_worker("warm", 5_000 if quick else 50_000)[0]
    report["memory"] = _run_worker("memory", 20_000 if quick else 100_000)[0]
    report["import_numpy_ms"] = _import_cost_ms("numpy")
    report["import_xray_sdk_ms"] = _import_cost_ms("aws_xray_sdk.core")
    return report


def markdown(report: dict[str, Any]) -> str:
    warm, memory, batch = report["warm"], report["memory"], report["warm"]["batch_ms"]
    rss, peak = memory["rss_mb"], memory["peak_rss_mb"]
    growth = rss[max(rss, key=int)] - rss["10000"]

    def against(label: str, value: float, target: str, unit: str, digits: int) -> tuple[str, str, str, str]:
        limit = TARGETS[target]
        return (label, f"{value:.{digits}f} {unit}", f"< {limit:.0f} {unit}", "✅" if value < limit else "❌")

    growth_label = f"RSS growth from 10 000 to {int(max(rss, key=int)):,} invocations".replace(",", " ")
    rows = [
        against(
            "Cold start: fresh process, import + one /v1/predict (median of 10)",
            report["cold_start_ms"], "cold_start_ms", "ms", 0,
        ),
        against("Warm, one prediction, full handler: p50", warm["warm_p50_us"], "warm_p50_us", "µs", 0),
        against("Warm, one prediction, full handler: p99", warm["warm_p99_us"], "warm_p99_us", "µs", 0),
        against("Warm, 1 000-value batch (median)", batch["1000"], "batch_1000_ms", "ms", 2),
        against("Peak RSS after 10 000 invocations", peak["10000"], "rss_after_10k_mb", "MB", 1),
        (growth_label, f"{growth:+.2f} MB", "none", "✅" if growth < 1.0 else "❌"),
        against("Installed runtime dependencies", report["deps_mb"], "deps_mb", "MB", 1),
    ]  # fmt: skip
    lines = ["| Measure | Result | Target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += [
        "",
        "Batch scaling (median per invocation, full handler):",
        "",
        "| values | 1 | 10 | 100 | 1 000 | 10 000 |",
        "|---|---|---|---|---|---|",
        "| ms | " + " | ".join(f"{batch[k]:.3f}" for k in ("1", "10", "100", "1000", "10000")) + " |",
        "| µs per value | "
        + " | ".join(f"{1000 * batch[k] / int(k):.2f}" for k in ("1", "10", "100", "1000", "10000"))
        + " |",
        "",
        f"Cold start detail: import of the handler (model load included) {report['cold_import_ms']:.0f} ms, "
        f"first invocation {report['cold_first_invocation_ms']:.1f} ms; "
        f"runs (ms): {report['cold_start_runs_ms']}; 1-minute load average "
        f"{report['load_average_during_cold_runs']} (the machine is shared: cold start rises with load).",
        f"Other warm paths (p50): `/health` {warm['health_p50_us']:.0f} µs, a 422 rejection "
        f"{warm['rejection_p50_us']:.0f} µs (it writes an INFO log line); "
        f"one Powertools INFO log line alone: {warm['info_log_line_p50_us']:.0f} µs.",
        f"RSS by invocation count (MB, 10^6 bytes): {json.dumps(rss)}; peak {json.dumps(peak)}.",
        f"Import costs kept out of the image: numpy {report['import_numpy_ms']:.0f} ms, X-Ray SDK "
        f"(`aws_xray_sdk.core`, needed by Powertools Tracer) {report['import_xray_sdk_ms']:.0f} ms.",
        "",
        f"Machine: {report['machine']}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks the prediction function.")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--iterations", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.iterations)
        return 0
    report = measure(quick=args.quick)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
