"""AWS for the client, through botocore (the ``client`` extra, imported only here and only when needed):
SigV4 signatures from the standard credential chain, the region of a stage, and a stack's ``ApiUrl``."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .errors import ConfigurationError

if TYPE_CHECKING:
    from botocore.credentials import Credentials


SERVICE: Final = "execute-api"  # the SigV4 service name of API Gateway's invoke API
API_URL_OUTPUT: Final = "ApiUrl"  # the CloudFormation output of each stage's Service stack
_OUTPUT: Final = {"OutputKey", "OutputValue"}
INSTALL_HINT: Final = "pip install 'diabetes-progression[client]'"
_EXECUTE_API_HOST: Final = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_SIGNED_HEADERS: Final = frozenset({"content-type"})


class Signer:
    """botocore's SigV4 for ``execute-api``, credentials resolved once (and refreshed by botocore)."""

    def __init__(
        self, host: str, region: str | None, profile: str | None, credentials: Credentials | None
    ) -> None:
        session = _botocore_session(profile)
        if credentials is None:
            try:
                credentials = session.get_credentials()
            except Exception as exc:  # botocore's errors (a broken profile, an expired SSO token, ...)
                raise ConfigurationError(f"cannot read AWS credentials: {exc}") from exc
        if credentials is None:
            raise ConfigurationError(
                "no AWS credentials found (environment, profile, SSO, container or instance role): configure "
                "some (`aws configure`, `aws sso login`) or pass --profile"
            )
        self.region = _region(session, region or region_of(host), f"cannot tell the region of {host}")
        self._credentials = credentials

    def headers(self, method: str, url: str, body: bytes | None, sent: Mapping[str, str]) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        signed = {k: v for k, v in sent.items() if k.lower() in _SIGNED_HEADERS}
        request = AWSRequest(method=method, url=url, data=body or b"", headers=signed)
        try:  # refreshed here when they expire: an SSO token or a role's session may have ended
            frozen = self._credentials.get_frozen_credentials()
        except Exception as exc:  # botocore's (TokenRetrievalError, ...)
            raise ConfigurationError(f"cannot refresh AWS credentials: {exc}") from exc
        SigV4Auth(frozen, SERVICE, self.region).add_auth(request)
        return {
            name: value
            for name, value in request.headers.items()
            if name.lower() == "authorization" or name.lower().startswith("x-amz-")
        }


def _botocore_session(profile: str | None) -> Any:
    try:
        import botocore.session
    except ImportError:
        raise ConfigurationError(f"signing needs botocore: {INSTALL_HINT}") from None
    try:
        return botocore.session.Session(profile=profile)
    except Exception as exc:  # ProfileNotFound and friends
        raise ConfigurationError(str(exc)) from exc


def _region(session: Any, given: str | None, problem: str) -> str:
    """``given``, else AWS_REGION, AWS_DEFAULT_REGION, the profile's; none: ``problem`` says so."""
    environment = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    try:
        region = given or environment or session.get_config_variable("region")
    except Exception as exc:  # botocore's: no such profile, an unparsable config file
        raise ConfigurationError(f"{problem}: cannot read the AWS configuration: {exc}") from exc
    if not region:
        raise ConfigurationError(f"{problem}: pass --region or set AWS_REGION")
    return region


def region_of(host: str) -> str | None:
    """The region in an ``{api-id}.execute-api.{region}.amazonaws.com`` host name, if it is one."""
    match = _EXECUTE_API_HOST.match(host.lower())
    return match.group(1) if match else None


def stack_api_url(
    stack_name: str,
    *,
    region: str | None = None,
    profile: str | None = None,
    output: str = API_URL_OUTPUT,
    timeout: float = 30.0,
) -> str:
    """The ``ApiUrl`` output (or ``output``) of a deployed stack, read with CloudFormation's DescribeStacks
    through botocore within ``timeout`` seconds; the region as for signing (``region``, ``AWS_REGION``,
    ``AWS_DEFAULT_REGION``, the profile's)."""
    deadline = time.monotonic() + timeout
    session = _botocore_session(profile)
    region = _region(session, region, f"stack {stack_name!r}: no region")
    try:
        stacks = _describe(session, stack_name, region, deadline)
    except Exception as exc:  # no such stack, access denied, no credentials, endpoint unreachable or silent
        said = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else str(exc)
        raise ConfigurationError(f"stack {stack_name!r} in {region}: {said}") from exc
    if not stacks:
        raise ConfigurationError(f"stack {stack_name!r} in {region}: DescribeStacks answered no stack")
    # Both fields are optional in CloudFormation's model: an output missing one names nothing to read
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", []) if o.keys() >= _OUTPUT}
    if output not in outputs:
        known = ", ".join(sorted(outputs)) or "none"
        raise ConfigurationError(f"stack {stack_name!r} has no output {output!r} (outputs: {known})")
    return str(outputs[output])


def _describe(session: Any, stack_name: str, region: str, deadline: float) -> list[Any]:
    """DescribeStacks' stacks, one attempt: botocore's defaults (60 s per read, several retries) would
    outlast any deadline. Connecting and reading get half the time left each, so both fit in it."""
    from botocore.config import Config
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    half = max((deadline - time.monotonic()) / 2, 0.001)
    config = Config(connect_timeout=half, read_timeout=half, retries={"total_max_attempts": 1})
    cloudformation = session.create_client("cloudformation", region_name=region, config=config)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (ConnectTimeoutError, ReadTimeoutError):
        raise TimeoutError from None
    if time.monotonic() >= deadline:
        raise TimeoutError
    return list(stacks)
