"""The ad-code edge's argument and answer checks (the requests are tested against the sandbox)."""

from __future__ import annotations

import pytest

from partnership_ads.graph.ad_codes import expect_ad_code, expect_success, media_id, outcome_unknown
from partnership_ads.graph.errors import AdCodeOutcomeUnknownError, GraphTransientError


@pytest.mark.parametrize(
    ("given", "expected"), [("17900000000000001", "17900000000000001"), (179, "179"), (" 42 ", "42")]
)
def test_an_instagram_media_id_is_digits(given: object, expected: str) -> None:
    assert media_id(given) == expected


@pytest.mark.parametrize("given", ["123_456", "", "abc", True, None, 1.5, ["1"]])
def test_anything_but_digits_is_refused_naming_ig_media_id(given: object) -> None:
    with pytest.raises(ValueError, match=r"^ig_media_id: .* is not an Instagram media id"):
        media_id(given)


def test_a_post_answer_needs_a_non_empty_ad_code() -> None:
    assert expect_ad_code({"ad_code": "AQ123"}) is None
    for body in ({}, {"ad_code": ""}, {"ad_code": 5}):
        assert expect_ad_code(body) == "a JSON object with a non-empty 'ad_code' string"


def test_a_delete_answer_needs_a_boolean_success() -> None:
    assert expect_success({"success": False}) is None
    assert expect_success({"success": "true"}) == "a JSON object with a boolean 'success'"


def test_an_unsettled_post_keeps_the_facts_of_its_error_and_is_retryable() -> None:
    error = GraphTransientError(
        "HTTP 502 without a Graph error envelope",
        http_status=502,
        fbtrace_id="AbC",
        is_transient=True,
        method="POST",
        path="179/partnership_ad_code",
    )
    unknown = outcome_unknown(error, "no discovery scope was given to look the media up")
    assert isinstance(unknown, AdCodeOutcomeUnknownError)
    assert (unknown.http_status, unknown.fbtrace_id, unknown.method, unknown.path) == (
        502,
        "AbC",
        "POST",
        "179/partnership_ad_code",
    )
    assert unknown.retryable is True
    assert unknown.outcome_unknown is True
    assert unknown.message == (
        "the POST may have created an ad code (HTTP 502 without a Graph error envelope); "
        "no discovery scope was given to look the media up"
    )
