"""The client against hostile stages over real loopback sockets, by class: nothing escapes but a
:class:`ClientError` (or a ValueError for a BMI that cannot be sent), one deadline bounds a call, an answer
is bounded in size and depth and must match its request, server text is escaped before it is shown, and
credentials are never sent where they could be read or replayed."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import pytest
from botocore.credentials import Credentials

from model.core import contract
from model.sdk.client import (
    MAX_ANSWER_BYTES,
    ApiError,
    Client,
    ClientError,
    ConfigurationError,
    ResponseError,
    Retry,
    TransportError,
    is_loopback,
)
from model.sdk.predictor import Model

from .stage import stall, trickle

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret", "token")
OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def local(model_artifact: Any) -> Model:
    return Model(model_artifact)


# --- URLs and credentials -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://user:hunter2@api.example.com/", "user name or password"),
        ("https://api.example.com/staging?debug=1", "no query"),
        ("https://api.example.com/staging?", "no query"),
        ("https://api.example.com/#top", "no query"),
        ("http://127.0.0.1:3000/\r\nX-Injected: 1", "without spaces or control characters"),
        ("http://127.0.0.1:3000 /", "without spaces or control characters"),
        ("http://[::1", "not a valid URL"),
    ],
)
def test_a_url_with_credentials_a_query_a_fragment_or_controls_is_refused_up_front(
    url: str, said: str
) -> None:
    with pytest.raises(ConfigurationError, match=said) as raised:
        Client(url, sign=False)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "localhost"])
def test_all_of_127_slash_8_and_ipv6_s_loopback_are_this_machine(host: str) -> None:
    assert is_loopback(host)
    bracketed = f"[{host}]" if ":" in host else host
    assert Client(f"http://{bracketed}:3000").signs is False


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "128.0.0.1", "::2", "localhost.example.com"])
def test_no_signature_is_ever_sent_in_cleartext_to_another_machine(host: str) -> None:
    bracketed = f"[{host}]" if ":" in host else host
    assert not is_loopback(host)
    with pytest.raises(ConfigurationError, match="refusing to sign"):
        Client(f"http://{bracketed}:3000", credentials=CREDENTIALS, region="eu-west-1")
    assert Client(f"http://{bracketed}:3000", sign=False).signs is False  # unsigned: the caller's choice


@pytest.mark.parametrize("timeout", [float("inf"), 1e308, float("nan"), 0, -1, 3601])
def test_a_timeout_that_cannot_be_a_deadline_is_refused(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        Client("http://127.0.0.1:3000", timeout=timeout)
    with pytest.raises(ConfigurationError, match="attempt"):
        Client("http://127.0.0.1:3000", retry=Retry(attempts=0))


# --- One deadline per call ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "step",
    [
        stall(3),
        trickle(OK_HEAD + b"Content-Length: 100\r\n\r\n", b"x" * 100, every=0.05),  # the body trickles
        trickle(b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"y" * 100, every=0.05),  # the headers trickle
    ],
    ids=["silent", "trickled body", "trickled headers"],
)
def test_one_deadline_bounds_a_call_however_the_answer_trickles(stage, step: Any) -> None:
    client = Client(stage(step).url, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"no answer within 0\.5 s"):
        client.health()
    assert time.monotonic() - started < 1.5


def test_retries_and_their_waits_stay_within_the_call_s_deadline(stage) -> None:
    busy = (503, {"error": {"code": "bad_gateway", "message": "busy", "details": []}}, {"Retry-After": "1"})
    server = stage(*[busy] * 4)
    started = time.monotonic()
    with pytest.raises(ApiError, match="HTTP 503"):
        Client(server.url, timeout=1.5, retry=Retry(attempts=4, cap_seconds=8)).health()
    assert time.monotonic() - started < 2.5
    assert len(server.received) == 2  # a third try would start after the deadline


@pytest.mark.parametrize(
    ("value", "longest"),
    [
        ("²", 0.25),  # a digit to str.isdigit, not to RFC 9110
        ("-3", 0.25),
        ("1.5", 0.25),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.25),  # a date in the past: now
        ("Fri, 31 Dec 9999 23:59:59 GMT", 8.0),  # the far future: the cap
        ("9" * 5000, 8.0),  # past int()'s digit limit: the cap
        ("Wed, 99 Oct 2015 99:99:99 GMT", 0.25),
        ("", 0.25),
    ],
)
def test_any_retry_after_is_read_and_bounded(value: str, longest: float) -> None:
    assert 0 <= Retry().delay(0, value, lambda _low, high: high) <= longest


# --- Bounded answers ----------------------------------------------------------------------------------------
def _endless_chunks(connection: Any) -> None:
    connection.sendall(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
    try:
        for _ in range(64):  # 64 MiB at most: the client must leave long before
            connection.sendall(chunk)
    except OSError:
        return


@pytest.mark.parametrize(
    "step",
    [
        _endless_chunks,
        OK_HEAD + f"Content-Length: {MAX_ANSWER_BYTES + 1}\r\n\r\n".encode() + b"[" * (MAX_ANSWER_BYTES + 1),
    ],
    ids=["chunked without end", "declared too long"],
)
def test_an_answer_larger_than_any_stage_gives_is_refused(stage, step: Any) -> None:
    with pytest.raises(ResponseError, match=f"more than {MAX_ANSWER_BYTES} bytes"):
        Client(stage(step).url).health()


@pytest.mark.parametrize("status", [200, 500])
def test_json_nested_past_the_parser_s_depth_is_an_unreadable_answer(stage, status: int) -> None:
    server = stage((status, b"[" * 100_000))
    with pytest.raises(ClientError) as raised:
        Client(server.url, retry=Retry(attempts=1)).health()
    assert isinstance(raised.value, ResponseError if status == 200 else ApiError)


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        OK_HEAD + b"Content-Length: 50\r\n\r\n{}",  # shorter than it says
        OK_HEAD + b"Content-Length: abc\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 200 + b"\r\n",  # more headers than http.client reads
        OK_HEAD + b"Content-Length: 4\r\n\r\n\xff\xfe{}",
    ],
    ids=["no status line", "short body", "bad length", "too many headers", "not utf-8"],
)
def test_a_malformed_answer_is_a_client_error(stage, raw: bytes) -> None:
    with pytest.raises(ClientError):
        Client(stage(raw).url, retry=Retry(attempts=1)).health()


# --- Answers must match their requests ----------------------------------------------------------------------
def _batch_edits(answer: dict[str, Any]) -> list[dict[str, Any]]:
    short = {**answer, "predictions": answer["predictions"][:-1]}
    bounds = {**answer, "intervals": {**answer["intervals"], "lower": answer["intervals"]["lower"][:1]}}
    inverted = {**answer, "intervals": {**answer["intervals"], "lower": answer["intervals"]["upper"]}}
    flags = {**answer, "extrapolated": answer["extrapolated"][:1]}
    return [short, bounds, inverted, flags]


@pytest.mark.parametrize(
    "edit", range(4), ids=["fewer predictions", "fewer bounds", "lower > prediction", "fewer flags"]
)
def test_a_batch_answer_that_does_not_match_its_request_is_a_response_error(
    stage, local: Model, edit: int
) -> None:
    wrong = _batch_edits(dict(local.predict_batch([22.0, 27.3, 45.1])))[edit]
    with pytest.raises(ResponseError, match=r"predictions for 3 BMIs|does not hold its prediction"):
        Client(stage((200, wrong)).url).predict_batch([22.0, 27.3, 45.1])


def test_a_single_answer_whose_interval_misses_its_prediction_is_a_response_error(
    stage, local: Model
) -> None:
    answer = local.predict(27.3)
    wrong = {**answer, "interval": {**answer["interval"], "lower": answer["interval"]["upper"] + 1}}
    with pytest.raises(ResponseError, match="does not hold its prediction"):
        Client(stage((200, wrong)).url).predict(27.3)


# --- Bounded inputs -----------------------------------------------------------------------------------------
def test_an_endless_iterable_is_sent_as_one_value_too_many_and_refused(stage) -> None:
    refusal = (422, contract.error_body("validation_error", "The request body is not valid.", []))
    server = stage(refusal)
    taken = itertools.count()
    values = (27.3 + 0 * next(taken) for _ in itertools.repeat(None))
    with pytest.raises(ApiError):
        Client(server.url).predict_batch(values)
    assert len(server.received[0].json()["bmi"]) == contract.BATCH_MAX + 1
    assert next(taken) == contract.BATCH_MAX + 1  # no value was taken past the one too many


def test_a_value_json_cannot_hold_is_sent_as_text_for_the_service_to_refuse(stage) -> None:
    refusal = (
        422,
        contract.error_body("validation_error", "x", [{"field": "bmi", "issue": "must be a number"}]),
    )
    server = stage(refusal)
    with pytest.raises(ApiError, match="must be a number"):
        Client(server.url).predict(object())  # type: ignore[arg-type]
    assert isinstance(server.received[0].json()["bmi"], str)


# --- Server text --------------------------------------------------------------------------------------------
def test_server_text_is_escaped_and_bounded_in_what_is_shown(stage) -> None:
    message = "\x1b]0;pwned\x07\x1b[2J" + "\ud800" + "m" * 1_000_000
    server = stage(
        (422, contract.error_body("validation_error", message, [{"field": "\x1b[31mbmi", "issue": "x"}]))
    )
    with pytest.raises(ApiError) as raised:
        Client(server.url).predict(27.3)
    shown = str(raised.value)
    assert shown.isprintable()
    assert "\\x1b]0;pwned\\x07" in shown
    assert len(shown) < 400
    assert raised.value.message == message  # the raw value stays available to code


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"timeout": True}, "timeout must be more than 0"),  # not 1 s
        ({"timeout": "30"}, "timeout must be more than 0"),
        ({"retry": Retry(attempts=2.5)}, "at least one attempt"),  # type: ignore[arg-type]
        ({"retry": Retry(attempts=True)}, "at least one attempt"),
        ({"retry": 3}, "must be a Retry"),
        ({"retry": Retry(base_seconds="1")}, "base_seconds"),  # type: ignore[arg-type]
        ({"retry": Retry(cap_seconds=float("inf"))}, "cap_seconds"),
        ({"retry": Retry(statuses={"429"})}, "statuses"),  # type: ignore[arg-type]
        ({"retry": Retry(statuses="429")}, "statuses"),  # type: ignore[arg-type]
        ({"sign": "no"}, "sign must be bool | None, not str"),
        ({"region": 1, "sign": True, "credentials": CREDENTIALS}, "region must be str | None, not int"),
        ({"profile": b"p"}, "profile must be str | None, not bytes"),
    ],
)
def test_an_option_of_the_wrong_type_is_refused_when_the_client_is_made(
    options: dict[str, Any], said: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(said)):
        Client("http://127.0.0.1:3000", **options)


@pytest.mark.parametrize("statuses", [[429, 503], (429,), {503}, frozenset()])
def test_retry_statuses_may_be_any_collection_of_ints(statuses) -> None:
    assert Client("http://127.0.0.1:3000", retry=Retry(statuses=statuses)).retry.statuses == statuses
