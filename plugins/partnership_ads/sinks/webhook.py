"""Webhook sink: JSON batches POSTed through an HTTP connection, signed and idempotent.

Each request carries:

- ``Idempotency-Key``: a SHA-256 over the brand and the batch's ``(content_id, ad_code, state)`` triples, so
  a retry of the same batch carries the same key and a receiver can drop the duplicate;
- ``X-Partnership-Ads-Signature: sha256=<hex>``: HMAC-SHA256 of the exact request body, keyed with the
  connection's **password** (when one is set). The secret stays out of the extras on purpose: HttpHook sends
  unknown extras as HTTP headers. It is never used for basic auth (the connection has no login).

A receiver verifies a request with :func:`verify_signature` (or the same three lines in any language):
compute ``hmac_sha256(secret, raw_body)`` and compare it to the header in constant time, before parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING, Any, ClassVar

from partnership_ads.conn_ids import DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.sinks.base import AdCodeSink, DeliveryContext

if TYPE_CHECKING:
    from collections.abc import Sequence

    from partnership_ads.ledger import DeliveryRecord

SIGNATURE_HEADER = "X-Partnership-Ads-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(body: bytes, secret: str) -> str:
    """The signature header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` (the ``X-Partnership-Ads-Signature`` value) signs ``body`` with ``secret``.

    Use the raw request body, before any JSON parsing; the comparison is constant-time.
    """
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(body, secret), header)


def idempotency_key(business_id: str, records: Sequence[DeliveryRecord]) -> str:
    """Deterministic key of a batch: same brand and same (content_id, ad_code, state) triples, same key."""
    digest = hashlib.sha256(business_id.encode())
    for content_id, ad_code, state in sorted((r.content_id, r.ad_code, r.state) for r in records):
        digest.update(f"\x1f{content_id}\x1e{ad_code}\x1e{state}".encode())
    return digest.hexdigest()


def batch_body(records: Sequence[DeliveryRecord], context: DeliveryContext) -> bytes:
    """The JSON body of one batch (compact, key-sorted: the signed bytes are exactly what is sent)."""
    payload: dict[str, Any] = {
        "business_id": context.business_id,
        "dag_id": context.dag_id,
        "run_id": context.run_id,
        "ad_codes": [r.as_dict() for r in records],
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


class WebhookSink(AdCodeSink):
    """POST batches of codes to the URL of HTTP connection ``conn_id`` (host holds the full URL).

    :param conn_id: an ``http`` connection; its password, when set, is the HMAC signing secret.
    :param endpoint: path appended to the connection's URL (default: none, the host is the endpoint).
    :param batch_size: records per request.
    :param timeout: seconds per request.
    """

    name: ClassVar[str] = "webhook"

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
        endpoint: str | None = None,
        batch_size: int = 100,
        timeout: float = 30.0,
    ) -> None:
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.batch_size = batch_size
        self.timeout = timeout

    def _secret(self) -> str | None:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(self.conn_id).password or None

    def deliver(self, records: Sequence[DeliveryRecord], context: DeliveryContext) -> None:
        """POST one batch; raises on a non-2xx answer or a transport error (the batch stays pending)."""
        if not records:
            return
        from airflow.providers.http.hooks.http import HttpHook

        body = batch_body(records, context)
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: idempotency_key(context.business_id, records),
        }
        secret = self._secret()
        if secret:
            headers[SIGNATURE_HEADER] = sign(body, secret)
        hook = HttpHook(method="POST", http_conn_id=self.conn_id)
        response = hook.run(
            self.endpoint,
            data=body,
            headers=headers,
            extra_options={"check_response": False, "timeout": self.timeout},
        )
        if not 200 <= response.status_code < 300:
            raise RuntimeError(
                f"Webhook {self.conn_id} answered HTTP {response.status_code} to a batch of {len(records)} "
                f"codes for business {context.business_id}; the batch stays pending and is sent again on the "
                "next try"
            )

    def describe(self) -> str:
        """Connection id (the URL may carry credentials, so it is not logged)."""
        return f"webhook (connection {self.conn_id})"
