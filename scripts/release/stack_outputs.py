"""Reads one output of a deployed CloudFormation stack, e.g. the API URL of a stage.

    python -m scripts.release.stack_outputs --stack Staging-Service --output ApiUrl [--region eu-west-1]

Prints the value alone on stdout, so that a workflow can write
``URL=$(python -m scripts.release.stack_outputs ...)``.
Credentials come from the usual chain (environment, SSO or profile, role). The region is ``--region``, else
``AWS_REGION``, else ``AWS_DEFAULT_REGION`` or the profile's, as the AWS CLI reads them (boto3 alone would
ignore ``AWS_REGION``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


class StackOutputError(LookupError):
    """The stack does not exist, or has no output of that name."""


def _cloudformation(region: str | None) -> Any:
    import boto3  # imported lazily: callers that never reach AWS do not pay for it

    return boto3.client("cloudformation", region_name=region or os.environ.get("AWS_REGION") or None)


def stack_outputs(stack_name: str, *, region: str | None = None) -> dict[str, str]:
    """Every output of ``stack_name``, by OutputKey."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = _cloudformation(region).describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise StackOutputError(f"stack {stack_name!r}: {exc.response['Error']['Message']}") from exc
    except BotoCoreError as exc:  # no credentials, no region, endpoint unreachable
        raise StackOutputError(f"stack {stack_name!r}: {exc}") from exc
    if not stacks:
        raise StackOutputError(f"stack {stack_name!r} not found")
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def stack_output(stack_name: str, output_key: str, *, region: str | None = None) -> str:
    """The value of one output; :class:`StackOutputError` names the outputs that do exist if it is absent."""
    outputs = stack_outputs(stack_name, region=region)
    try:
        return outputs[output_key]
    except KeyError:
        known = ", ".join(sorted(outputs)) or "none"
        raise StackOutputError(
            f"stack {stack_name!r} has no output {output_key!r} (outputs: {known})"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", required=True, help="CloudFormation stack name, e.g. Staging-Service")
    parser.add_argument("--output", required=True, help="output key, e.g. ApiUrl")
    parser.add_argument("--region", default=None, help="AWS region (default: from the environment)")
    args = parser.parse_args(argv)
    try:
        print(stack_output(args.stack, args.output, region=args.region))
    except StackOutputError as exc:
        print(f"stack_outputs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
