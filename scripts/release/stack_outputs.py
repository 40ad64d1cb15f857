"""Reads one output of a deployed CloudFormation stack, e.g. the API URL of a stage.

    python -m scripts.release.stack_outputs --stack Staging-Service --output ApiUrl [--region eu-west-1]

Prints the value alone, for ``URL=$(...)``. The region is ``--region``, else ``AWS_REGION``, else
``AWS_DEFAULT_REGION`` or the profile's, as the AWS CLI reads them (boto3 alone ignores ``AWS_REGION``).
"""

from __future__ import annotations

import argparse
import os

from scripts.release import ReleaseError, run


def stack_output(stack_name: str, output_key: str, *, region: str | None = None) -> str:
    """The value of one output; the error names the outputs that do exist if it is absent."""
    import boto3  # lazily: callers that never reach AWS do not pay for it
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cloudformation = boto3.client(
            "cloudformation", region_name=region or os.environ.get("AWS_REGION") or None
        )
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:  # no such stack (in this region), access denied
        raise ReleaseError(f"stack {stack_name!r}: {exc.response['Error']['Message']}") from exc
    except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
        raise ReleaseError(f"stack {stack_name!r}: {exc}") from exc
    outputs: dict[str, str] = {
        output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])
    }
    if output_key not in outputs:
        known = ", ".join(sorted(outputs)) or "none"
        raise ReleaseError(f"stack {stack_name!r} has no output {output_key!r} (outputs: {known})")
    return outputs[output_key]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="CloudFormation stack name, e.g. Staging-Service")
    parser.add_argument("--output", required=True, help="output key, e.g. ApiUrl")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")
    args = parser.parse_args(argv)
    print(stack_output(args.stack, args.output, region=args.region))


if __name__ == "__main__":
    run(main)
