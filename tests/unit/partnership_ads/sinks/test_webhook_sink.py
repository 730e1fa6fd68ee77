"""Webhook sink against real local HTTP servers on 127.0.0.1: signature, redirects, plain http, logs."""

from __future__ import annotations

import json
import logging
import socket
import traceback
from typing import TYPE_CHECKING

import pytest

from include.drills.receiver import LocalReceiver
from partnership_ads.delivery import deliver_pending
from partnership_ads.ledger import DeliveryRecord
from partnership_ads.sinks import WebhookSink, verify_signature
from partnership_ads.sinks.base import DeliveryContext
from partnership_ads.sinks.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    WebhookConfigurationError,
    WebhookDeliveryError,
    batch_body,
    idempotency_key,
    sign,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from partnership_ads.ledger import Ledger

CONTEXT = DeliveryContext(business_id="111", run_id="manual__2026-06-01T00:00:00+00:00")
SECRET = "s3cret"
NOW = 1_780_000_000
CONN_ID = "test_webhook"
# A receiver URL whose path and query carry credentials: neither may appear in any log or error text.
PATH = "/hooks/PATHSECRET-4e1f"
QUERY = "?token=QUERYSECRET-9a2c"


def _record(content_id: str, ad_code: str, state: str = "active") -> DeliveryRecord:
    return DeliveryRecord(
        "111", content_id, "9", f"https://x/{content_id}", ad_code, "2026-06-01", state, None
    )


def _connection(monkeypatch: pytest.MonkeyPatch, host: str, **fields: object) -> None:
    conn = {"conn_type": "http", "host": host, "password": SECRET, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def _sink(timeout: float = 10.0) -> WebhookSink:
    return WebhookSink(conn_id=CONN_ID, timeout=timeout, clock=lambda: float(NOW))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    with LocalReceiver() as server:
        yield server


@pytest.fixture
def elsewhere() -> Iterator[LocalReceiver]:
    """A second origin (another port): where a redirect points; it must receive nothing."""
    with LocalReceiver() as server:
        yield server


# --- signature ----------------------------------------------------------------------------------------------


def test_a_signature_covers_the_timestamp_and_the_exact_body() -> None:
    body = batch_body([_record("1", "A")], CONTEXT)
    header = sign(body, SECRET, timestamp=NOW)
    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(body, header, SECRET, now=NOW)
    assert not verify_signature(body.replace(b'"A"', b'"Z"'), header, SECRET, now=NOW)
    assert not verify_signature(body, header, "other", now=NOW)


def test_a_signature_with_its_timestamp_changed_does_not_verify() -> None:
    body = batch_body([_record("1", "A")], CONTEXT)
    mac = sign(body, SECRET, timestamp=NOW).split(",v1=")[1]
    assert not verify_signature(body, f"t={NOW + 60},v1={mac}", SECRET, now=NOW + 60)


def test_a_signature_older_than_the_tolerance_is_rejected() -> None:
    body = b'{"ad_codes":[]}'
    header = sign(body, SECRET, timestamp=NOW)
    assert verify_signature(body, header, SECRET, now=NOW + 300)
    assert not verify_signature(body, header, SECRET, now=NOW + 301)
    assert verify_signature(body, header, SECRET, now=NOW + 3600, tolerance_seconds=3600)


def test_a_signature_further_in_the_future_than_the_tolerance_is_rejected() -> None:
    body = b'{"ad_codes":[]}'
    header = sign(body, SECRET, timestamp=NOW)
    assert verify_signature(body, header, SECRET, now=NOW - 300)
    assert not verify_signature(body, header, SECRET, now=NOW - 301)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=" + "0" * 64,  # the old format, without a timestamp
        f"v1={'0' * 64},t={NOW}",
        f"t={NOW}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW},v1={'0' * 63}",
        f"t={NOW},v1={'0' * 64},v0=x",
    ],
)
def test_a_missing_or_malformed_signature_header_is_rejected(header: str | None) -> None:
    assert not verify_signature(b"{}", header, SECRET, now=NOW)


def test_an_empty_secret_verifies_nothing() -> None:
    assert not verify_signature(b"{}", sign(b"{}", "", timestamp=NOW), "", now=NOW)


# --- delivery -----------------------------------------------------------------------------------------------


def test_a_batch_reaches_the_receiver_signed_at_the_clock_time_with_its_idempotency_key(
    receiver: LocalReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, receiver.url(PATH + QUERY))
    records = [_record("1", "A"), _record("2", "B")]
    _sink().deliver(records, CONTEXT)
    [request] = receiver.received
    assert (request.method, request.path) == ("POST", PATH + QUERY)
    assert request.body == batch_body(records, CONTEXT)
    assert verify_signature(request.body, request.headers[SIGNATURE_HEADER.lower()], SECRET, now=NOW)
    assert request.headers[SIGNATURE_HEADER.lower()].startswith(f"t={NOW},")
    assert request.headers[IDEMPOTENCY_HEADER.lower()] == idempotency_key("111", records)
    assert "authorization" not in request.headers


def test_a_307_to_another_origin_is_a_failed_delivery_and_that_origin_receives_nothing(
    receiver: LocalReceiver, elsewhere: LocalReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.redirect_to(elsewhere.url("/collect"), status=307)
    _connection(monkeypatch, receiver.url(PATH))
    with pytest.raises(WebhookDeliveryError, match=r"HTTP 307.*redirect \(to http://127\.0\.0\.1:\d+\)"):
        _sink().deliver([_record("1", "A")], CONTEXT)
    assert len(receiver.received) == 1
    assert elsewhere.received == []


@pytest.mark.parametrize("status", [301, 302, 303, 308])
def test_every_redirect_status_is_a_failed_delivery(
    status: int, receiver: LocalReceiver, elsewhere: LocalReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.redirect_to(elsewhere.url("/collect"), status=status)
    _connection(monkeypatch, receiver.url(PATH))
    with pytest.raises(WebhookDeliveryError, match=f"HTTP {status}"):
        _sink().deliver([_record("1", "A")], CONTEXT)
    assert elsewhere.received == []


def test_a_redirected_batch_stays_pending_in_the_ledger_and_nothing_is_marked_delivered(
    sqlite_ledger: Ledger,
    receiver: LocalReceiver,
    elsewhere: LocalReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for content_id, code in (("1", "C1"), ("2", "C2")):
        sqlite_ledger.upsert_content(
            "111",
            [{"content_id": content_id, "platform": "INSTAGRAM", "permalink": "p", "author_ig_user_id": "9"}],
            run_id="r1",
        )
        sqlite_ledger.record_brand_item("111", content_id, "issued", run_id="r1")
        sqlite_ledger.harvest(content_id, code, business_id="b1", owner_ig_user_id=None)
    receiver.redirect_to(elsewhere.url("/collect"))
    _connection(monkeypatch, receiver.url(PATH))
    log = logging.getLogger("test.push")
    delivered, errors = deliver_pending(
        sqlite_ledger, [_sink()], "111", run_id="r1", dag_id="partnership_ad_codes", log=log
    )
    assert delivered == {"webhook": 0}
    assert "redirect" in errors["webhook"]
    assert len(sqlite_ledger.pending_deliveries("111", "webhook", destination=_sink().destination)) == 2
    assert elsewhere.received == []

    receiver.status, receiver.headers = 200, {}  # the receiver is fixed: the next try delivers both, once
    delivered, errors = deliver_pending(
        sqlite_ledger, [_sink()], "111", run_id="r2", dag_id="partnership_ad_codes", log=log
    )
    assert (delivered, errors) == ({"webhook": 2}, {})
    assert sqlite_ledger.pending_deliveries("111", "webhook", destination=_sink().destination) == []


@pytest.mark.parametrize(
    "host", ["http://webhook.example.com/hook", "http://10.1.2.3/hook", "http://127.0.0.1.nip.io/hook"]
)
def test_plain_http_to_a_non_loopback_host_is_refused_before_any_request(
    host: str, receiver: LocalReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every request of the session goes through `receiver` as a proxy: anything sent would be recorded.
    proxies = {"http": receiver.origin, "https": receiver.origin}
    _connection(monkeypatch, host, extra={"proxies": proxies})
    with pytest.raises(WebhookConfigurationError, match=r"plain http:// is refused .*Nothing was sent"):
        _sink().deliver([_record("1", "A")], CONTEXT)
    assert receiver.received == []


def test_a_connection_with_a_login_is_refused_before_any_request(
    receiver: LocalReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connection(monkeypatch, receiver.url(PATH), login="user")
    with pytest.raises(WebhookConfigurationError, match="login"):
        _sink().deliver([_record("1", "A")], CONTEXT)
    assert receiver.received == []


@pytest.mark.parametrize("failure", ["refused", "tls", "http_500", "redirect", "timeout", "plain_http"])
def test_no_error_or_log_text_shows_the_receivers_path_or_query(
    failure: str,
    receiver: LocalReceiver,
    elsewhere: LocalReceiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    origin = receiver.origin
    if failure == "refused":
        origin = f"http://127.0.0.1:{_closed_port()}"
    elif failure == "tls":
        origin = f"https://127.0.0.1:{receiver.port}"  # TLS to a plain HTTP server: the handshake fails
    elif failure == "http_500":
        receiver.status = 500
    elif failure == "redirect":
        receiver.redirect_to(elsewhere.url(PATH + QUERY))
    elif failure == "timeout":
        receiver.delay = 1.0
    elif failure == "plain_http":
        origin = "http://webhook.example.com:8080"
    _connection(monkeypatch, origin + PATH + QUERY)
    refused = (WebhookConfigurationError, WebhookDeliveryError)
    with caplog.at_level(logging.DEBUG), pytest.raises(refused) as caught:
        _sink(timeout=0.2).deliver([_record("1", "A")], CONTEXT)
    assert origin.split("://")[1] in str(caught.value)
    if failure != "plain_http":
        assert f"to {origin.split(':')[0]}://" in caplog.text  # the POST was logged, with the origin only
    text = "".join(traceback.format_exception(caught.value))  # what a task log shows, chained causes included
    for secret_part in ("PATHSECRET", "QUERYSECRET"):
        assert secret_part not in text, text
        assert secret_part not in caplog.text, caplog.text
