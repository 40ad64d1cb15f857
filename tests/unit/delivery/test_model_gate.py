"""The promotion gate's decision table on real artifacts (improve, equal, worse within the tolerances, worse
beyond them, worse with the commit's trailer, nothing serving), the serving model read from the stage's own
GET /v1/model (moto's CloudFormation for the stack's URL, a local server answering as the function does), and
the trailer read from a real commit."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from infra_cdk.settings import stage_named
from model.core.artifact import GroupCoverage, ModelArtifact
from model.sdk import diff
from model.sdk.predictor import Model
from model.train.artifact_file import write_artifact_atomically
from scripts.release import ReleaseError
from scripts.release import model_gate as gate
from tests.unit.model.test_diff import worse

PRODUCTION = stage_named("Production")


def shifted(artifact: ModelArtifact, name: str, by: float) -> ModelArtifact:
    estimates = dict(artifact.metrics.estimates)
    e = estimates[name]
    estimates[name] = dataclasses.replace(e, value=e.value + by, low=e.low + by, high=e.high + by)
    return dataclasses.replace(artifact, metrics=dataclasses.replace(artifact.metrics, estimates=estimates))


def test_the_gate_has_a_tolerance_for_every_figure():
    # A figure without one would never stop a promotion
    assert set(gate.TOLERANCES) == set(diff.FIGURES)


def test_nothing_serving_passes_with_a_note(model_artifact):
    passed, lines = gate.decide(None, model_artifact, accepted="")
    assert passed
    assert lines == [
        f"nothing is serving yet: {model_artifact.model_version} is the first model (no comparison)"
    ]


@pytest.mark.parametrize(
    ("case", "make_serving", "make_candidate", "passes"),
    [
        ("equal", lambda a: a, lambda a: a, True),
        ("improve", worse, lambda a: a, True),
        (
            "worse within the tolerances",
            lambda a: a,
            lambda a: shifted(shifted(a, "cv_r2", -0.015), "cv_rmse", 0.9),
            True,
        ),
        ("worse beyond them", lambda a: a, worse, False),
        ("one figure just beyond", lambda a: a, lambda a: shifted(a, "auroc", -0.03), False),
    ],
)
def test_the_decision_table(model_artifact, case, make_serving, make_candidate, passes):
    passed, lines = gate.decide(make_serving(model_artifact), make_candidate(model_artifact), accepted="")
    assert passed is passes, lines
    if not passes:
        assert "worse beyond the tolerances" in lines[0]
        assert (
            lines[-1] == "to promote it anyway, say why in the commit: `Model-Regression-Accepted: <reason>`"
        )


def test_worse_with_the_trailer_passes_and_says_why(model_artifact):
    passed, lines = gate.decide(
        model_artifact, worse(model_artifact), accepted="new cohort, wider errors expected"
    )
    assert passed
    assert (
        lines[-1]
        == "accepted by the commit's Model-Regression-Accepted trailer: new cohort, wider errors expected"
    )
    assert any("RMSE, cross-validated is worse by 25" in line for line in lines)


def test_a_group_covered_below_the_level_minus_the_tolerance_stops_it(model_artifact):
    coverage = list(model_artifact.interval.coverage)
    band = coverage[2]
    coverage[2] = GroupCoverage(band.group, band.n, 0.85, band.expected)
    interval = dataclasses.replace(model_artifact.interval, coverage=tuple(coverage))
    passed, lines = gate.decide(model_artifact, dataclasses.replace(model_artifact, interval=interval), "")
    assert not passed
    assert f"  - coverage of {band.group} is 0.850, below 0.87 (level − calibration tolerance)" in lines


# --- The serving model, from the stage's own GET /v1/model ----------------------------------------------
@pytest.fixture
def stage_serving(model_artifact) -> Iterator[str]:
    """A local server answering GET /v1/model as the function does, for the model it serves."""
    info = Model(model_artifact).model_info()
    body = json.dumps({"artifact": model_artifact.to_document(), "limits": info["limits"]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path.endswith("/v1/model") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/production/"
    server.shutdown()


def deploy_stack(url: str) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"ApiUrl": {"Value": url}}}
    boto3.client("cloudformation", region_name=PRODUCTION.region).create_stack(
        StackName=PRODUCTION.stack_name, TemplateBody=json.dumps(template)
    )


def test_the_serving_model_is_what_the_stage_answers(mocked_aws, stage_serving, model_artifact):
    deploy_stack(stage_serving)
    assert gate.serving_artifact(PRODUCTION) == model_artifact


def test_a_stage_with_no_stack_yet_serves_nothing(mocked_aws):
    assert gate.serving_artifact(PRODUCTION) is None


def commit(repo: Path, message: str) -> None:
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q",
         "--allow-empty", "-m", message],
        check=True,
    )  # fmt: skip


def test_the_trailer_is_read_from_the_released_commit(tmp_path, monkeypatch):
    commit(
        tmp_path / "accepted", "Retrain on the 2027 cohort\n\nModel-Regression-Accepted: a harder cohort\n"
    )
    commit(tmp_path / "plain", "Retrain\n\nSigned-off-by: t <t@example.org>\n")
    monkeypatch.chdir(tmp_path / "accepted")
    assert gate.accepted_regression() == "a harder cohort"
    monkeypatch.chdir(tmp_path / "plain")
    assert gate.accepted_regression() == ""


def test_the_command_stops_a_worse_candidate_unless_the_commit_accepts_it(
    mocked_aws, stage_serving, model_artifact, tmp_path, monkeypatch, capsys
):
    deploy_stack(stage_serving)
    write_artifact_atomically(worse(model_artifact), tmp_path / "candidate.json")
    argv = ["--stage", "Production", "--candidate", str(tmp_path / "candidate.json")]
    commit(tmp_path / "repo", "Retrain\n")
    monkeypatch.chdir(tmp_path / "repo")
    with pytest.raises(ReleaseError, match="Production: the candidate model is worse than the one serving"):
        gate.main(argv)
    assert "model gate: " in capsys.readouterr().out
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "--amend"]
    accepted = "Retrain\n\nModel-Regression-Accepted: reviewed by the clinical lead"
    subprocess.run([*git, "--allow-empty", "-m", accepted], check=True)
    gate.main(argv)
    assert "accepted by the commit's Model-Regression-Accepted trailer: reviewed by the clinical lead" in (
        capsys.readouterr().out
    )
