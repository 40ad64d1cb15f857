"""The end-to-end suite's HTTP access: the installable package's own client
(:class:`model.sdk.client.Client`), so every run tests it, against the local service and, in the Release,
against Staging (where it signs the protected routes with SigV4).

The checks need raw requests (malformed bodies, wrong methods, unsigned calls to protected routes), so this
adapter sends through :meth:`Client.send`: one attempt, any status returned, signed as the client signs
(the protected routes of a deployed stage) unless ``signed`` says otherwise.
"""

from __future__ import annotations

import json as json_module
from collections.abc import Mapping
from typing import Any

from model.sdk.client import Client, Response


class ApiClient:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.base_url = client.base_url

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        signed: bool | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Sends ``method path`` with ``json`` (encoded) or ``data`` (as is) as its body."""
        body = json_module.dumps(json).encode() if json is not None else data
        return self.client.send(method, path, body, headers=headers, sign=signed)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)
