"""The promotion gate: before a stage that gates its model (Production), the candidate is compared with the
model the stage serves now; when it stops, and how a commit accepts a regression: docs/delivery.md, "The
promotion gate".

    python -m scripts.release.model_gate --stage Production --candidate model/artifacts/model.json
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path
from typing import Final

from infra_cdk.settings import StageSettings
from model.core.artifact import DEFAULT_MAX_COVERAGE_ERROR, MIN_GATED_GROUP, ArtifactError, ModelArtifact
from model.core.serving import load_artifact
from model.sdk import diff
from model.sdk.client import Client, ClientError, ConfigurationError, stack_api_url
from scripts.release import ReleaseError, parse_stage, run

TRAILER: Final = "Model-Regression-Accepted"
# How much worse each figure may get before a promotion stops, in the figure's own units: well inside its
# confidence interval on this data set (an R² within 0.02, an error within 1 unit of progression, a
# calibration slope within 0.05), so a retraining that only moves the noise passes and a real loss does not
# (docs/delivery.md, "The promotion gate").
TOLERANCES: Final = {
    "holdout_r2": 0.02,
    "cv_r2": 0.02,
    "holdout_rmse": 1.0,
    "holdout_mae": 1.0,
    "cv_rmse": 1.0,
    "cv_mae": 1.0,
    "calibration_slope": 0.05,
    "calibration_intercept": 5.0,
    "calibration_in_the_large": 2.0,
    "spearman": 0.02,
    "auroc": 0.02,
}


def regressions(changes: diff.ModelDiff) -> list[str]:
    """What the candidate loses against the serving model, beyond the tolerances."""
    found = [
        f"{diff.label(f.name)} is worse by {f.worsening:.3g} (tolerance "
        f"{TOLERANCES[f.name]:g}): {diff.estimate_text(f.old)} → {diff.estimate_text(f.new)}"
        for f in changes.figures
        if f.name in TOLERANCES and f.worsening > TOLERANCES[f.name]
    ]
    floor = changes.new.interval.level - DEFAULT_MAX_COVERAGE_ERROR
    found += [
        f"coverage of {g.group} is {g.new.coverage:.3f}, below {floor:.2f} (level − calibration tolerance)"
        for g in changes.groups
        if g.new is not None and g.new.n >= MIN_GATED_GROUP and g.new.coverage < floor
    ]
    return found


def decide(serving: ModelArtifact | None, candidate: ModelArtifact, accepted: str) -> tuple[bool, list[str]]:
    """Whether the candidate may be promoted, and the lines that say why."""
    if serving is None:
        return True, [f"nothing is serving yet: {candidate.model_version} is the first model (no comparison)"]
    lost = regressions(diff.compare(serving, candidate))
    head = f"{serving.model_version} (serving) → {candidate.model_version} (candidate)"
    if not lost:
        return True, [f"{head}: nothing worse beyond its tolerance"]
    lines = [f"{head}: worse beyond the tolerances:", *(f"  - {line}" for line in lost)]
    if accepted:
        return True, [*lines, f"accepted by the commit's {TRAILER} trailer: {accepted}"]
    return False, [*lines, f"to promote it anyway, say why in the commit: `{TRAILER}: <reason>`"]


def serving_artifact(settings: StageSettings) -> ModelArtifact | None:
    """The artifact the stage serves, as its ``GET /v1/model`` answers it (signed with the credentials of the
    job: the stage's delivery role); None when the stage has no stack yet."""
    try:  # the stack's ApiUrl, read as the package's `call --stack` and stack_outputs read it
        url = stack_api_url(settings.stack_name, region=settings.region)
    except ConfigurationError as error:
        if "does not exist" in str(error.__cause__):  # CloudFormation's answer for a stack never deployed
            return None
        raise ReleaseError(str(error)) from error
    try:
        served = Client(url, region=settings.region).model_info()["artifact"]  # read strictly, typed
    except ClientError as error:
        raise ReleaseError(f"cannot read the model {settings.name} serves: {error}") from error
    if served.to_document()["sha256"] != served.sha256:  # what it says about itself is what it holds
        raise ReleaseError(
            f"{settings.name}'s GET /v1/model answered an artifact whose checksum does not match"
        )
    return served


def accepted_regression(commit: str = "HEAD") -> str:
    """The reason the released commit gives in its trailer, or ''."""
    result = subprocess.run(
        ["git", "log", "-1", f"--format=%(trailers:key={TRAILER},valueonly,separator=%x20)", commit],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise ReleaseError(f"cannot read the trailers of {commit}: {result.stderr.strip()}")
    return result.stdout.strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=parse_stage, required=True, help="a stage of infra_cdk/settings.py")
    parser.add_argument("--candidate", type=Path, required=True, help="the model artifact the image serves")
    args = parser.parse_args(argv)
    try:
        candidate = load_artifact(args.candidate)
    except ArtifactError as error:
        raise ReleaseError(str(error)) from error
    passed, lines = decide(serving_artifact(args.stage), candidate, accepted_regression())
    print("\n".join(f"model gate: {line}" for line in lines))
    if not passed:
        raise ReleaseError(f"{args.stage.name}: the candidate model is worse than the one serving")


if __name__ == "__main__":
    run(main)
