"""The end-to-end suite's HTTP client: one base URL, SigV4 on the protected routes when one is given."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from model import contract

TIMEOUT_SECONDS = 30


class ApiClient:
    def __init__(self, base_url: str, *, protected_auth: requests.auth.AuthBase | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._protected_auth = protected_auth
        self._session = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def request(
        self, method: str, path: str, *, signed: bool | None = None, **kwargs: Any
    ) -> requests.Response:
        """Sends ``method path``; protected routes are signed unless ``signed=False`` says otherwise."""
        if signed is None:
            signed = urlsplit(path).path in contract.PROTECTED_PATHS
        auth = self._protected_auth if signed else None
        return self._session.request(method, self.url(path), auth=auth, timeout=TIMEOUT_SECONDS, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._session.close()
