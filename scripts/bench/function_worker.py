"""The timed side of scripts/bench/function.py: ``python -S -s function_worker.py KIND EVENTS_JSON N``
with the image-equivalent directory as its only import path. It imports only the function while timing and
answers one JSON line; the function's own logs and metrics go to /dev/null."""

from __future__ import annotations  # annotations stay strings: typing is not imported before timing

import os
import resource
import sys
import time

TYPE_CHECKING = False  # not typing's: importing typing would be timed
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Context:  # the attributes of Lambda's context object that Powertools reads
    function_name = "diabetes-progression-bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:diabetes-progression-bench"
    aws_request_id = "bench-request"


CONTEXT: Any = Context()


def timed_us(
    handler: Handler, event: dict[str, Any], n: int, clock: Callable[[], int] = time.perf_counter_ns
) -> list[float]:
    samples = []
    for _ in range(n):
        start = clock()
        handler(event, CONTEXT)
        samples.append((clock() - start) / 1000)
    return sorted(samples)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def warm(handler: Handler, events: dict[str, Any], iterations: int) -> dict[str, Any]:
    timed_us(handler, events["predict"], 2000)  # warm-up: caches, branch predictors, allocator pools
    single = timed_us(handler, events["predict"], iterations)
    result: dict[str, Any] = {
        "warm_p50_us": percentile(single, 0.5),
        "warm_p99_us": percentile(single, 0.99),
        "health_p50_us": percentile(timed_us(handler, events["health"], iterations // 4), 0.5),
        "rejection_p50_us": percentile(timed_us(handler, events["reject"], iterations // 4), 0.5),
        "batch_ms": {},
    }
    for name in [name for name in events if name.startswith("batch-")]:
        size = int(name.removeprefix("batch-"))
        repeats = max(20, min(2000, 200_000 // size))
        timed_us(handler, events[name], max(3, repeats // 10))
        result["batch_ms"][str(size)] = percentile(timed_us(handler, events[name], repeats), 0.5) / 1000
    return result


def hostile(handler: Handler, events: dict[str, Any], iterations: int) -> dict[str, Any]:
    """CPU per request (best of N) for each body family, and the peak memory after."""
    cpu_ms = {
        name: timed_us(handler, events[name], iterations, time.process_time_ns)[0] / 1000
        for name in events
        if name.startswith("hostile-") or name == "batch-10000"
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    return {"cpu_ms": cpu_ms, "peak_rss_mb": peak_mb}


def docs(handler: Handler, events: dict[str, Any], _iterations: int) -> dict[str, Any]:
    """The first documentation requests after init: built then, cached after."""
    return {f"first_{name}_ms": timed_us(handler, events[name], 1)[0] / 1000 for name in ("openapi", "docs")}


def memory(handler: Handler, events: dict[str, Any], iterations: int) -> dict[str, Any]:
    """A realistic mix of routes: resident and peak memory by invocation count."""
    from pathlib import Path

    mix = [events[name] for name in ("predict", "batch-100", "reject", "health", "legacy")]
    rss: dict[int, float] = {}
    peak: dict[int, float] = {}
    for i in range(1, iterations + 1):
        handler(mix[i % len(mix)], CONTEXT)
        if i in (1, 1000, 10_000) or i % 25_000 == 0:
            resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
            rss[i] = resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6
            peak[i] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    return {"rss_mb": rss, "peak_rss_mb": peak}


def main() -> None:
    kind, events_path, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = os.fdopen(os.dup(1), "w")  # Powertools' Logger holds sys.stdout: silence the descriptor itself
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    started = time.perf_counter()
    from lambda_fn.handler import handler

    imported = time.perf_counter()
    import json  # the function imported these already: free
    from pathlib import Path

    events = json.loads(Path(events_path).read_text(encoding="utf-8"))
    if kind == "cold":
        response = handler(events["predict"], CONTEXT)
        answered = time.perf_counter()
        if response["statusCode"] != 200:  # a failed first answer is no cold start to report
            sys.exit(f"the first invocation answered {response['statusCode']}")
        result: dict[str, Any] = {
            "import_ms": (imported - started) * 1000,
            "first_invocation_ms": (answered - imported) * 1000,
        }
    else:
        result = {"warm": warm, "hostile": hostile, "docs": docs}.get(kind, memory)(
            handler, events, iterations
        )
    out.write(json.dumps(result) + "\n")
    out.flush()


main()
