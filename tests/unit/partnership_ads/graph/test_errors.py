"""Classification of Graph answers into GraphAPIError subclasses with a retryable verdict."""

from __future__ import annotations

import json
import pickle

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from partnership_ads.graph.errors import (
    AdCodeOutcomeUnknownError,
    GraphAPIError,
    GraphAuthError,
    GraphBadResponseError,
    GraphDuplicateError,
    GraphInvalidParameterError,
    GraphPermissionError,
    GraphPolicyBlockError,
    GraphThrottleError,
    GraphTransientError,
    classify_response,
    scrub,
)

TOKEN = "EAABsandboxTOKEN0123456789"


def answer(status: int, body: object, content_type: str = "application/json") -> requests.Response:
    """A received answer, as requests hands it over (built directly: this tests a pure function)."""
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers = CaseInsensitiveDict({"content-type": content_type})
    response.encoding = "utf-8"
    return response


def envelope(
    code: int, subcode: int | None = None, *, is_transient: bool | None = None, **extra: object
) -> dict:
    error: dict[str, object] = {"message": f"(#{code}) something", "type": "OAuthException", "code": code}
    error["fbtrace_id"] = "AbC123xyz"
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    error.update(extra)
    return {"error": error}


def classify(status: int, body: object, **kwargs: object) -> GraphAPIError:
    result, error = classify_response(answer(status, body, **kwargs), method="GET", path="1/edge")
    assert result is None
    assert error is not None
    return error


@pytest.mark.parametrize(
    ("status", "code", "expected", "retryable"),
    [
        (500, 1, GraphTransientError, True),
        (500, 2, GraphTransientError, True),
        (400, 4, GraphThrottleError, True),
        (400, 17, GraphThrottleError, True),
        (400, 32, GraphThrottleError, True),
        (400, 341, GraphThrottleError, True),
        (400, 613, GraphThrottleError, True),
        (400, 80000, GraphThrottleError, True),
        (400, 80002, GraphThrottleError, True),
        (400, 80004, GraphThrottleError, True),
        (400, 80014, GraphThrottleError, True),
        (400, 368, GraphPolicyBlockError, False),
        (400, 100, GraphInvalidParameterError, False),
        (403, 10, GraphPermissionError, False),
        (403, 200, GraphPermissionError, False),
        (403, 299, GraphPermissionError, False),
        (400, 190, GraphAuthError, False),
        (400, 506, GraphDuplicateError, False),
        (400, 12345, GraphAPIError, False),
        (503, 12345, GraphTransientError, True),
    ],
)
def test_error_code_decides_class_and_retryable(
    status: int, code: int, expected: type[GraphAPIError], retryable: bool
) -> None:
    error = classify(status, envelope(code))
    assert type(error) is expected
    assert error.retryable is retryable
    assert error.code == code


def test_invalid_parameter_marked_transient_is_retryable() -> None:
    error = classify(400, envelope(100, is_transient=True))
    assert isinstance(error, GraphTransientError)
    assert error.retryable is True
    assert error.is_transient is True


def test_token_errors_keep_their_subcode() -> None:
    error = classify(400, envelope(190, 463))
    assert isinstance(error, GraphAuthError)
    assert error.error_subcode == 463


def test_every_attribute_of_the_envelope_is_carried() -> None:
    error = classify(
        400, envelope(100, 1885183, error_user_msg="Pick fewer ids", error_user_title="Too many")
    )
    assert (error.http_status, error.code, error.error_subcode) == (400, 100, 1885183)
    assert (error.type, error.fbtrace_id, error.is_transient) == ("OAuthException", "AbC123xyz", False)
    assert error.message == "(#100) something"
    assert error.error_user_msg == "Pick fewer ids"


def test_message_reads_well_alone_in_a_task_log() -> None:
    text = str(classify(400, envelope(100, 1885183)))
    for fragment in ("GET 1/edge failed", "HTTP 400", "code 100", "subcode 1885183", "fbtrace_id AbC123xyz"):
        assert fragment in text
    assert "[not retryable]" in text


def test_html_page_with_200_is_an_error_not_a_success() -> None:
    error = classify(200, b"<html><body><h1>Gateway says hi</h1></body></html>", content_type="text/html")
    assert isinstance(error, GraphBadResponseError)
    assert error.retryable is True
    assert "non-JSON body (text/html)" in error.message
    assert "Gateway says hi" in error.message


def test_truncated_json_with_200_is_an_error() -> None:
    error = classify(200, b'{"data": [{"content_id": "1"}, {"cont')
    assert isinstance(error, GraphBadResponseError)


def test_json_that_is_not_an_object_with_200_is_an_error() -> None:
    assert isinstance(classify(200, [1, 2]), GraphBadResponseError)


def test_error_envelope_with_200_is_an_error() -> None:
    assert isinstance(classify(200, envelope(190)), GraphAuthError)


def test_html_502_from_a_proxy_is_transient() -> None:
    error = classify(502, b"<html>Bad gateway</html>", content_type="text/html")
    assert isinstance(error, GraphTransientError)
    assert error.retryable is True
    assert error.http_status == 502
    assert error.code is None


def test_429_without_envelope_is_throttling() -> None:
    assert isinstance(classify(429, b"slow down", content_type="text/plain"), GraphThrottleError)


def test_403_without_envelope_is_a_permission_error() -> None:
    assert isinstance(classify(403, b"", content_type="text/plain"), GraphPermissionError)


def test_throttle_carries_the_told_wait() -> None:
    _, error = classify_response(answer(400, envelope(80002)), method="GET", path="p", wait_seconds=120.0)
    assert isinstance(error, GraphThrottleError)
    assert error.wait_seconds == 120.0
    assert "Wait about 120s" in str(error)


def test_success_returns_the_body() -> None:
    body, error = classify_response(answer(200, {"data": []}), method="GET", path="p")
    assert (body, error) == ({"data": []}, None)


def test_secrets_and_query_strings_never_reach_the_message() -> None:
    page = f"<html>error for /v25.0/1/edge?access_token={TOKEN}&x=1 token {TOKEN}</html>".encode()
    _, error = classify_response(answer(502, page, "text/html"), method="GET", path="p", secrets=[TOKEN])
    assert error is not None
    assert TOKEN not in str(error)
    assert TOKEN not in error.message


def test_scrub_removes_credential_parameters_even_when_the_secret_is_unknown() -> None:
    text = scrub("url /v25.0/x?access_token=abc&appsecret_proof=def failed; access_token=ghi")
    assert "abc" not in text and "def" not in text and "ghi" not in text


def test_errors_survive_pickling_with_every_attribute() -> None:
    error = GraphThrottleError(
        "busy", http_status=400, code=80002, fbtrace_id="T", wait_seconds=60.0, method="GET"
    )
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert type(copy) is GraphThrottleError
    assert (copy.code, copy.fbtrace_id, copy.wait_seconds, copy.retryable) == (80002, "T", 60.0, True)
    assert str(copy) == str(error)


def test_outcome_unknown_is_retryable_so_the_task_retries_and_looks_up_first() -> None:
    assert AdCodeOutcomeUnknownError("maybe").retryable is True
