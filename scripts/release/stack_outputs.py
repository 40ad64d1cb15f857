"""Reads one output of a deployed CloudFormation stack, e.g. the API URL of a stage.

    python -m scripts.release.stack_outputs --stack Staging-Service --output ApiUrl [--region eu-west-1]

Prints the value alone, for ``URL=$(...)``. The region of a stack of this app (a stage's, DeliveryAccess)
is its settings' (one region rule: the CLI's default and AWS_REGION do not matter); of any other stack,
``--region``, else ``AWS_REGION``, ``AWS_DEFAULT_REGION`` or the profile's. The reading is the package
client's (:func:`model.sdk.client.stack_api_url`), which ``diabetes-progression call --stack`` and the
end-to-end suite use too.
"""

from __future__ import annotations

import argparse

from model.sdk.client import ConfigurationError, stack_api_url
from scripts.release import ReleaseError, run, stack_region


def stack_output(stack_name: str, output_key: str, *, region: str | None = None) -> str:
    """The value of one output; the error names the outputs that do exist if it is absent."""
    try:
        return stack_api_url(stack_name, region=region or stack_region(stack_name), output=output_key)
    except ConfigurationError as exc:  # no such stack (in this region), no region, access denied
        raise ReleaseError(str(exc)) from exc


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="CloudFormation stack name, e.g. Staging-Service")
    parser.add_argument("--output", required=True, help="output key, e.g. ApiUrl")
    parser.add_argument(
        "--region", default=None, help="AWS region (default: the stage's, else the environment's)"
    )
    args = parser.parse_args(argv)
    print(stack_output(args.stack, args.output, region=args.region))


if __name__ == "__main__":
    run(main)
