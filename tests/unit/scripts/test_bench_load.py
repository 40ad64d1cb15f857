"""The load benchmark's arithmetic and its bounds (its run against a real server is in tests/e2e)."""

from __future__ import annotations

import pytest

from scripts.bench import load as bench_load
from scripts.bench.load import Result


def test_percentiles_are_nearest_rank_over_the_sorted_latencies():
    result = Result("s", seconds=1.0, latencies_ms=[float(v) for v in range(100, 0, -1)])
    assert result.percentile(50) == 51.0
    assert result.percentile(90) == 90.0
    assert result.percentile(99) == 99.0
    assert result.percentile(100) == 100.0


def test_errors_count_as_requests_but_not_as_latencies():
    result = Result("s", seconds=2.0, latencies_ms=[1.0, 2.0], errors=["HTTP 500"])
    assert result.requests == 3
    assert result.row() == "| s | 3 | 2 | 1.00 | 2.00 | 2.00 | 2.00 | 1 |"


def test_a_scenario_without_a_single_answer_still_reports_its_errors():
    assert Result("s", seconds=1.0, errors=["ConnectionRefusedError"]).row().endswith("| 1 |")


def test_refuses_any_target_but_loopback():
    with pytest.raises(SystemExit, match=r"127\.0\.0\.1 only"):
        bench_load.run("https://abc.execute-api.eu-west-1.amazonaws.com/prod", seconds=1, connections=1)


@pytest.mark.parametrize("args", [["--seconds", "20"], ["--seconds", "0"], ["--connections", "0"]])
def test_refuses_unbounded_or_empty_runs(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_load.main(["--url", "http://127.0.0.1:9", *args])
    assert exit_info.value.code == 2
    assert "bounded" in capsys.readouterr().err
