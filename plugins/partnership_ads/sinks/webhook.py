"""Webhook sink: JSON batches POSTed through an HTTP connection, signed, timestamped and idempotent.

Each request carries:

- ``Idempotency-Key``: a SHA-256 over the brand and the batch's ``(content_id, ad_code, state)`` triples, so
  a retry of the same batch carries the same key and a receiver can drop the duplicate;
- ``X-Partnership-Ads-Signature: t=<unix seconds>,v1=<hex>`` (when the connection has a **password**):
  ``v1`` is HMAC-SHA256, keyed with the password, of ``f"{t}."`` followed by the exact request body. The
  timestamp lets a receiver refuse an old batch replayed after a revocation. The secret stays out of the
  extras on purpose: HttpHook sends unknown extras as HTTP headers.

A receiver verifies a request with :func:`verify_signature` (or the same few lines in any language, see the
README) before parsing the body.

Delivery fails closed:

- the receiver's URL must be ``https://``; plain ``http://`` is accepted only to a loopback host (a local
  receiver), and anything else is refused before a request is sent;
- redirects are never followed: a 3xx answer is a failed delivery (the signed body and its key must reach the
  configured receiver only, never wherever a ``Location`` header points);
- the connection must have no login (HttpHook would send the password, the signing secret, as basic auth);
- only the receiver's ``scheme://host:port`` appears in logs and error texts: a URL's path and query may carry
  credentials.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

from partnership_ads.conn_ids import DEFAULT_WEBHOOK_CONN_ID
from partnership_ads.graph.settings import is_loopback
from partnership_ads.sink_names import WEBHOOK_SINK
from partnership_ads.sinks.base import AdCodeSink, DeliveryContext

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from partnership_ads.ledger import DeliveryRecord

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Partnership-Ads-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: How far (seconds, either way) a signature's timestamp may be from the receiver's clock.
SIGNATURE_TOLERANCE_SECONDS = 300

_SIGNATURE = re.compile(r"t=(?P<t>[0-9]{1,12}),v1=(?P<v1>[0-9a-f]{64})")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class WebhookConfigurationError(ValueError):
    """The webhook connection cannot be used as it is (nothing was sent)."""


class WebhookDeliveryError(RuntimeError):
    """A batch was not accepted by the receiver (it stays pending and is sent again on the next try)."""


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, *, timestamp: int) -> str:
    """The signature header value: ``t=<timestamp>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(
    body: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_seconds: float = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (the ``X-Partnership-Ads-Signature`` value) signs ``body`` with ``secret``, lately.

    False for a missing or malformed header, an empty secret, a MAC that does not match (compared in constant
    time), or a timestamp more than ``tolerance_seconds`` before or after ``now`` (default: the current time).
    Use the raw request body, before any JSON parsing. A replay within the tolerance verifies: drop it by its
    ``Idempotency-Key``.
    """
    if not header or not secret:
        return False
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        return False
    timestamp = int(match["t"])
    current = time.time() if now is None else now
    fresh = abs(current - timestamp) <= tolerance_seconds
    authentic = hmac.compare_digest(_mac(secret, timestamp, body), match["v1"])
    return fresh and authentic


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


def url_origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: the only part of a receiver's URL that may be logged.

    The path, the query and any ``user:password@`` are left out (they may carry credentials).
    """
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower() or "?"
        host = parts.hostname or "?"
    except ValueError:  # e.g. an unclosed IPv6 bracket: show nothing of it
        return "an unparseable URL"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: show none rather than the raw text
        port = None
    port = port or _DEFAULT_PORTS.get(scheme)
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}" if port else f"{scheme}://{shown}"


def checked_receiver_origin(url: str, conn_id: str) -> str:
    """The origin of the receiver's ``url`` once it is acceptable; raises WebhookConfigurationError otherwise.

    ``https://`` to any host, or plain ``http://`` to a loopback host (127.0.0.0/8, ::1, localhost).
    """
    origin = url_origin(url)
    try:
        parts = urlsplit(url)
        scheme, hostname = parts.scheme.lower(), parts.hostname
    except ValueError:
        scheme, hostname = "", None
    if scheme not in _DEFAULT_PORTS or not hostname:
        raise WebhookConfigurationError(
            f"Webhook connection {conn_id!r}: the receiver's URL ({origin}) is not an http(s) URL with a "
            "host; set the connection's host to the full URL, such as https://hooks.example.com/ad-codes. "
            "Nothing was sent."
        )
    if scheme == "http" and not is_loopback(hostname):
        raise WebhookConfigurationError(
            f"Webhook connection {conn_id!r}: plain http:// is refused for {origin}: the signed codes would "
            "travel unencrypted. Use https://, or a loopback address (127.0.0.1, ::1, localhost) for a local "
            "receiver. Nothing was sent."
        )
    return origin


def _location_origin(url: str, location: str | None) -> str:
    """The origin a redirect points to (a relative ``Location`` is the receiver's own origin)."""
    if not location:
        return "no Location header"
    try:
        return url_origin(urljoin(url, location))
    except ValueError:
        return "an unparseable Location"


def _transport_reason(error: BaseException) -> str:
    """The socket-level cause of a ``requests`` error (``[Errno 111] Connection refused``), or its class name.

    ``requests`` and ``urllib3`` messages quote the request's path and query; the operating system's and the
    TLS library's messages do not, so only those are shown. (``ConnectionError`` here is the builtin one.)
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # OSErrors from the socket and TLS layers (and http.client's RemoteDisconnected, a builtin
        # ConnectionError); not http.client.InvalidURL and the like, whose text quotes the path.
        from_system = type(current).__module__ in {"builtins", "socket", "ssl"}
        if isinstance(current, OSError) and (from_system or isinstance(current, ConnectionError)):
            return f"{type(current).__name__}: {current}"
        reason = getattr(current, "reason", None)
        nested = [a for a in current.args if isinstance(a, BaseException)]
        stack.extend([*nested, reason if isinstance(reason, BaseException) else None])
        stack.extend([current.__cause__, current.__context__])
    return type(error).__name__


class _WithholdUrllib3Lines(logging.Filter):
    """Drops urllib3's log lines emitted by a thread while it sends a webhook request.

    urllib3's DEBUG lines quote the request's path and query (``"POST /hooks/<token> HTTP/1.1" 307``),
    which may carry the receiver's credentials. Other threads, and the same thread outside :meth:`sending`
    (the Graph hook's requests), are not affected.
    """

    LOGGERS = ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "urllib3.poolmanager")

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    @contextlib.contextmanager
    def sending(self) -> Iterator[None]:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self._local, "depth", 0)


_WITHHOLD_URLLIB3 = _WithholdUrllib3Lines()


class WebhookSink(AdCodeSink):
    """POST batches of codes to the URL of HTTP connection ``conn_id`` (host holds the full URL).

    :param conn_id: an ``http`` connection without a login; its password, when set, is the signing secret.
    :param endpoint: path appended to the connection's URL (default: none, the host is the endpoint).
    :param batch_size: records per request.
    :param timeout: seconds per request.
    :param clock: current Unix time in seconds, for the signature's timestamp (tests pass a fake clock).
    """

    name: ClassVar[str] = WEBHOOK_SINK

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_WEBHOOK_CONN_ID,
        endpoint: str | None = None,
        batch_size: int = 100,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.batch_size = batch_size
        self.timeout = timeout
        self.clock = clock

    def deliver(self, records: Sequence[DeliveryRecord], context: DeliveryContext) -> None:
        """POST one batch.

        Raises WebhookConfigurationError before sending anything when the connection is unusable (plain
        http to a non-loopback host, a login, SRV lookup, no URL), and WebhookDeliveryError on a transport
        error or any answer but 2xx, a redirect included (the batch then stays pending). Logs the receiver's
        origin (``scheme://host:port``) only.
        """
        if not records:
            return
        import requests
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="POST", http_conn_id=self.conn_id)
        connection = hook.get_connection(self.conn_id)
        if connection.login:
            raise WebhookConfigurationError(
                f"Webhook connection {self.conn_id!r} has a login: HttpHook would send the password, which "
                "is the signing secret, as basic auth. Clear the login. Nothing was sent."
            )
        if str(connection.extra_dejson.get("srv_lookup", "")).strip().lower() in {"1", "true", "yes", "on"}:
            raise WebhookConfigurationError(
                f"Webhook connection {self.conn_id!r}: srv_lookup is not supported (the receiver's host must "
                "be checked before sending). Remove the extra. Nothing was sent."
            )
        try:
            # The hook configures the session exactly as for its own requests (verify, proxies, cert,
            # extras as headers). The request itself is sent below and not through hook.run(): run() logs
            # the full URL (DEBUG) and every ConnectionError with its text, which quotes the path and query.
            session = hook.get_conn()
            url = hook.url_from_endpoint(self.endpoint)
        except ValueError:
            raise WebhookConfigurationError(
                f"Webhook connection {self.conn_id!r}: the host is not a usable URL; set it to the "
                "receiver's full URL, such as https://hooks.example.com/ad-codes. Nothing was sent."
            ) from None
        origin = checked_receiver_origin(url, self.conn_id)

        body = batch_body(records, context)
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: idempotency_key(context.business_id, records),
        }
        secret = connection.password or None
        if secret:
            headers[SIGNATURE_HEADER] = sign(body, secret, timestamp=int(self.clock()))
        what = f"a batch of {len(records)} codes for business {context.business_id}"
        log.info("Webhook %s: POST %s to %s", self.conn_id, what, origin)
        try:
            with session, _WITHHOLD_URLLIB3.sending():
                response = session.post(
                    url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
        except requests.Timeout:
            raise WebhookDeliveryError(
                f"Webhook {self.conn_id} ({origin}) did not answer {what} within {self.timeout:g}s; the "
                "batch stays pending and is sent again on the next try with the same Idempotency-Key (the "
                "receiver may already have it)"
            ) from None
        except requests.RequestException as error:
            # `from None`: the chained requests error (text and traceback) quotes the URL's path and query.
            raise WebhookDeliveryError(
                f"Webhook {self.conn_id} ({origin}) could not be reached for {what} "
                f"({_transport_reason(error)}); the batch stays pending and is sent again on the next try"
            ) from None
        status = response.status_code
        if 300 <= status < 400:
            target = _location_origin(url, response.headers.get("Location"))
            raise WebhookDeliveryError(
                f"Webhook {self.conn_id} ({origin}) answered HTTP {status}, a redirect (to {target}), to "
                f"{what}. Redirects are never followed: the signed batch goes to the configured receiver "
                "only. Set the connection's host to the receiver's final URL; the batch stays pending and is "
                "sent again on the next try"
            )
        if not 200 <= status < 300:
            raise WebhookDeliveryError(
                f"Webhook {self.conn_id} ({origin}) answered HTTP {status} to {what}; the batch stays "
                "pending and is sent again on the next try"
            )

    def describe(self) -> str:
        """Connection id (the URL may carry credentials in its path or query, so it is not logged)."""
        return f"webhook (connection {self.conn_id})"
