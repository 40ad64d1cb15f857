"""Fixtures for the function's unit tests: the real handler, invoked in-process with API Gateway events.

The handler module loads its model at import, so it is imported once, after the session's artifact exists.
Its output (structured log lines and EMF metric lines, both on stdout in Lambda) is captured per call.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

from model.core import contract
from model.core.artifact import ModelArtifact

STAGE = "unit-test"
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


@dataclass(frozen=True)
class LambdaContext:
    function_name: str = "diabetes-progression-test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:diabetes-progression-test"
    aws_request_id: str = "lambda-request-id"


def api_event(
    method: str,
    path: str,
    body: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    base64_encoded: bool = False,
    request_id: str = REQUEST_ID,
    stage: str = "prod",
) -> dict[str, Any]:
    """An API Gateway REST proxy event (payload format 1.0), as API Gateway sends it."""
    headers = {"Content-Type": "application/json"} if headers is None else headers
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": request_id,
            "stage": stage,
            "path": f"/{stage}{path}",
            "httpMethod": method,
            "resourcePath": path,
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


@dataclass
class Result:
    status: int
    headers: dict[str, list[str]]
    body: Any  # decoded JSON, or the raw text when not JSON
    raw_body: str
    output: list[str] = field(default_factory=list)  # every stdout line the invocation wrote

    def header(self, name: str) -> str | None:
        for key, values in self.headers.items():
            if key.lower() == name.lower():
                return ",".join(values)
        return None

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [line for line in map(json.loads, self.output) if "level" in line]

    @property
    def emf(self) -> list[dict[str, Any]]:
        return [line for line in map(json.loads, self.output) if "_aws" in line]


class Invoker:
    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self._log_handler = module.observability.logger.registered_handler

    def event(self, event: dict[str, Any]) -> Result:
        buffer = io.StringIO()
        # Powertools' Logger keeps the stream it was created with; metrics are print()ed to sys.stdout.
        previous = self._log_handler.setStream(buffer)
        try:
            with contextlib.redirect_stdout(buffer):
                response = self.module.handler(event, LambdaContext())
        finally:
            self._log_handler.setStream(previous)
        raw = response.get("body") or ""
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        return Result(
            status=response["statusCode"],
            headers=dict(response.get("multiValueHeaders") or {}),
            body=body,
            raw_body=raw,
            output=[line for line in buffer.getvalue().splitlines() if line.strip()],
        )

    def __call__(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Result:
        text = body if body is None or isinstance(body, str) else json.dumps(body)
        return self.event(api_event(method, path, text, **kwargs))


@pytest.fixture(scope="session")
def handler_module(model_artifact_path: Path) -> Iterator[ModuleType]:
    environment = {contract.ENV_STAGE: STAGE, contract.ENV_MODEL_PATH: str(model_artifact_path)}
    with mock.patch.dict(os.environ, environment):  # both are read once, at import (Lambda's init)
        return importlib.import_module("lambda_fn.handler")


@pytest.fixture(scope="session")
def invoke(handler_module: ModuleType) -> Invoker:
    return Invoker(handler_module)


@pytest.fixture(scope="session")
def served_model(handler_module: ModuleType) -> ModelArtifact:
    model: ModelArtifact = handler_module.MODEL
    return model
