"""The HTTP side of the hook: its ``requests`` session, one request, and what its answer tells.

The session is built here from the validated :class:`~partnership_ads.graph.settings.ConnectionSettings`
rather than by ``HttpHook.get_conn``, which would send every connection extra as an HTTP header (the app
secret among them) and the login and password (the token) as basic auth. The hook owns the session
(composition, as ``SlackHook`` owns its ``WebClient``); :func:`send` adds the credentials to each request.
The hook's request path (retries, pacing) calls :func:`send` and :func:`read_answer` once per attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
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


def build_session(settings: ConnectionSettings, headers: dict[str, Any] | None = None) -> requests.Session:
    """A keep-alive session for ``settings.base_url``: no auth, no extras as headers, no retries of its own.

    Only the ``requests`` options among the extras (``verify``, ``proxies``, ``cert``, ``trust_env``) are
    applied. With ``trust_env`` (the default) the environment's proxy and CA-bundle settings are resolved
    once, here: ``requests`` would otherwise re-read every variable of ``os.environ`` on each call, about a
    millisecond per call with hundreds of ``AIRFLOW_CONN_*`` variables (one per creator).
    """
    session = requests.Session()
    session.auth = None
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
