"""Secrets leave an error text whole, before it is cut: no piece of a token survives in any error text.

A proxy that echoes the request (its ``Authorization`` header, its query string) puts the token in the body
of an error answer. Cutting that body first and scrubbing the excerpt afterwards left a piece of the token
that no rule recognised any more; these tests place the token across the cut.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from include.drills.secrets import leaked_pieces
from partnership_ads.graph.errors import SNIPPET_CHARS, classify_response, excerpt, scrub

# The shape of a Meta user token (EAAB... ZDZD, about 100 characters), made up.
TOKEN = "EAABk3Jq9ZxW2mLp7RtY4vNc8HdF6sGb1QeUo5TiAa0yXwMzCrsandboxbrandLq2Wn8Zt4Vx6Yk1Hs3Jd5Gf7Ba9Nc0MpZDZD"


def answer(status: int, body: bytes, content_type: str) -> requests.Response:
    """A received answer, as requests hands it over (built directly: this tests a pure function)."""
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers = CaseInsensitiveDict({"content-type": content_type})
    response.encoding = "utf-8"
    return response


def echo_page(token_at: int, echoed: str) -> bytes:
    """A proxy's HTML error page whose text (tags stripped) has the token begin at ``token_at``."""
    head = "502 Bad Gateway upstream did not answer; request as received: "
    before = echoed[: echoed.index(TOKEN)]
    filler = "." * (token_at - len(head) - len(before))
    page = (
        "<html><body><h1>502 Bad Gateway</h1><p>upstream did not answer; request as received: "
        f"{filler}{echoed}</p></body></html>"
    )
    # Where the token lands in the text the error quotes (tags dropped, blanks collapsed).
    assert " ".join(re.sub(r"<[^>]*>", " ", page).split()).index(TOKEN) == token_at
    return page.encode()


@pytest.mark.parametrize("token_at", [SNIPPET_CHARS - 60, SNIPPET_CHARS - 10, SNIPPET_CHARS - 1])
@pytest.mark.parametrize(
    ("echoed", "known"),
    [
        pytest.param(f"token {TOKEN} end", True, id="known-secret-without-shape"),
        pytest.param(f"Authorization: OAuth {TOKEN} Host: graph", False, id="header-echo-unknown-secret"),
        pytest.param(f"Authorization: Bearer {TOKEN} Host: graph", True, id="header-echo-known-secret"),
    ],
)
def test_a_token_straddling_the_cut_of_an_error_page_leaves_no_fragment(
    token_at: int, echoed: str, known: bool
) -> None:
    page = echo_page(token_at, echoed)
    secrets = [TOKEN] if known else []
    _, error = classify_response(answer(502, page, "text/html"), method="GET", path="p", secrets=secrets)
    assert error is not None
    assert "502 Bad Gateway" in error.message  # the excerpt is there, without the token
    for text in (str(error), repr(error), error.message):
        assert not leaked_pieces(text, TOKEN), f"token pieces {leaked_pieces(text, TOKEN)} in {text!r}"


def test_a_token_echoed_as_json_field_across_the_cut_leaves_no_fragment() -> None:
    # httpbin-style echo: {"args": {...}, "headers": {...}}, the token placed across the 200th character.
    prefix = {
        "message": "x" * 120,
        "args": {"access_token": TOKEN},
        "headers": {"Authorization": f"OAuth {TOKEN}"},
    }
    body = json.dumps(prefix).encode()
    assert body.index(TOKEN.encode()) < SNIPPET_CHARS < body.index(TOKEN.encode()) + len(TOKEN)
    _, error = classify_response(answer(502, body, "application/json"), method="GET", path="p", secrets=())
    assert error is not None
    assert not leaked_pieces(str(error), TOKEN), str(error)


def test_excerpt_removes_secrets_from_the_whole_text_before_cutting() -> None:
    text = "x" * 190 + TOKEN
    assert excerpt(text, [TOKEN]) == "x" * 190 + "***"


def test_excerpt_cuts_a_long_text_to_the_limit_and_marks_the_cut() -> None:
    cut = excerpt("y" * 1000 + TOKEN, [TOKEN], limit=50)
    assert cut == "y" * 47 + "..."
    assert excerpt("short", limit=50) == "short"


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"Authorization: OAuth {TOKEN}", "Authorization: OAuth ***"),
        (f"authorization: Bearer {TOKEN}; host", "authorization: Bearer ***"),
        (f"Proxy-Authorization: Basic {TOKEN}", "Proxy-Authorization: Basic ***"),
        (f"sent Bearer {TOKEN} upstream", "sent Bearer *** upstream"),
        (f"body access_token={TOKEN}&limit=5", "access_token=***&limit=5"),
        (f"form appsecret_proof={TOKEN}&appsecret_time=1", "appsecret_proof=***"),
        (f"debug input_token={TOKEN}", "input_token=***"),
        (f"oauth client_secret={TOKEN}", "client_secret=***"),
        (f"page_access_token={TOKEN}", "page_access_token=***"),
        (f"encoded access_token%3D{TOKEN}%26x%3D1", "access_token%3D***"),
        (f'{{"access_token": "{TOKEN}", "limit": 5}}', '"access_token": "***"'),
        (f'{{"headers": {{"Authorization": "OAuth {TOKEN}"}}}}', '"Authorization": "***"'),
        (f"{{'Authorization': 'OAuth {TOKEN}'}}", "'Authorization': '***'"),
        (
            f"GET /v25.0/1/edge?fields=a&access_token={TOKEN} HTTP/1.1",
            "/v25.0/1/edge?<query redacted> HTTP/1.1",
        ),
        (f"postgresql://ledger:{TOKEN}@db:5432/ads failed", "postgresql://ledger:***@db:5432/ads"),
    ],
)
def test_credential_shapes_are_redacted_when_the_secret_is_not_known(text: str, kept: str) -> None:
    scrubbed = scrub(text)
    assert not leaked_pieces(scrubbed, TOKEN), scrubbed
    assert kept in scrubbed


@pytest.mark.parametrize("cut", [8, 30, len(TOKEN) - 1])
def test_a_piece_of_a_known_secret_at_either_end_of_a_text_cut_short_elsewhere_is_redacted(cut: int) -> None:
    # A proxy or a load balancer may cut a body itself: the piece is then at the end (or start) of the text.
    assert not leaked_pieces(scrub(f"upstream echoed {TOKEN[:cut]}", [TOKEN]), TOKEN)
    assert not leaked_pieces(scrub(f"{TOKEN[-cut:]} was the rest", [TOKEN]), TOKEN)


def test_a_percent_encoded_known_secret_is_redacted() -> None:
    app_token = "1234567890|" + TOKEN  # an app token carries a '|' that URLs encode as %7C
    scrubbed = scrub("echo token%3D1234567890%7C" + TOKEN + " end", [app_token])
    assert not leaked_pieces(scrubbed, TOKEN), scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "(#190) Invalid OAuth access token - Cannot parse access token",
        "Error validating access token: Session has expired (OAuthException)",
        "INSERT INTO partnership_ad_codes VALUES (?, ?, ?)",
        "Is the creator's authorisation missing? Ask them to accept",
        "GET /v25.0/123/partnership-ads-advertisable-content failed (HTTP 502)",
    ],
)
def test_prose_and_placeholders_are_left_alone(text: str) -> None:
    assert scrub(text, [TOKEN]) == text


def test_every_field_of_an_error_envelope_written_by_a_proxy_is_scrubbed() -> None:
    envelope = {
        "error": {
            "message": f"denied for Authorization: OAuth {TOKEN}",
            "type": f"Bearer {TOKEN}",
            "code": 190,
            "fbtrace_id": f"trace access_token={TOKEN}",
            "error_user_msg": f"sent with access_token={TOKEN}",
        }
    }
    body = json.dumps(envelope).encode()
    _, error = classify_response(answer(401, body, "application/json"), method="GET", path="p", secrets=())
    assert error is not None
    for text in (
        str(error),
        repr(error),
        error.type or "",
        error.fbtrace_id or "",
        error.error_user_msg or "",
    ):
        assert not leaked_pieces(text, TOKEN), text
