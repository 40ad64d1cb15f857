"""What the Release's job for one stage needs to know before it starts, read from infra_cdk/settings.py and
handed to .github/workflows/deploy-stage.yml as step outputs: the stages are data all the way into CI.

    python -m scripts.release.plan --stage Staging
"""

from __future__ import annotations

import argparse

from infra_cdk.settings import StageSettings
from scripts.release import parse_stage, run, write_github_output


def plan(settings: StageSettings) -> dict[str, str]:
    return {
        "environment": settings.slug,  # the GitHub environment, which the delivery role trusts
        "region": settings.region,
        "account_variable": settings.account_variable,
        "role_name": settings.delivery_role_name,
        "stack": settings.stack_name,
        "timeout_minutes": str(settings.release_timeout_minutes),
        # The job's one OIDC session lasts as long as the job may (docs/deploy.md, "Sessions").
        "session_seconds": str(settings.release_timeout_minutes * 60),
        "pytest_marker": "smoke" if settings.verification == "smoke" else "",
        "model_gate": "true" if settings.model_gate else "false",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=parse_stage, required=True, help="a stage of infra_cdk/settings.py")
    values = plan(parser.parse_args(argv).stage)
    for key, value in values.items():
        print(f"{key}={value}")
    write_github_output(**values)


if __name__ == "__main__":
    run(main)
