"""The HTTP side of the hook: its ``requests`` session, one request, and what its answer tells.

The hook composes an ``HttpHook`` (as ``SlackHook`` composes its ``WebClient``) and takes its session from
the public ``HttpHook.get_conn``: HttpHook provides the connection lookup and a plain ``requests`` session.
That session is not safe for Graph as it comes: ``get_conn`` sends every connection extra as an HTTP header
(the app secret among them) and the login and password (the access token) as basic auth.
:func:`secure_session` therefore takes back out, before any request, every header named after an extra
(whatever its case), the basic auth and any ``requests`` option HttpHook set, then applies the hook's own:
the keep-alive adapter (a pool of :data:`POOL_MAXSIZE`, no retries of its own), the ``requests`` options of
the validated :class:`~partnership_ads.graph.settings.ConnectionSettings` and the environment's proxies,
resolved once. HttpHook's base URL is not used: every URL comes from ``settings.base_url`` (https, or http to
loopback only). :func:`send` adds the credentials to each request; the hook's request path (retries, pacing)
calls :func:`send` and :func:`read_answer` once per attempt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.models import DEFAULT_REDIRECT_LIMIT
from requests.structures import CaseInsensitiveDict
from requests.utils import default_headers
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from partnership_ads.graph.auth import place_credentials
from partnership_ads.graph.errors import (
    GraphAPIError,
    GraphBadResponseError,
    GraphConnectionError,
    classify_response,
    scrub,
)

if TYPE_CHECKING:
    from partnership_ads.graph.settings import ConnectionSettings
    from partnership_ads.graph.usage import Usage

USER_AGENT = "partnership-ads-airflow/0.1"
#: Meta's limit of sub-requests in one batch request (``POST /{version}/`` with ``batch``).
MAX_BATCH_REQUESTS = 50
# Connections the session keeps open: enough for the issuing task's thread pool plus partitioned discovery.
POOL_MAXSIZE = 32
# TCP keep-alive probes, as HttpHook's defaults: idle seconds, probe count, probe interval.
KEEP_ALIVE = {"idle": 120, "count": 20, "interval": 30}

#: A check of a successful answer's body: ``None`` when it has the expected shape, else what was expected.
Expect = Callable[[dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class GraphAnswer:
    """A successful answer: its JSON body and the usage its headers reported."""

    body: dict[str, Any]
    usage: Usage
    http_status: int


def secure_session(
    session: requests.Session, settings: ConnectionSettings, headers: dict[str, Any] | None = None
) -> requests.Session:
    """Make a session built by ``HttpHook.get_conn`` safe for Graph, before its first request.

    Removed: every header named after one of the connection's extras (``settings.extra_names``, matched
    whatever its case; a ``requests`` default header an extra overwrote gets its default value back), the
    basic auth of the login and password, and the ``requests`` options HttpHook read from the extras
    (``proxies``/``proxy``, ``stream``, ``verify``/``verify_ssl``, ``cert``, ``max_redirects``,
    ``trust_env``). The session is then configured as for a fresh ``requests.Session``: the keep-alive
    adapter for ``settings.base_url``'s scheme (up to :data:`POOL_MAXSIZE` connections, no retries of its
    own), ``headers``, the hook's ``User-Agent`` and ``Accept``, and only the ``requests`` options among the
    extras (``verify``, ``proxies``, ``cert``, ``trust_env``). With ``trust_env`` (the default) the
    environment's proxy and CA-bundle settings are resolved once, here: ``requests`` would otherwise re-read
    every variable of ``os.environ`` on each call, about a millisecond per call with hundreds of
    ``AIRFLOW_CONN_*`` variables (one per creator).

    :raises ValueError: when the session carries a header that is neither a ``requests`` default nor named
        after an extra (the connection changed between the two reads): it is never sent.
    """
    session.headers = _without_extras(session.headers, settings.extra_names, settings.conn_id)
    session.auth = None
    # A fresh requests.Session's values: HttpHook may have set each from the extras.
    session.proxies = {}
    session.stream = False
    session.verify = True
    session.cert = None
    session.max_redirects = DEFAULT_REDIRECT_LIMIT
    session.trust_env = True
    adapter = TCPKeepAliveAdapter(**KEEP_ALIVE, pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount(f"{urlsplit(settings.base_url).scheme}://", adapter)
    if headers:
        session.headers.update(headers)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    install_url_redaction()
    options = dict(settings.requests_options)
    if "verify" in options:
        session.verify = options["verify"]
    if isinstance(options.get("proxies"), dict):
        session.proxies = options["proxies"]
    if "cert" in options:
        session.cert = options["cert"]
    if "trust_env" in options:
        session.trust_env = bool(options["trust_env"])
    if session.trust_env:
        resolved = session.merge_environment_settings(settings.base_url, {}, None, None, None)
        session.proxies = resolved["proxies"]
        session.verify = resolved["verify"]
        session.trust_env = False
    return session


def _without_extras(
    headers: MutableMapping[str, Any], extra_names: tuple[str, ...], conn_id: str
) -> CaseInsensitiveDict:
    """``headers`` without those named after a connection extra, in their order; defaults keep their place."""
    extras = {name.lower() for name in extra_names}
    defaults = {name.lower(): (name, value) for name, value in default_headers().items()}
    kept: CaseInsensitiveDict = CaseInsensitiveDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered not in extras:
            kept[name] = value
        elif lowered in defaults:
            # HttpHook's update overwrote the default in place: restore it, as a fresh session sends it.
            default_name, default_value = defaults[lowered]
            kept[default_name] = default_value
    unexpected = sorted(name for name in kept if name.lower() not in defaults)
    if unexpected:
        raise ValueError(
            f"connection {conn_id!r}: the HTTP session carries headers {', '.join(unexpected)} that are "
            "neither requests defaults nor extras of the connection as the hook read it; refusing to send "
            "them. Did the connection change while the hook read it? Retry the task"
        )
    return kept


def send(
    session: requests.Session,
    settings: ConnectionSettings,
    method: str,
    path: str,
    *,
    params: dict[str, str] | None,
    unix_time: int,
) -> requests.Response | GraphConnectionError:
    """Send one request with its credentials; no redirect is followed.

    ``params`` travel in the query string of a GET and in the form body of a POST or DELETE.

    :param unix_time: the wall clock, for the time-stamped ``appsecret_proof``.
    :returns: the response, whatever its status, or the error when no answer arrived (not raised: an error
        raised here would carry the ``requests`` exception, whose text may quote the URL, as its context).
    """
    credentials = place_credentials(
        method,
        settings.access_token,
        settings.token_transport,
        app_secret=settings.app_secret,
        time_proof=settings.app_secret_time_proof,
        unix_time=unix_time,
    )
    is_read = method == "GET"
    query = {**(params or {}), **credentials.query} if is_read else dict(credentials.query)
    form = None if is_read else ({**(params or {}), **credentials.form} or None)
    try:
        return session.request(
            method,
            settings.url(path),
            params=query or None,
            data=form,
            headers=credentials.headers,
            timeout=settings.timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        sent = request_was_sent(exc)
        return GraphConnectionError(
            f"no answer ({type(exc).__name__}: {scrub(str(exc), settings.secrets)})",
            request_sent=sent,
            is_transient=True,
            method=method,
            path=path,
            # Only a POST creates something; GET and DELETE are idempotent and retried as usual.
            outcome_unknown=sent and method == "POST",
        )


def read_answer(
    response: requests.Response,
    usage: Usage,
    *,
    method: str,
    path: str,
    secrets: tuple[str, ...],
    expect: Expect | None,
) -> GraphAnswer | GraphAPIError:
    """The answer of a response, or its error (see :func:`~partnership_ads.graph.errors.classify_response`).

    A successful body that fails ``expect`` is a retryable :class:`GraphBadResponseError`. A POST answered
    with such a body or with a 5xx may have created something: its error is marked ``outcome_unknown``.
    """
    body, error = classify_response(
        response, method=method, path=path, secrets=secrets, wait_seconds=usage.regain_seconds
    )
    if error is None and body is not None and expect is not None:
        wanted = expect(body)
        if wanted is not None:
            error = GraphBadResponseError(
                f"HTTP {response.status_code} answer is JSON but not {wanted}",
                http_status=response.status_code,
                is_transient=True,
                method=method,
                path=path,
            )
    if error is not None:
        if method == "POST" and (isinstance(error, GraphBadResponseError) or (error.http_status or 0) >= 500):
            error.outcome_unknown = True
        return error
    assert body is not None
    return GraphAnswer(body=body, usage=usage, http_status=response.status_code)


def read_batch_answer(
    response: requests.Response, count: int, usage: Usage, *, secrets: tuple[str, ...]
) -> list[dict[str, Any] | None]:
    """The answers of a batch request of ``count`` sub-requests (Meta's batch API), in order.

    Each is ``{"code": <HTTP status>, "body": <its parsed JSON body>}``, or ``None`` for a sub-request
    Meta did not finish (``null``) or whose answer cannot be read.

    :raises GraphAPIError: the batch itself failed: an error answer (classified as any call's), or a 2xx body
        that is not a JSON list of ``count`` answers (a bad response).
    """
    if response.status_code == 200:
        try:
            body: Any = json.loads(response.content) if response.content else None
        except ValueError:
            body = None
        if isinstance(body, list) and len(body) == count:
            return [_sub_answer(entry) for entry in body]
    _body, error = classify_response(
        response, method="POST", path="", secrets=secrets, wait_seconds=usage.regain_seconds
    )
    raise error or GraphBadResponseError(
        f"HTTP {response.status_code} answer is JSON but not a list of {count} answers",
        http_status=response.status_code,
        is_transient=True,
        method="POST",
        path="",
    )


def _sub_answer(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("code"), int):
        return None
    try:
        body = json.loads(entry["body"]) if isinstance(entry.get("body"), str) else None
    except ValueError:
        return None
    return {"code": entry["code"], "body": body}


def request_was_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never left (connect timeout, connection refused)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)
    ):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            return False
    return True


class _RedactUrlQuery(logging.Filter):
    """Strip query strings from urllib3's debug lines: with ``token_transport=query`` they carry the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = scrub(record.getMessage())
            record.args = None
        else:
            record.msg = scrub(str(record.msg))
        return True


_URL_FILTER = _RedactUrlQuery()


def install_url_redaction() -> None:
    """Redact urllib3's connection-pool debug lines (once per process)."""
    connectionpool = logging.getLogger("urllib3.connectionpool")
    if _URL_FILTER not in connectionpool.filters:
        connectionpool.addFilter(_URL_FILTER)
