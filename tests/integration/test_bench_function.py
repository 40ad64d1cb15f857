"""The function benchmark runs end to end (in its quick mode) and reports every figure the issue asks for.
Timings are not asserted here: tests check behaviour; the numbers live in docs/benchmarks.md."""

import json
import subprocess
import sys
from pathlib import Path

from scripts import REPO_ROOT


def test_function_benchmark_quick_run_reports_every_measure(model_artifact_path: Path, tmp_path: Path):
    raw = tmp_path / "function.json"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.bench.function", "--quick", "--json", str(raw)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(raw.read_text())
    assert {"cold_start_ms", "deps_mb", "warm", "memory"} <= set(report)
    for row in (
        "| Cold start",
        "p50 |",
        "p99 |",
        "1 000-value batch",
        "Peak RSS",
        "Installed runtime dependencies",
    ):
        assert row in result.stdout, f"the benchmark no longer reports {row!r}"


def test_a_cold_start_that_does_not_answer_200_is_not_timed(tmp_path: Path):
    from scripts.bench.function import function_env, worker
    from scripts.dev.image_root import build_image_root

    root = build_image_root(tmp_path / "root")  # what the benchmark times: the image's tree
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"predict": {"httpMethod": "POST"}}))  # not an API Gateway event: a 400
    result = subprocess.run(
        worker(events, "cold"), env=function_env(root), cwd=root, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "answered 400" in result.stderr
    assert result.stdout == ""
