"""The OpenAPI document and the Swagger UI page, generated from the handler's operations: the schemas are the
types that validate the bodies, the response examples are the routes' own answers (rounded for people) and
the error examples the real error builders', so no example can drift. The page inlines Powertools' Swagger
UI bundle (no CDN); both are built on the first request and cached by the handler."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import aws_lambda_powertools

from lambda_fn import errors
from lambda_fn.encoding import to_json
from model.core import contract
from model.core.jsonschema import json_schema
from model.core.jsontypes import ValidationError, read
from model.core.schemas import ErrorResponse

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
- Every prediction comes with a prediction interval (conformal prediction): for patients like the study's
  cohort, the stated share (`level`) of measured outcomes falls inside their interval. The model is weak
  (BMI explains about a third of the variance), so the intervals are wide; they mean nothing for an
  extrapolated BMI. Method, level and measured coverage: `GET /v1/model`.
- A batch holds 1 to {contract.BATCH_MAX} values; a request body is at most {contract.BODY_MAX_BYTES} bytes.
- Every error, from the function or from the edge (API Gateway, its web application firewall), has one
  shape (`ErrorResponse`), and each operation lists every status it can answer, with an example of each
  code: `{{"error": {{"code": "...", "message": "...", "details": [{{"field": "...", "issue": "..."}}]}}}}`.
  An unknown path is a 404 `not_found`, a known path with another method a 405 `method_not_allowed` (with
  an `Allow` header).
- Protected routes are called with AWS Signature Version 4 (service `execute-api`): a browser cannot sign,
  so on a deployed stage "Try it out" works only for the public routes; sign with the project's client
  (`diabetes-progression call`), `curl --aws-sigv4` or botocore (docs/clients.md).
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
_SWAGGER_UI: Final = Path(aws_lambda_powertools.__file__).parent / "event_handler" / "openapi" / "swagger_ui"


class Operation(NamedTuple):
    """One documented route: what it takes, what it answers, and how to show an example of both."""

    route: contract.Route
    operation_id: str  # what generated clients name the call: the route function's name
    summary: str
    tags: tuple[str, ...]
    response: Any  # the 200 body's type, the media type of the document the route returns, or None
    answer: Callable[[Any], Any] | None = None  # the route's own answer for ``example``
    request: Any = None
    example: Any = None
    description: str = ""
    deprecated: bool = False
    redirect: str = ""  # a redirecting route: what its Location points at (it answers 302, no body)


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
    if op.redirect:
        location = {"description": op.redirect, "schema": {"type": "string"}}
        document["responses"]["302"] = {"description": "Found", "headers": {"Location": location}}
    elif isinstance(op.response, str):
        kind = "object" if op.response == errors.JSON else "string"
        content = {op.response: {"schema": {"type": kind}}}
        document["responses"]["200"] = {"description": "OK", "content": content}
    else:
        content = {errors.JSON: {"schema": _with_example(op.response, op.answer, op.example, schemas)}}
        document["responses"]["200"] = {"description": "OK", "content": content}
    if op.request is not None:
        document["requestBody"] = {
            "required": True,
            "content": {errors.JSON: {"schema": _with_example(op.request, None, op.example, schemas)}},
        }
    document["responses"].update(_errors(op, error_ref))
    return document


def _errors(op: Operation, schema: dict[str, Any]) -> dict[str, Any]:
    """Every error status ``op`` can answer on a deployed stage, from the function or the edge, with an
    example of each code: the function's own answer where it builds one, API Gateway's message where the
    edge answers."""
    scopes = {
        "route",
        *(["body"] if op.request is not None else []),
        *([] if op.route.public else ["signed"]),
    }
    by_status: dict[int, tuple[list[str], dict[str, Any]]] = {}
    built = _function_errors(op)
    for code, error in contract.ERRORS.items():
        if error.scope not in scopes:
            continue
        meanings, examples = by_status.setdefault(error.status, ([], {}))
        meanings.append(f"`{code}`: {error.meaning}")
        if code in built:
            examples[code] = {"summary": built[code].message, "value": built[code].body()}
        if error.gateway_message:
            edge = contract.error_body(code, error.gateway_message)
            examples[f"{code} (API Gateway)"] = {"summary": error.gateway_message, "value": edge}
    return {
        str(status): {
            "description": " ".join(meanings),
            "content": {errors.JSON: {"schema": schema, "examples": examples}},
        }
        for status, (meanings, examples) in sorted(by_status.items())
    }


def _function_errors(op: Operation) -> dict[str, errors.ApiError]:
    """The function's own answers on ``op``, by code: their examples are what the function answers."""
    answers = [errors.internal_error()]
    if op.request is not None:
        try:
            read({}, op.request)  # an empty object: every request type has a required field
        except ValidationError as error:
            answers.append(errors.invalid(error))
        else:
            raise AssertionError(f"{op.request.__name__} accepts an empty object")
        answers += [
            errors.conflicting_content_type(),
            errors.malformed_json(),
            errors.empty_body(),
            errors.payload_too_large(),
            errors.unsupported_media_type(),
        ]
    return {answer.code: answer for answer in answers}


def _with_example(
    kind: Any, answer: Callable[[Any], Any] | None, example: Any, schemas: dict[str, Any]
) -> Any:
    schema = json_schema(kind, schemas)
    shown = example if answer is None else _readable(json.loads(to_json(answer(example))))
    if shown is not None:  # as it goes out: the artifact's dataclasses become its JSON document
        schemas[schema["$ref"].rsplit("/", 1)[1]].setdefault("examples", [shown])
    return schema


def _readable(value: Any) -> Any:
    """An answer with its floats to 4 significant digits and at least one decimal (162.3, 10.11, 0.8981,
    5.6e-11): full float precision is arithmetic, not information, and a reader should not have to skip it."""
    if isinstance(value, float) and value != 0:
        return round(value, max(1, 3 - math.floor(math.log10(abs(value)))))
    if isinstance(value, dict):
        return {key: _readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_readable(item) for item in value]
    return value


def swagger_html(document: dict[str, Any], *, signed: bool) -> str:
    """A self-contained Swagger UI page: the bundle, the stylesheet and the document inlined. Its
    "Authorize" box is hidden: it asks for an Authorization value, and a SigV4 signature cannot be typed.
    ``signed``: the page is served by a deployed stage, whose protected routes need signed requests."""
    # "</" is escaped so that the document cannot close the page's <script> element.
    spec = to_json(document).replace("</", "<\\/")
    js = (_SWAGGER_UI / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (_SWAGGER_UI / "swagger-ui.min.css").read_text(encoding="utf-8")
    notice = (
        '<p class="notice">On this stage, the routes with a lock need AWS Signature Version 4: a browser '
        "cannot sign, so <b>Try it out</b> works for the public routes only. Call the others with "
        "<code>diabetes-progression call</code>, <code>curl --aws-sigv4</code> or botocore "
        "(docs/clients.md).</p>"
        if signed
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{TITLE}</title>
<style>{css}</style>
<style>.swagger-ui .auth-wrapper {{display: none}} .notice {{font: 14px sans-serif; margin: 1em 2em;
padding: .8em 1em; background: #fff6e0; border-left: 4px solid #e0a000}}</style></head>
<body>{notice}<div id="swagger-ui"></div>
<script>{js}</script>
<script>SwaggerUIBundle({{dom_id: "#swagger-ui", spec: {spec}, deepLinking: true}});</script>
</body>
</html>
"""
