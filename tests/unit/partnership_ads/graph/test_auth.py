"""appsecret_proof and where the token travels."""

from __future__ import annotations

import pytest

from partnership_ads.graph.auth import appsecret_proof, place_credentials

# Reference values computed with:
# printf 'token' | openssl dgst -sha256 -hmac 'secret' (and 'token|1700000000').
PLAIN_PROOF = "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"
TIMED_PROOF = "3c81f1bf0544f53adccadbaf135235bf73451aadede41a90a122c46e93dcae64"


def test_plain_proof_is_hmac_sha256_of_the_token() -> None:
    assert appsecret_proof("token", "secret") == {"appsecret_proof": PLAIN_PROOF}


def test_time_stamped_proof_hashes_token_pipe_time_and_sends_the_time() -> None:
    assert appsecret_proof("token", "secret", 1_700_000_000) == {
        "appsecret_proof": TIMED_PROOF,
        "appsecret_time": "1700000000",
    }


def test_header_transport_uses_authorization_oauth() -> None:
    credentials = place_credentials("GET", "token", "header")
    assert credentials.headers == {"Authorization": "OAuth token"}
    assert credentials.query == credentials.form == {}


def test_query_transport_puts_the_token_in_the_query_string() -> None:
    assert place_credentials("POST", "token", "query").query == {"access_token": "token"}


def test_form_transport_puts_the_token_in_the_body_of_writes() -> None:
    credentials = place_credentials("DELETE", "token", "form")
    assert credentials.form == {"access_token": "token"}
    assert credentials.headers == credentials.query == {}


def test_form_transport_falls_back_to_the_header_for_reads() -> None:
    credentials = place_credentials("GET", "token", "form")
    assert credentials.headers == {"Authorization": "OAuth token"}
    assert "access_token" not in credentials.query


def test_proof_travels_in_the_query_string_for_every_method() -> None:
    for method in ("GET", "POST", "DELETE"):
        credentials = place_credentials(
            method, "token", "header", app_secret="secret", unix_time=1_700_000_000
        )
        assert credentials.query == {"appsecret_proof": TIMED_PROOF, "appsecret_time": "1700000000"}


def test_plain_proof_when_the_time_stamped_form_is_off() -> None:
    credentials = place_credentials("GET", "token", "header", app_secret="secret", time_proof=False)
    assert credentials.query == {"appsecret_proof": PLAIN_PROOF}


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^token_transport: "):
        place_credentials("GET", "token", "cookie")
