"""The function benchmark's report (:mod:`scripts.bench.function`): its numbers as Markdown tables, against
the targets, the floors and the replaced system, and the Lambda memory sizes."""

from __future__ import annotations

import json
import math
from typing import Any, Final

ROUNDS: Final = 10
BATCH_SIZES: Final = (1, 10, 100, 1_000, 10_000)

# Lambda gives a function CPU in proportion to its memory: one vCPU at 1 769 MB. Prices: arm64, us-east-1 and
# eu-west-1, December 2026 (aws.amazon.com/lambda/pricing): per GB-second of billed duration, per request.
FULL_VCPU_MB: Final = 1_769
PRICE_PER_GB_SECOND: Final = 0.0000133334
PRICE_PER_MILLION_REQUESTS: Final = 0.20
MEMORY_SIZES_MB: Final = (128, 256, 512, 1_024)


def target_row(label: str, value: float, limit: float, unit: str, digits: int) -> str:
    verdict = "✅" if value < limit else "❌"
    return f"| {label} | {value:.{digits}f} {unit} | < {limit:.0f} {unit} | {verdict} |"


def markdown(report: dict[str, Any]) -> str:
    warm, batch, docs = report["warm"], report["warm"]["batch_ms"], report["docs"]
    rss, peak = report["memory"]["rss_mb"], report["memory"]["peak_rss_mb"]
    last = max(rss, key=int)
    growth = rss[last] - rss["10000"]
    return "\n".join(
        [
            *comparison_table(report["cold_comparison"]),
            *memory_table(report),
            "| Measure | Result | Target | |",
            "|---|---|---|---|",
            target_row("Cold start: fresh process, import + one /v1/predict (median of 10)",
                       report["cold_start_ms"], 250, "ms", 0),
            target_row("Warm, one prediction, full handler: p50", warm["warm_p50_us"], 100, "µs", 0),
            target_row("Warm, one prediction, full handler: p99", warm["warm_p99_us"], 300, "µs", 0),
            target_row("Warm, 1 000-value batch (median)", batch["1000"], 1, "ms", 2),
            target_row("Peak RSS after 10 000 invocations", peak["10000"], 80, "MB", 1),
            f"| RSS growth from 10 000 to {int(last):,} invocations | {growth:+.2f} MB | none | "
            f"{'✅' if growth < 1.0 else '❌'} |".replace(",", " "),
            target_row("Installed runtime dependencies", report["deps_mb"], 40, "MB", 1),
            *hostile_table(report["hostile"]),
            "",
            "Batch scaling (median per invocation, full handler):",
            "",
            "| values | " + " | ".join(f"{n:,}".replace(",", " ") for n in BATCH_SIZES) + " |",
            "|---|" + "---|" * len(BATCH_SIZES),
            "| ms | " + " | ".join(f"{batch[str(n)]:.3f}" for n in BATCH_SIZES) + " |",
            "| µs per value | " + " | ".join(f"{1000 * batch[str(n)] / n:.2f}" for n in BATCH_SIZES) + " |",
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
    replaced = next(ms for name, ms in medians.items() if name.startswith("the replaced system"))
    return [
        f"Cold start, interleaved rounds (median of {ROUNDS}; spawn to first answer):",
        "",
        "| program | cold start | relative to this function |",
        "|---|---|---|",
        *(f"| {name} | {ms:.0f} ms | {ms / this:.2f}x |" for name, ms in medians.items()),
        "",
        f"This function is {replaced / this:.0f}x faster to its first answer than the replaced system.",
        "",
    ]


def memory_table(report: dict[str, Any]) -> list[str]:
    """Cold start, billed duration and monthly cost by memory size, from this run's single-core figures
    scaled by the CPU share Lambda allocates (assumptions in docs/deploy.md, "Memory size")."""
    warm_ms, batch_ms = report["warm"]["warm_p50_us"] / 1000, report["warm"]["batch_ms"]["1000"]
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
            f"| {mb} MB | {share:.2f} | {report['cold_start_ms'] / share:.0f} ms | {billed_single} ms | "
            f"{billed_batch} ms | ${monthly[0]:.2f} | ${monthly[1]:.2f} |"
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
