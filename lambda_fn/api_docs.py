"""The OpenAPI document and the Swagger UI page, generated from the handler's operations.

Each operation names its contract route, its request and response types (:mod:`lambda_fn.schemas`, the same
types that validate and build the bodies) and a request example; the response example is what the route's
own answer function returns for that request, and the error examples are what the real error builders
return, so no example can drift from what the function answers. The page inlines the Swagger UI bundle that
ships with Powertools (~1.7 MB), so it works without a CDN; both are built on the first request and cached
by the handler.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import aws_lambda_powertools

from lambda_fn import contract, errors
from lambda_fn.schemas import ErrorResponse, to_json
from model.jsontypes import ValidationError, json_schema, read

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

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
  Codes: {", ".join(f"`{code}` ({error.status})" for code, error in contract.ERRORS.items())}.
- Protected routes are called with AWS Signature Version 4 (service `execute-api`).
- `/stream` and `/batch` are the contract of the system this service replaces, in scikit-learn's scaled
  units; they are deprecated: use `/v1/predict` and `/v1/predict/batch`.
"""
_SIGV4_SCHEME: Final = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": "AWS Signature Version 4 (IAM authorization on API Gateway, service execute-api).",
    "x-amazon-apigateway-authtype": "awsSigv4",
}
_BODY_ERRORS: Final[dict[str, tuple[str, tuple[Callable[[], errors.ApiError], ...]]]] = {
    "400": ("Malformed JSON or an empty body.", (errors.malformed_json, errors.empty_body)),
    "413": ("The request body is too large.", (errors.payload_too_large,)),
    "415": ("The request body is not JSON.", (errors.unsupported_media_type,)),
}
_SWAGGER_UI: Final = Path(aws_lambda_powertools.__file__).parent / "event_handler" / "openapi" / "swagger_ui"


class Operation(NamedTuple):
    """One documented route: what it takes, what it answers, and how to show an example of both."""

    route: contract.Route
    operation_id: str  # what generated clients name the call: the route function's name
    summary: str
    tags: tuple[str, ...]
    response: Any  # the 200 body's type, or the media type of the document the route returns
    answer: Callable[[Any], Any] | None = None  # the route's own answer for ``example``
    request: Any = None
    example: Any = None
    description: str = ""
    deprecated: bool = False


def base_path(event: APIGatewayProxyEvent) -> str:
    """``/prod`` when the API is called through its stage URL, ``""`` behind a custom domain (where the
    stage is not part of the path): the Swagger UI must send its requests to where the page came from."""
    context = event.request_context
    stage = context.stage
    if stage and stage != "$default" and (context.path or "").startswith(f"/{stage}/"):
        return f"/{stage}"
    return ""


def openapi_document(
    operations: Sequence[Operation], base: str, scaled: tuple[float, float]
) -> dict[str, Any]:
    """The document for the API served at ``base``; ``scaled`` bounds the legacy routes' inputs, which
    depend on the served model's scaling."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    error_ref = json_schema(ErrorResponse, schemas)
    for op in operations:
        paths.setdefault(op.route.path, {})[op.route.method.lower()] = _operation(op, schemas, error_ref)
    low, high = scaled
    for name in ("LegacyStreamRequest", "LegacyBatchRequest"):
        field = schemas[name]["properties"]["input"]
        field.get("items", field).update(minimum=low, maximum=high)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": base or "/"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {SIGV4: _SIGV4_SCHEME}},
    }


def _operation(op: Operation, schemas: dict[str, Any], error_ref: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
        "responses": {},
    }
    if op.description:
        document["description"] = op.description
    if op.deprecated:
        document["deprecated"] = True
    if not op.route.public:
        document["security"] = [{SIGV4: []}]
    if isinstance(op.response, str):
        kind = "object" if op.response == errors.JSON else "string"
        content = {op.response: {"schema": {"type": kind}}}
    else:
        content = {errors.JSON: {"schema": _with_example(op.response, op.answer, op.example, schemas)}}
    document["responses"]["200"] = {"description": "OK", "content": content}
    if op.request is not None:
        document["requestBody"] = {
            "required": True,
            "content": {errors.JSON: {"schema": _with_example(op.request, None, op.example, schemas)}},
        }
        for status, (description, builders) in _BODY_ERRORS.items():
            examples = {b().code: _example(b()) for b in builders}
            document["responses"][status] = _error(description, error_ref, examples)
        document["responses"]["422"] = _error(
            "The body is JSON but not a valid request (wrong type, out of range, unknown field...).",
            error_ref,
            {"validation_error": _example(_invalid(op.request))},
        )
    return document


def _with_example(
    kind: Any, answer: Callable[[Any], Any] | None, example: Any, schemas: dict[str, Any]
) -> Any:
    schema = json_schema(kind, schemas)
    shown = example if answer is None else answer(example)
    if shown is not None:  # as it goes out: the artifact's dataclasses become its JSON document
        schemas[schema["$ref"].rsplit("/", 1)[1]].setdefault("examples", [json.loads(to_json(shown))])
    return schema


def _invalid(kind: Any) -> errors.ApiError:
    try:
        read({}, kind)  # an empty object: every request type has a required field
    except ValidationError as error:
        return errors.invalid(error)
    raise AssertionError(f"{kind.__name__} accepts an empty object")


def _example(error: errors.ApiError) -> dict[str, Any]:
    return {"summary": error.message, "value": error.body()}


def _error(description: str, schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {errors.JSON: {"schema": schema, "examples": examples}}}


def swagger_html(document: dict[str, Any]) -> str:
    """A self-contained Swagger UI page: the bundle, the stylesheet and the document inlined."""
    # "</" is escaped so that the document cannot close the page's <script> element.
    spec = to_json(document).replace("</", "<\\/")
    js = (_SWAGGER_UI / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (_SWAGGER_UI / "swagger-ui.min.css").read_text(encoding="utf-8")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{TITLE}</title><style>{css}</style></head>
<body><div id="swagger-ui"></div>
<script>{js}</script>
<script>SwaggerUIBundle({{dom_id: "#swagger-ui", spec: {spec}, deepLinking: true}});</script>
</body>
</html>
"""
