"""Checks shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

from model.sdk.client import Response


def json_of(response: Response, status: int) -> Any:
    """The decoded JSON body, after checking the status and that the body is declared JSON."""
    assert response.status == status, f"{response.status} != {status}: {response.text[:500]}"
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    return response.json()


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "details": [{"field", "issue"}]}}."""
    body = json_of(response, status)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["details"], list), error
    for detail in error["details"]:
        assert set(detail) == {"field", "issue"}, detail
        assert detail["field"] is None or isinstance(detail["field"], str), detail
        assert isinstance(detail["issue"], str), detail
        assert detail["issue"], detail
    return error
