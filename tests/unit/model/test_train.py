import dataclasses
import importlib.util
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from model.core.serving import load_artifact
from model.sdk import cli
from model.train import command, dataset, pipeline
from model.train.dataset import DATA_DIR, DataError, load_dataset
from model.train.evaluation import closed_form, r2
from model.train.pipeline import TrainingConfig, train
from model.train.sgd import SGDConfig


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`python -m model.train ARGS` (`diabetes-progression train ARGS`), in this process: exit code, stdout,
    stderr."""
    try:
        code = cli.main(["train", *args])
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_writes_a_valid_artifact_and_says_what_it_did(tmp_path: Path, capsys):
    out = tmp_path / "model.json"
    code, stdout, stderr = run(capsys, "--seed", "3", "--out", str(out))
    assert code == 0, stderr
    artifact = load_artifact(out)
    assert artifact.training.seed == 3
    assert artifact.model_version in stdout
    assert "quality (hold-out R2) gate passed" in stdout
    assert "calibration: band 1: 24.05–27.85 kg/m² gate passed" in stdout
    assert f"coverage {artifact.interval.overall.coverage:.3f} (nested CV)" in stdout
    assert "±" not in stdout


def test_same_seed_and_data_give_a_byte_identical_artifact(tmp_path: Path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert run(capsys, "--out", str(first))[0] == 0
    assert run(capsys, "--out", str(second))[0] == 0
    assert first.read_bytes() == second.read_bytes()


def test_model_version_changes_with_the_configuration_not_with_time():
    data = load_dataset()
    base = train(TrainingConfig(seed=0), data).artifact
    assert train(TrainingConfig(seed=0), data).artifact.model_version == base.model_version
    assert train(TrainingConfig(seed=1), data).artifact.model_version != base.model_version
    assert train(TrainingConfig(min_r2=0.41), data).artifact.model_version != base.model_version
    assert train(TrainingConfig(max_coverage_error=0.02), data).artifact.model_version != base.model_version


def test_metrics_agree_with_an_independent_computation():
    data = load_dataset()
    artifact = train(TrainingConfig(), data).artifact
    slope, intercept = closed_form(data.train.x, data.train.y)
    holdout = data.holdout
    assert artifact.metrics.holdout_r2 == pytest.approx(
        r2(holdout.y, slope * holdout.x + intercept), abs=1e-4
    )
    assert 0.0 < artifact.metrics.estimates["cv_r2"].value < artifact.metrics.holdout_r2
    assert artifact.feature.to_raw(0.0) == pytest.approx(float(data.bmi.mean()))
    # The hold-out figures' estimates are the recorded metrics, with their intervals around them
    estimates = artifact.metrics.estimates
    assert estimates["holdout_r2"].value == artifact.metrics.holdout_r2
    assert estimates["holdout_mae"].value == pytest.approx(artifact.metrics.holdout_mae, rel=1e-12)
    assert estimates["holdout_rmse"].value ** 2 == pytest.approx(artifact.metrics.holdout_mse, rel=1e-12)


def test_quality_gate_failure_exits_non_zero_and_writes_nothing(tmp_path: Path, capsys):
    out = tmp_path / "model.json"
    code, _, stderr = run(capsys, "--min-r2", "0.9", "--out", str(out))
    assert code == command.EXIT_GATE_FAILED
    assert stderr.count("\n") == 1
    assert "quality" in stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_stricter_calibration_threshold_reaches_the_gate(tmp_path: Path, capsys):
    # Every group's coverage is within 0.005 of what its ranks promise here: 0.001 is stricter than that
    out = tmp_path / "model.json"
    code, _, stderr = run(capsys, "--max-coverage-error", "0.001", "--out", str(out))
    assert code == command.EXIT_GATE_FAILED
    assert stderr.startswith("gate failed, no artifact written: calibration")
    assert not out.exists()


def test_gate_failure_never_overwrites_an_existing_artifact(tmp_path: Path, capsys):
    out = tmp_path / "model.json"
    assert run(capsys, "--out", str(out))[0] == 0
    before = out.read_bytes()
    assert run(capsys, "--min-r2", "0.99", "--out", str(out))[0] == command.EXIT_GATE_FAILED
    assert out.read_bytes() == before


def test_a_crippled_optimiser_fails_the_convergence_gate_even_when_r2_passes():
    # Given an optimiser stopped after one epoch whose hold-out R² still clears 0.4 by luck of the split
    outcome = train(TrainingConfig(sgd=SGDConfig(max_epochs=1)), load_dataset())
    gates = {gate.name.split()[0]: gate for gate in outcome.artifact.metrics.gates}
    # Then only the convergence gate catches it
    assert gates["quality"].passed
    assert not gates["convergence"].passed
    assert outcome.artifact.failed_gates() == [gates["convergence"]]


def test_crippled_optimiser_via_the_cli_writes_nothing(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(
        pipeline, "TrainingConfig", lambda **kw: TrainingConfig(**kw, sgd=SGDConfig(max_epochs=2))
    )
    out = tmp_path / "model.json"
    assert cli.main(["train", "--out", str(out)]) == command.EXIT_GATE_FAILED
    assert "convergence" in capsys.readouterr().err
    assert not out.exists()


def test_an_artifact_the_function_would_refuse_is_never_written(tmp_path: Path, monkeypatch, capsys):
    # Given a trainer whose artifact holds an integer where the schema has a float: sealed over its text, the
    # function would refuse it at start (it verifies the checksum over the document as read, 18 as 18.0)
    trained = pipeline.train

    def with_an_integer(config: TrainingConfig, data: dataset.Dataset) -> pipeline.TrainingOutcome:
        outcome = trained(config, data)
        feature = dataclasses.replace(
            outcome.artifact.feature, train_min=int(outcome.artifact.feature.train_min)
        )
        return dataclasses.replace(outcome, artifact=dataclasses.replace(outcome.artifact, feature=feature))

    monkeypatch.setattr(pipeline, "train", with_an_integer)
    out = tmp_path / "model.json"
    code, _, stderr = run(capsys, "--out", str(out))
    assert code == command.EXIT_GATE_FAILED
    assert stderr.startswith("gate failed, no artifact written: the function would refuse it")
    assert stderr.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--seed", "-1"],
        ["--seed", "abc"],
        ["--min-r2", "1.5"],
        ["--min-r2", "nan"],
        ["--max-convergence-gap", "0"],
        ["--min-r2", "0.3"],  # looser than the serving policy: the function would refuse the artifact
        ["--max-convergence-gap", "1e-3"],
        ["--max-coverage-error", "0.05"],  # looser than the policy's 0.03
        ["--max-coverage-error", "0"],
        ["--max-coverage-error", "nan"],
        ["--bogus"],
    ],
)
def test_bad_arguments_give_a_usage_error(args, capsys):
    code, _, stderr = run(capsys, *args, "--out", "/nonexistent/never-written.json")
    assert code == 2
    assert "usage:" in stderr


def test_corrupt_data_gives_a_one_line_error(monkeypatch, capsys, tmp_path: Path):
    def corrupt(_data_dir: Path) -> None:
        raise DataError("data file diabetes_target.csv.gz has sha256 0000…, expected 8e53…")

    monkeypatch.setattr(dataset, "load_dataset", corrupt)
    assert cli.main(["train", "--out", str(tmp_path / "m.json")]) == command.EXIT_DATA_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: data file")
    assert err.count("\n") == 1


def test_without_its_data_the_trainer_says_where_to_point_it(tmp_path: Path, capsys):
    # As in an installed package, which ships the trained model but not the data set
    code, _, stderr = run(capsys, "--data", str(tmp_path / "absent"), "--out", str(tmp_path / "m.json"))
    assert code == command.EXIT_DATA_ERROR
    assert stderr.startswith("error: cannot read data file")
    assert "pass --data DIR, the model/data directory of a checkout" in stderr
    assert not (tmp_path / "m.json").exists()


def test_data_can_be_read_from_another_directory(tmp_path: Path, capsys):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    code, stdout, _ = run(capsys, "--data", str(data), "--out", str(tmp_path / "m.json"))
    assert code == 0
    assert load_artifact(tmp_path / "m.json").model_version in stdout


def test_report_without_matplotlib_is_a_usage_error_naming_the_extra(monkeypatch, tmp_path: Path, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a),
    )
    code, _, stderr = run(capsys, "--report", str(tmp_path), "--out", str(tmp_path / "m.json"))
    assert code == 2
    assert "diabetes-progression[report]" in stderr


def test_unwritable_output_is_a_clear_error(tmp_path: Path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, stderr = run(capsys, "--out", str(blocker / "model.json"))
    assert code == command.EXIT_DATA_ERROR
    assert stderr.startswith("error: cannot write")


# --- Files: regular ones only, bounded, and no temporary file left behind -----------------------------------
def _special_outputs(tmp_path: Path) -> dict[str, Path]:
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to-null").symlink_to("/dev/null")
    (tmp_path / "to-file").symlink_to(tmp_path / "fifo")
    found = {
        "fifo": tmp_path / "fifo",
        "link to a device": tmp_path / "to-null",
        "link": tmp_path / "to-file",
    }
    if os.geteuid() == 0:  # a device node of our own, never the system's
        os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        found["device node"] = tmp_path / "null"
    return found


def test_train_writes_only_regular_files_never_through_a_device_or_a_link(tmp_path: Path, capsys):
    for what, out in _special_outputs(tmp_path).items():
        before = os.lstat(out)
        code, _, err = run(capsys, "--out", str(out))
        assert code == command.EXIT_DATA_ERROR, what
        assert "is not a regular file: not replaced" in err, what
        after = os.lstat(out)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode,
            before.st_ino,
            before.st_rdev,
        ), what
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_next_run_removes_the_temporary_files_of_runs_that_were_killed(tmp_path: Path, capsys):
    # Given the temporary file of a run killed outright (SIGKILL: nothing could remove it), and one of a
    # run still going (this process)
    killed = tmp_path / f".model.json.{_dead_pid()}.abc123.tmp"
    live = tmp_path / f".model.json.{os.getpid()}.def456.tmp"
    for stale in (killed, live):
        stale.write_text("{")
    # When training runs again into the same place
    assert run(capsys, "--out", str(tmp_path / "model.json"))[0] == 0
    # Then the dead run's file is gone, the live run's is left alone, and nothing of its own remains
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["model.json", live.name])


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid  # reaped: no process has this id until the kernel wraps around


@pytest.mark.parametrize("kind", ["fifo", "endless device", "directory", "too large"])
def test_data_is_read_from_regular_files_only_and_bounded(tmp_path: Path, capsys, kind: str):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    target = data / dataset.FEATURES_FILE
    target.unlink()
    if kind == "fifo":
        os.mkfifo(target)  # nobody writes to it: a plain open() would wait forever
    elif kind == "endless device":
        target.symlink_to("/dev/zero")
    elif kind == "directory":
        target.mkdir()
    else:
        target.write_bytes(b"\0" * (dataset.MAX_FILE_BYTES + 1))
    started = time.monotonic()
    code, _, err = run(capsys, "--data", str(data), "--out", str(tmp_path / "m.json"))
    assert code == command.EXIT_DATA_ERROR
    assert f"cannot read data file {target}" in err
    assert time.monotonic() - started < 5
