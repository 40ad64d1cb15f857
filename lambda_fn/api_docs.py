"""The OpenAPI document and the Swagger UI page, generated from the routes and built once per base path.

Powertools derives the document from the route signatures and the ``responses=`` declarations built here
(every POST route documents its success model and each error status with the one error shape). On top:

- the SigV4 security scheme that protected routes declare, and the API's description (limits, error codes);
- the bounds of the legacy routes' scaled inputs, which depend on the served model's mean and scale
  (:func:`lambda_fn.prediction.legacy_input_range`), so no static schema can state them;
- per error status, examples of the errors the function really returns at that status (built by the same
  functions that raise them, :mod:`lambda_fn.errors`);
- Powertools always registers its own ``HTTPValidationError`` shapes; this API never returns them (every
  error uses :class:`lambda_fn.schemas.ErrorResponse`), so unreferenced component schemas are dropped.
- The Swagger UI page inlines Powertools' bundled JavaScript and CSS (~1.7 MB), so it works without any
  CDN. It is built on first request and kept for the life of the process: rebuilding it per request (what
  ``enable_swagger`` does) costs milliseconds and the document cannot change while the process lives.

Compression is left to API Gateway (``minimumCompressionSize`` on the REST API): a gzip body from the
function would reach clients base64-encoded unless the API also declared binary media types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, content_types
from aws_lambda_powertools.event_handler import api_gateway as powertools_api_gateway
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel

from lambda_fn import contract, errors
from lambda_fn.schemas import SCALED_BMI_MARK, ErrorResponse

TITLE: Final = "Diabetes progression prediction API"
API_VERSION: Final = "1.0.0"
SIGV4: Final = "sigv4"
DESCRIPTION: Final = f"""\
Predicts diabetes disease progression one year after baseline from a patient's body mass index (BMI),
with a linear model trained on the 442-patient diabetes study.

- BMI is in kg/m^2 and must lie between {contract.BMI_MIN:g} and {contract.BMI_MAX:g}; a BMI outside the
  model's training range is still answered, flagged `"extrapolated": true`.
- A batch holds 1 to {contract.BATCH_MAX} values; a request body is at most {contract.BODY_MAX_BYTES} bytes.
- Every error, on every route, has one shape (`ErrorResponse`):
  `{{"error": {{"code": "...", "message": "...", "details": [{{"field": "...", "issue": "..."}}]}}}}`.
  Codes: `malformed_json`, `malformed_body`, `empty_body` (400), `not_found` (404), `method_not_allowed`
  (405, with an `Allow` header), `body_too_large` (413), `unsupported_media_type` (415),
  `validation_error` (422), `internal_error` (500).
- Protected routes are called with AWS Signature Version 4 (service `execute-api`).
- `/stream` and `/batch` are the contract of the system this service replaces, in scikit-learn's scaled
  units; they are deprecated: use `/v1/predict` and `/v1/predict/batch`.
"""

# Protected routes declare this requirement; API Gateway enforces it (IAM authorization).
PROTECTED: Final[list[dict[str, list[str]]]] = [{SIGV4: []}]
_ERROR_DESCRIPTIONS: Final = {
    400: "Malformed JSON or an empty body.",
    413: "The request body is too large.",
    415: "The request body is not JSON.",
    422: "The body is JSON but not a valid request (wrong type, out of range, unknown field...).",
}
# Built only when the document is: instantiating the error models at import would cost every cold start.
_ERROR_EXAMPLES: Final[tuple[Callable[[], errors.ApiError], ...]] = (
    errors.malformed_json,
    errors.empty_body,
    errors.body_too_large,
    errors.unsupported_media_type,
)
_SIGV4_SCHEME: Final = {
    "in": "header",
    "name": "Authorization",
    "description": "AWS Signature Version 4 (IAM authorization on API Gateway, service execute-api).",
    "openapi_extensions": {"x-amazon-apigateway-authtype": "awsSigv4"},
}
_SWAGGER_ASSETS: Final = Path(powertools_api_gateway.__file__).parent / "openapi" / "swagger_ui"
_REF: Final = re.compile(r'"#/components/schemas/([^"]+)"')


def post_responses(ok: type[BaseModel], description: str) -> dict[int, OpenAPIResponse]:
    """The documented responses of a POST route: its success model and every error it can return."""
    failures = {status: _json(ErrorResponse, text) for status, text in _ERROR_DESCRIPTIONS.items()}
    return {200: _json(ok, description), **failures}


def document_response(description: str, media_type: str) -> OpenAPIResponse:
    """The documented response of a route that returns a document rather than a JSON model."""
    schema = {"type": "object"} if media_type == content_types.APPLICATION_JSON else {"type": "string"}
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _json(model: type[BaseModel], description: str) -> OpenAPIResponse:
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}


def base_path(event: APIGatewayProxyEvent) -> str:
    """``/prod`` when the API is called through its stage URL, ``""`` behind a custom domain (where the
    stage is not part of the path): the Swagger UI must send its requests to where the page came from."""
    context = event.request_context
    stage = context.stage
    if stage and stage != "$default" and (context.path or "").startswith(f"/{stage}/"):
        return f"/{stage}"
    return ""


@cache
def openapi_json(app: APIGatewayRestResolver, base_path: str, scaled_bmi_range: tuple[float, float]) -> str:
    """The OpenAPI document as JSON, with ``servers`` pointing at the stage's base path and the scaled
    inputs bounded by ``scaled_bmi_range`` (the served model's, see the module docstring)."""
    # Powertools' OpenAPI models take ~70 ms to import: paid by the first documentation request, not by
    # every cold start.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, Server

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=API_VERSION,
            description=DESCRIPTION,
            servers=[Server(url=base_path or "/")],
            security_schemes={SIGV4: APIKey.model_validate(_SIGV4_SCHEME)},
        )
    )
    _drop_unreferenced_schemas(document)
    _bound_scaled_inputs(document, *scaled_bmi_range)
    _add_error_examples(document)
    return json.dumps(document, separators=(",", ":"), allow_nan=False)


@cache
def swagger_html(app: APIGatewayRestResolver, base_path: str, scaled_bmi_range: tuple[float, float]) -> str:
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    # "</" is escaped so that the document cannot close the page's <script> element.
    spec = openapi_json(app, base_path, scaled_bmi_range).replace("</", "<\\/")
    js = (_SWAGGER_ASSETS / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (_SWAGGER_ASSETS / "swagger-ui.min.css").read_text(encoding="utf-8")
    return generate_swagger_html(spec, js, css, swagger_base_url="", oauth2_config=None)


def _drop_unreferenced_schemas(document: dict[str, Any]) -> None:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    while True:
        referenced = set(_REF.findall(json.dumps(document)))
        unreferenced = set(schemas) - referenced
        if not unreferenced:
            return
        for name in unreferenced:
            del schemas[name]


def _bound_scaled_inputs(node: Any, low: float, high: float) -> None:
    """Replaces every scaled-BMI mark (:data:`lambda_fn.schemas.SCALED_BMI_MARK`) with the bounds."""
    if isinstance(node, dict):
        if node.pop(SCALED_BMI_MARK, False):
            node["minimum"], node["maximum"] = low, high
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        _bound_scaled_inputs(child, low, high)


def _add_error_examples(document: dict[str, Any]) -> None:
    by_status: dict[str, dict[str, Any]] = {}
    for error in (build() for build in _ERROR_EXAMPLES):
        by_status.setdefault(str(error.status.value), {})[error.code] = {
            "summary": error.message,
            "value": error.body().model_dump(mode="json"),
        }
    for item in document["paths"].values():
        for operation in item.values():
            for status, examples in by_status.items():
                if response := operation["responses"].get(status):
                    response["content"][content_types.APPLICATION_JSON]["examples"] = examples
