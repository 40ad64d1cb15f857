"""The Lambda entry point (contract.HANDLER): one Powertools resolver, routes that parse and respond. The
logic lives in ``model.core`` (shared with the Python API) and the sibling modules; the model is loaded at
import, and a bad artifact fails the init (:mod:`lambda_fn.model_store`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Final

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, ProxyEventType, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambda_fn import api_docs, errors, event_guard, observability
from lambda_fn.encoding import to_json
from lambda_fn.model_store import load_model
from lambda_fn.request_body import read_body
from model.core import contract, prediction, schemas
from model.core.prediction import BatchPrediction

MODEL: Final = load_model()
VERSION: Final = MODEL.model_version
observability.bind_model_version(VERSION)


class RestResolver(ApiGatewayResolver):
    """API Gateway's REST payload, on exact paths: APIGatewayRestResolver also answers "/v1/predict/" and
    "/v1/predict//", which the deployed gateway does not route to the same place."""

    current_event: APIGatewayProxyEvent


app: Final = RestResolver(proxy_type=ProxyEventType.APIGatewayProxyEvent, serializer=to_json)
errors.register(app)
OPERATIONS: Final[list[api_docs.Operation]] = []  # what the OpenAPI document describes, in route order

Answer = Callable[[Any], tuple[Any, BatchPrediction]]


def post(path: str, *, batch: bool, **documentation: Any) -> Callable[[Answer], Answer]:
    """A prediction route: the body is read as the documented request type, the answer's predictions are
    counted, and the answer (without the counting) is what the documentation's example shows."""

    def register(answer: Answer) -> Answer:
        operation = _operation(path, answer, **documentation)

        def serve() -> Any:
            body, result = answer(read_body(app.current_event, operation.request))
            drift_bins = prediction.drift_counts(MODEL, result.bmis)
            observability.record_predictions(result, drift_bins, batch=batch)
            return body

        OPERATIONS.append(operation._replace(answer=lambda request: answer(request)[0]))
        app.route(path, list(operation.route.methods))(serve)
        return answer

    return register


def get(path: str, **documentation: Any) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(answer: Callable[[], Any]) -> Callable[[], Any]:
        operation = _operation(path, answer, **documentation)
        OPERATIONS.append(operation._replace(answer=lambda _: answer()))
        app.route(path, list(operation.route.methods))(answer)
        return answer

    return register


def _operation(path: str, answer: Callable[..., Any], **documentation: Any) -> api_docs.Operation:
    (route,) = [r for r in contract.ROUTES if r.path == path]
    return api_docs.Operation(route=route, operation_id=answer.__name__, **documentation)


@post(
    contract.PATH_PREDICT,
    batch=False,
    summary="Predict from one BMI",
    tags=("predictions",),
    request=schemas.PredictRequest,
    response=schemas.PredictResponse,
    example={"bmi": 27.3},
)
def predict(body: schemas.PredictRequest) -> tuple[schemas.PredictResponse, BatchPrediction]:
    return prediction.respond(MODEL, body)


@post(
    contract.PATH_PREDICT_BATCH,
    batch=True,
    summary=f"Predict from 1 to {contract.BATCH_MAX} BMIs",
    tags=("predictions",),
    request=schemas.BatchPredictRequest,
    response=schemas.BatchPredictResponse,
    example={"bmi": [27.3, 31.0, 45.5]},
)
def predict_batch(body: schemas.BatchPredictRequest) -> tuple[schemas.BatchPredictResponse, BatchPrediction]:
    return prediction.respond_batch(MODEL, body)


# The contract of the system this service replaces: scaled units in, its own response shape out.
LEGACY: Final = {"tags": ("legacy",), "deprecated": True, "response": schemas.LegacyPredictResponse}


def _legacy(scaled: list[float], *, single: bool) -> tuple[schemas.LegacyPredictResponse, BatchPrediction]:
    result = prediction.predict_batch(MODEL, prediction.legacy_to_raw(MODEL, scaled, single=single))
    return {"Response Predict": result.values}, result


@post(
    contract.PATH_LEGACY_STREAM,
    batch=False,
    summary="Legacy: predict from one scaled BMI",
    description="Inputs in scikit-learn's scaled units. Deprecated: use /v1/predict.",
    request=schemas.LegacyStreamRequest,
    example={"input": 0.0616962065186885},
    **LEGACY,
)
def legacy_stream(body: schemas.LegacyStreamRequest) -> tuple[schemas.LegacyPredictResponse, BatchPrediction]:
    return _legacy([body["input"]], single=True)


@post(
    contract.PATH_LEGACY_BATCH,
    batch=True,
    summary="Legacy: predict from scaled BMIs",
    description="Inputs in scikit-learn's scaled units. Deprecated: use /v1/predict/batch.",
    request=schemas.LegacyBatchRequest,
    example={"input": [0.0616962065186885, -0.0514740612388061]},
    **LEGACY,
)
def legacy_batch(body: schemas.LegacyBatchRequest) -> tuple[schemas.LegacyPredictResponse, BatchPrediction]:
    return _legacy(body["input"], single=False)


@get(contract.PATH_MODEL, summary="The served model", tags=("model",), response=schemas.ModelInfoResponse)
def model_info() -> schemas.ModelInfoResponse:
    return {"artifact": MODEL, "limits": schemas.LIMITS}


@get(
    contract.PATH_HEALTH,
    summary="Liveness, and the served model",
    tags=("operations",),
    response=schemas.HealthResponse,
)
def health() -> schemas.HealthResponse:
    return {"status": "ok", "model_version": VERSION}


@get(contract.PATH_OPENAPI, summary="This OpenAPI document", tags=("operations",), response=errors.JSON)
def openapi_document() -> Response[str]:
    return Response(200, errors.JSON, _documentation(api_docs.base_path(app.current_event))[0])


@get(
    contract.PATH_DOCS,
    summary="Swagger UI for this API (no CDN needed)",
    tags=("operations",),
    response="text/html",
)
def docs() -> Response[str]:
    return Response(200, "text/html; charset=utf-8", _documentation(api_docs.base_path(app.current_event))[1])


@get(
    contract.PATH_ROOT,
    summary="Redirects to the API documentation",
    tags=("operations",),
    response=None,
    redirect=f"{contract.PATH_DOCS} under the address this document was fetched from",
)
def root() -> Response[str]:
    location = f"{api_docs.base_path(app.current_event)}{contract.PATH_DOCS}"
    return Response(302, "text/plain; charset=utf-8", "", headers={"Location": location})


@cache
def _documentation(base_path: str) -> tuple[str, str]:
    """The document and the page, per base path: built on first request, never at init."""
    document = api_docs.openapi_document(OPERATIONS, base_path, prediction.legacy_range(MODEL))
    return to_json(document), api_docs.swagger_html(document, signed=observability.STAGE != "local")


@observability.logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Never raises: a malformed event is a 400, a bug a 500, and either is one structured log line."""
    observability.start_request(event_guard.request_id(event))
    try:
        problem = event_guard.problem(event)
        if problem is not None:
            observability.note_error("bad_request", problem=problem)
            refusal = errors.ApiError("bad_request", f"The request cannot be read: {problem}.")
            response = refusal.as_proxy_response()
        elif (method := event["httpMethod"]) != method.upper():  # Powertools upper-cases; HTTP's are exact
            response = errors.not_routed(method, event["path"]).as_proxy_response()
        else:
            response = app.resolve(event, context)
    except Exception:
        response = errors.unexpected_error().as_proxy_response()
    finally:
        observability.publish_metrics(context)
    shown = event if isinstance(event, dict) else {}
    observability.log_request(
        method=event_guard.loggable_method(shown),
        route=event_guard.loggable_route(shown),
        status=response["statusCode"],
    )
    return response
