import subprocess
import sys

from scripts import REPO_ROOT


def test_training_benchmark_runs_and_prints_its_table():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.bench.train", "--runs", "1", "--seeds", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "| runs passing the R² ≥ 0.4 gate | 3/3 |" in result.stdout
