"""Which deployment the end-to-end suite talks to (see conftest.py for the order of precedence)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from model.sdk.client import is_loopback, stack_api_url
from scripts.release import stack_region


@dataclass(frozen=True)
class Target:
    base_url: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        """A server on this machine: the development server, never API Gateway."""
        return is_loopback(self.host)


def configured_base_url(environ: Mapping[str, str]) -> str | None:
    """``E2E_BASE_URL``, else the ``ApiUrl`` output of the ``E2E_STACK_NAME`` stack, else ``None``
    (the suite then serves the function locally)."""
    if base_url := environ.get("E2E_BASE_URL"):
        return base_url
    if stack_name := environ.get("E2E_STACK_NAME"):  # read as the package's `call --stack` reads it
        return stack_api_url(stack_name, region=stack_region(stack_name) or environ.get("AWS_REGION"))
    return None
