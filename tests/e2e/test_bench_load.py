"""The load benchmark works: a tiny run against the local service (the real run is by hand, see docs)."""

from __future__ import annotations

from scripts.bench import load as bench_load


def test_a_short_load_run_gets_only_successful_answers(loopback_target):
    results = bench_load.run(loopback_target.base_url, seconds=0.5, connections=2)
    assert [r.scenario for r in results] == [s.name for s in bench_load.SCENARIOS]
    for result in results:
        assert result.errors == []
        assert result.requests > 0
        assert 0 < result.percentile(50) <= result.percentile(99) <= max(result.latencies_ms)
