"""The API documentation, used in a real browser: Swagger UI renders and "Try it out" gets a prediction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from model.core import contract
from tests.e2e.browser import FLAGS, find_chromium

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "test-results" / "docs-try-it-out.png"
TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1100, "height": 900}


def page_region(page, first, last) -> dict[str, float]:
    """The full-page rectangle from the top of ``first`` to the bottom of ``last``, in page coordinates
    (bounding boxes are relative to the scrolled viewport)."""
    top, bottom = first.bounding_box(), last.bounding_box()
    assert top is not None
    assert bottom is not None
    scroll_y = page.evaluate("window.scrollY")
    height = bottom["y"] + bottom["height"] - top["y"]
    return {"x": 0, "y": top["y"] + scroll_y, "width": VIEWPORT["width"], "height": height}


@pytest.fixture
def chromium(loopback_target):  # loopback first: no browser is started for a deployed target
    executable = find_chromium()
    if executable is None:
        pytest.fail("no Chromium found: scripts/setup installs one (or set CHROMIUM=/path/to/browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright.chromium, executable


@pytest.mark.browser
@pytest.mark.slow
def test_swagger_ui_renders_and_try_it_out_returns_a_prediction(loopback_target, chromium, api, tmp_path):
    browser_type, executable = chromium
    # A persistent context is how Playwright takes a user-data-dir: a fresh, empty one per run.
    context = browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=executable,
        headless=True,
        args=list(FLAGS),
        viewport=VIEWPORT,
    )
    try:
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{loopback_target.base_url}/docs")

        # Swagger UI rendered one block per documented operation
        page.wait_for_selector(".opblock")
        rendered = {
            (
                block.locator(".opblock-summary-method").inner_text().strip(),
                block.locator("[data-path]").first.get_attribute("data-path"),
            )
            for block in page.locator(".opblock").all()
        }
        assert rendered == {(route.method, route.path) for route in contract.ROUTES}

        # "Try it out" on POST /v1/predict, with the documented example body, then Execute
        operation = page.locator("#operations-predictions-predict")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("textarea.body-param__text").fill(json.dumps({"bmi": 27.3}))
        operation.get_by_role("button", name="Execute").click()

        # The live response is shown in the page: 200 and a prediction
        live = operation.locator(".live-responses-table .response")
        live.locator(".response-col_status").wait_for()
        assert live.locator(".response-col_status").inner_text().strip().startswith("200")
        body = json.loads(live.locator("pre.microlight code").first.inner_text())
        coefficients = api.get("/v1/model").json()["artifact"]["coefficients"]
        assert body["prediction"] == pytest.approx(coefficients["slope"] * 27.3 + coefficients["intercept"])
        assert re.fullmatch(r"bmi-linear-[0-9a-f]+", body["model_version"])

        # The run's artifact: the operation, from its request to the live response
        page.screenshot(path=str(SCREENSHOT), full_page=True, clip=page_region(page, operation, live))
    finally:
        context.close()
