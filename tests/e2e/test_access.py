"""Who may call what: protected routes need a SigV4 signature behind API Gateway, public routes do not."""

from __future__ import annotations

import pytest

from model.core import contract
from tests.e2e.assertions import assert_error

PROTECTED = [r for r in contract.ROUTES if not r.public]
PUBLIC = [r for r in contract.ROUTES if r.public]


@pytest.fixture
def deployed(target):
    if target.is_loopback:
        pytest.skip("authorization is API Gateway's (AWS_IAM): only a deployed stage enforces it")
    return target


@pytest.mark.smoke
@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: f"{r.method} {r.path}")
def test_unsigned_request_to_a_protected_route_is_refused(api, deployed, route):
    kwargs: dict[str, object] = {"json": {}} if route.method == "POST" else {}
    response = api.request(route.method, route.path, signed=False, **kwargs)
    assert_error(response, 403, "missing_authentication")


@pytest.mark.smoke
@pytest.mark.parametrize("route", PUBLIC, ids=lambda r: f"{r.method} {r.path}")
def test_public_routes_need_no_signature(api, route):
    expected = 302 if route.path == contract.PATH_ROOT else 200  # the root redirects to /docs
    assert api.request(route.method, route.path, signed=False).status == expected
