"""PartnershipAdsHook: the Meta Graph API client of the pipeline, as an Airflow hook.

Public surface (names are a contract with the operators):

- :class:`PartnershipAdsHook` with :meth:`~PartnershipAdsHook.iter_advertisable_content`,
  :meth:`~PartnershipAdsHook.iter_advertisable_pages`,
  :meth:`~PartnershipAdsHook.lookup_advertisable_content`,
  :meth:`~PartnershipAdsHook.create_partnership_ad_code`,
  :meth:`~PartnershipAdsHook.delete_partnership_ad_code`;
- :class:`DiscoveryScope`, the brand's discovery access used to resolve a POST whose outcome is unknown;
- :class:`GraphAPIError` and its subclasses (re-exported from :mod:`partnership_ads.graph.errors`).

The connection type is ``meta_graph`` (registered by :mod:`partnership_ads.provider`); see
:mod:`partnership_ads.graph.settings` for its fields.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.log import mask_secret
from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from partnership_ads.graph.auth import place_credentials
from partnership_ads.graph.errors import (
    AdCodeOutcomeUnknownError,
    GraphAPIError,
    GraphAuthError,
    GraphBadResponseError,
    GraphConnectionError,
    GraphDuplicateError,
    GraphInvalidParameterError,
    GraphPermissionError,
    GraphPolicyBlockError,
    GraphThrottleError,
    GraphTransientError,
    classify_response,
    scrub,
)
from partnership_ads.graph.params import (
    MAX_PAGE_SIZE,
    DiscoveryQuery,
    build_discovery_query,
    build_lookup_requests,
    validate_business_id,
)
from partnership_ads.graph.partition import ArrivalMerge, OrderedMerge, split_window
from partnership_ads.graph.settings import ConnectionSettings
from partnership_ads.graph.usage import Usage, parse_usage

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator

    from requests import Session

__all__ = [
    "AdCodeOutcomeUnknownError",
    "DiscoveryScope",
    "GraphAPIError",
    "GraphAuthError",
    "GraphBadResponseError",
    "GraphConnectionError",
    "GraphDuplicateError",
    "GraphInvalidParameterError",
    "GraphPermissionError",
    "GraphPolicyBlockError",
    "GraphThrottleError",
    "GraphTransientError",
    "PartnershipAdsHook",
]

DISCOVERY_EDGE = "partnership-ads-advertisable-content"
AD_CODE_EDGE = "partnership_ad_code"
USER_AGENT = "partnership-ads-airflow/0.1"
# Connections the session keeps open: enough for the issuing task's thread pool plus partitioned discovery.
POOL_MAXSIZE = 32
PARTITION_QUEUE_PAGES = 4


@dataclass(frozen=True)
class GraphAnswer:
    """A successful answer: its JSON body and the usage its headers reported."""

    body: dict[str, Any]
    usage: Usage
    http_status: int


@dataclass(frozen=True)
class DiscoveryScope:
    """A brand's discovery access: where to look a media up when a POST's outcome is unknown.

    Ad codes are created with the media owner's token, but only the brand's token may call discovery, so the
    issuing task passes the brand's hook here.
    """

    hook: PartnershipAdsHook
    business_id: str
    fb_page_id: str | None = None
    ig_user_id: str | None = None

    def find_ad_code(self, ig_media_id: str) -> str | None:
        """Return the media's existing ad code, or ``None`` when it has none (or discovery does not show it).

        One ``content_ids`` lookup with ``fields=content_id,partnership_info{ad_code}``; the code of a media
        appears
        in its ``partnership_info`` entries.
        """
        items = self.hook.lookup_advertisable_content(
            self.business_id,
            fb_page_id=self.fb_page_id,
            ig_user_id=self.ig_user_id,
            content_ids=[ig_media_id],
            fields="content_id,partnership_info{ad_code}",
        )
        for item in items:
            if str(item.get("content_id")) != str(ig_media_id):
                continue
            for entry in item.get("partnership_info") or []:
                if isinstance(entry, dict) and isinstance(entry.get("ad_code"), str) and entry["ad_code"]:
                    return entry["ad_code"]
        return None


# Types of the item fields the pipeline reads (None is always allowed: Graph writes null for unknown values).
_ITEM_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "platform": str,
    "media_type": str,
    "post_type": str,
    "caption": str,
    "permalink": str,
    "creation_time": str,
    "ad_usage": str,
    "is_recommended": bool,
    "author": dict,
    "organic_insights": dict,
    "partnership_info": list,
}
_ENTRY_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "ad_eligibility": str,
    "ad_code": str,
    "permission_status": str,
    "permission_type": str,
    "tagged_partner": dict,
    "content_types": list,
}


def _describe_type(value: Any) -> str:
    return type(value).__name__


def _item_problem(index: int, item: dict[str, Any]) -> str | None:
    """What is wrong with one discovery item, or None (found by the drill bad_input: mistyped fields)."""
    content_id = item.get("content_id")
    if not isinstance(content_id, str) or not content_id:
        return f"item {index} with a non-empty string 'content_id' (got {_describe_type(content_id)})"
    for name, expected in _ITEM_FIELD_TYPES.items():
        value = item.get(name)
        if value is not None and not isinstance(value, expected):
            wanted = getattr(expected, "__name__", expected)
            return f"item {content_id} with '{name}' as {wanted} (got {_describe_type(value)})"
    for entry in item.get("partnership_info") or []:
        if not isinstance(entry, dict):
            return (
                f"item {content_id} with 'partnership_info' entries as objects (got {_describe_type(entry)})"
            )
        for name, expected in _ENTRY_FIELD_TYPES.items():
            value = entry.get(name)
            if value is not None and not isinstance(value, expected):
                return (
                    f"item {content_id} with partnership_info '{name}' as "
                    f"{getattr(expected, '__name__', expected)} (got {_describe_type(value)})"
                )
    return None


def _expect_page(body: dict[str, Any]) -> str | None:
    data = body.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        return "a JSON object with a 'data' list of objects"
    paging = body.get("paging")
    if paging is not None and not isinstance(paging, dict):
        return "'paging' as an object"
    for index, item in enumerate(data):
        problem = _item_problem(index, item)
        if problem is not None:
            return problem
    return None


def _expect_ad_code(body: dict[str, Any]) -> str | None:
    code = body.get("ad_code")
    return None if isinstance(code, str) and code else "a JSON object with a non-empty 'ad_code' string"


def _expect_success(body: dict[str, Any]) -> str | None:
    return None if isinstance(body.get("success"), bool) else "a JSON object with a boolean 'success'"


def _request_was_sent(exc: requests.RequestException) -> bool:
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


def _install_url_redaction() -> None:
    connectionpool = logging.getLogger("urllib3.connectionpool")
    if _URL_FILTER not in connectionpool.filters:
        connectionpool.addFilter(_URL_FILTER)


def _label(error: GraphAPIError) -> str:
    if error.code is not None:
        return f"code {error.code}" + (f"/{error.error_subcode}" if error.error_subcode is not None else "")
    if error.http_status is not None:
        return f"HTTP {error.http_status}"
    return type(error).__name__


class PartnershipAdsHook(HttpHook):
    """Meta Graph API client for partnership ads: discovery, lookups, and ad codes.

    Built on ``HttpHook`` for connection handling and its keep-alive session; everything Graph-specific is
    added here: parameter validation, error classification, retries with backoff, throttle waits, usage-based
    slowdown, ``appsecret_proof`` on every request, and secrets kept out of logs and exceptions.

    One instance holds one ``requests`` session (keep-alive, a pool of up to 32 connections) and may be shared
    by the threads of a concurrent task. A throttling answer pauses every thread using the instance.

    Testing seam: ``_sleep``, ``_monotonic`` and ``_time`` (wall clock, for ``appsecret_time``) and ``_rng``
    (backoff jitter) may be replaced; waits then happen on the fake clock.

    :param meta_conn_id: a ``meta_graph`` connection (host = base URL, password = access token, extras for the
        version, app secret, transport, timeout and retry settings).
    """

    conn_name_attr = "meta_conn_id"
    default_conn_name = "meta_graph_default"
    conn_type = "meta_graph"
    hook_name = "Meta Graph API (partnership ads)"

    def __init__(self, meta_conn_id: str = default_conn_name) -> None:
        adapter = TCPKeepAliveAdapter(
            idle=120, count=20, interval=30, pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0
        )
        super().__init__(method="GET", http_conn_id=meta_conn_id, adapter=adapter)
        self.meta_conn_id = meta_conn_id
        self._sleep: Callable[[float], None] = time.sleep
        self._monotonic: Callable[[], float] = time.monotonic
        self._time: Callable[[], float] = time.time
        self._rng = random.Random()
        self._setup_lock = threading.RLock()
        self._gate_lock = threading.Lock()
        self._pause_until = 0.0
        self._slowing_down = False
        self._settings: ConnectionSettings | None = None
        self._session: Session | None = None

    # ------------------------------------------------------------------ connection and session

    @property
    def settings(self) -> ConnectionSettings:
        """The validated connection settings (read once; the token and app secret are registered for masking).

        :raises ValueError: when the connection is unusable (no token, plain http to a remote host, bad
        extras).
        """
        with self._setup_lock:
            if self._settings is None:
                conn = self.get_connection(self.meta_conn_id)
                # Mask before validating so that no later message can carry them unmasked.
                if conn.password:
                    mask_secret(conn.password)
                extra = conn.extra_dejson
                if isinstance(extra.get("app_secret"), str) and extra["app_secret"]:
                    mask_secret(extra["app_secret"])
                settings = ConnectionSettings.from_connection(
                    self.meta_conn_id,
                    host=conn.host,
                    password=conn.password,
                    extra=extra,
                    schema=conn.schema,
                    port=conn.port,
                )
                if conn.conn_type and conn.conn_type != self.conn_type:
                    self.log.warning(
                        "Connection %s has type %r; expected %r",
                        self.meta_conn_id,
                        conn.conn_type,
                        self.conn_type,
                    )
                if settings.ignored_extras:
                    self.log.warning(
                        "Connection %s: ignoring unknown extras %s (never sent as HTTP headers)",
                        self.meta_conn_id,
                        ", ".join(settings.ignored_extras),
                    )
                self._settings = settings
            return self._settings

    def get_conn(
        self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
    ) -> Session:
        """Return the hook's one shared ``requests`` session, created on first use.

        Unlike ``HttpHook.get_conn``, the session carries no connection extras as headers and no basic auth;
        the credentials are added per request. ``headers`` and ``extra_options`` are applied only when the
        session is first created.
        """
        with self._setup_lock:
            if self._session is None:
                settings = self.settings
                session = super().get_conn(headers=headers, extra_options=extra_options)
                session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
                _install_url_redaction()
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
                    # requests re-reads every proxy and CA-bundle variable of os.environ on each call, a
                    # scan of the whole environment: with hundreds of AIRFLOW_CONN_* variables (one per
                    # creator) that is about a millisecond per call. This session only talks to one base
                    # URL, so resolve them once, now.
                    resolved = session.merge_environment_settings(settings.base_url, {}, None, None, None)
                    session.proxies = resolved["proxies"]
                    session.verify = resolved["verify"]
                    session.trust_env = False
                self._session = session
            return self._session

    def _set_base_url(self, connection: Any) -> None:
        # The base URL was validated (https, or http to loopback only) with the settings.
        self.base_url = self.settings.base_url
        self._srv_lookup_enabled = False
        self._base_url_initialized = True

    def _extract_auth(self, connection: Any) -> Any | None:
        # HttpHook would send login/password (the token!) as HTTP basic auth.
        return None

    def _configure_session_from_extra(
        self, session: Session, connection: Any, extra_options: dict[str, Any]
    ) -> Session:
        # HttpHook sends every unrecognised extra as an HTTP header: app_secret would travel in clear. Extras
        # are
        # read by ConnectionSettings instead, and the few requests options are applied in get_conn.
        return session

    def close(self) -> None:
        """Close the session's pooled connections."""
        with self._setup_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def test_connection(self) -> tuple[bool, str]:
        """Validate the connection's settings without sending a request (no endpoint is free for every
        token)."""
        try:
            settings = self.settings
        except ValueError as exc:
            return False, str(exc)
        return True, f"Settings are valid ({settings.base_url}, {settings.api_version}); no request was sent"

    # ------------------------------------------------------------------ request core

    def _wait_for_gate(self, method: str, path: str) -> None:
        """Honour a pause set by throttling or slowdown (any thread's), or refuse to wait beyond the
        maximum."""
        with self._gate_lock:
            remaining = self._pause_until - self._monotonic()
        if remaining <= 0:
            return
        policy = self.settings.retry
        if policy.exceeds_throttle_limit(remaining):
            raise GraphThrottleError(
                f"calls are paused for {remaining:.0f}s after a throttling answer, longer than "
                f"max_throttle_wait_seconds={policy.max_throttle_wait_seconds:g}",
                wait_seconds=remaining,
                method=method,
                path=path,
            )
        # One sleep, no loop: a fake sleep that does not advance the clock must not spin.
        self._sleep(remaining)

    def _pause(self, seconds: float) -> None:
        with self._gate_lock:
            self._pause_until = max(self._pause_until, self._monotonic() + seconds)

    def _note_usage(self, usage: Usage) -> None:
        percent = usage.max_percent
        delay = self.settings.retry.slowdown(percent)
        if delay > 0:
            if not self._slowing_down:
                self.log.info(
                    "Rate-limit usage %s is above usage_slowdown_percent=%g: pacing calls by %.1fs",
                    usage.describe(),
                    self.settings.retry.usage_slowdown_percent,
                    delay,
                )
            self._slowing_down = True
            self._pause(delay)
        elif self._slowing_down and percent is not None:
            self._slowing_down = False
            self.log.info("Rate-limit usage back to %s: no more pacing", usage.describe())

    def _send_once(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        expect: Callable[[dict[str, Any]], str | None] | None,
    ) -> tuple[GraphAnswer | None, GraphAPIError | None]:
        settings = self.settings
        session = self.get_conn()
        credentials = place_credentials(
            method,
            settings.access_token,
            settings.token_transport,
            app_secret=settings.app_secret,
            time_proof=settings.app_secret_time_proof,
            unix_time=int(self._time()),
        )
        is_read = method == "GET"
        # Only a POST creates something; GET and DELETE are idempotent and retried as usual.
        creates = method == "POST"
        query = {**(params or {}), **credentials.query} if is_read else dict(credentials.query)
        form = None if is_read else ({**(params or {}), **credentials.form} or None)
        try:
            response = session.request(
                method,
                settings.url(path),
                params=query or None,
                data=form,
                headers=credentials.headers,
                timeout=settings.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            sent = _request_was_sent(exc)
            detail = scrub(str(exc), settings.secrets)
            return None, GraphConnectionError(
                f"no answer ({type(exc).__name__}: {detail})",
                request_sent=sent,
                is_transient=True,
                method=method,
                path=path,
                outcome_unknown=sent and creates,
            )
        usage = parse_usage(response.headers)
        self._note_usage(usage)
        body, error = classify_response(
            response, method=method, path=path, secrets=settings.secrets, wait_seconds=usage.regain_seconds
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
            if creates and (isinstance(error, GraphBadResponseError) or (error.http_status or 0) >= 500):
                error.outcome_unknown = True
            return None, error
        assert body is not None
        return GraphAnswer(body=body, usage=usage, http_status=response.status_code), None

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        expect: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> GraphAnswer:
        """Send one Graph call with retries. Writes whose outcome is unknown are never repeated here.

        :raises GraphAPIError: the last error, when it is fatal, when retries are exhausted, when a throttle
            wait exceeds ``max_throttle_wait_seconds``, or (writes) when the outcome is unknown.
        """
        policy = self.settings.retry
        retry_number = 0
        while True:
            self._wait_for_gate(method, path)
            answer, error = self._send_once(method, path, params, expect)
            if error is None:
                assert answer is not None
                return answer
            if not error.retryable or error.outcome_unknown:
                raise error
            if retry_number >= policy.max_retries:
                self.log.warning(
                    "Giving up on %s %s after %d retries: %s", method, path, retry_number, _label(error)
                )
                raise error
            if isinstance(error, GraphThrottleError):
                wait = policy.throttle_wait(retry_number, error.wait_seconds, self._rng)
                if policy.exceeds_throttle_limit(wait):
                    error.wait_seconds = wait
                    # Stop every thread of this hook from calling: continuing extends Meta's block.
                    self._pause(wait)
                    self.log.warning(
                        "Throttled on %s %s (%s): wait %.0fs exceeds max_throttle_wait_seconds=%g; "
                        "raising for a "
                        "later task retry",
                        method,
                        path,
                        _label(error),
                        wait,
                        policy.max_throttle_wait_seconds,
                    )
                    raise error
            else:
                wait = policy.backoff(retry_number, self._rng)
            retry_number += 1
            self.log.warning(
                "Retry %d/%d of %s %s after %s: waiting %.1fs",
                retry_number,
                policy.max_retries,
                method,
                path,
                _label(error),
                wait,
            )
            self._pause(wait)

    # ------------------------------------------------------------------ discovery

    @staticmethod
    def validate_discovery_query(
        *,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        fields: Any = None,
        page_size: int = MAX_PAGE_SIZE,
        **filters: Any,
    ) -> dict[str, str]:
        """Validate discovery arguments exactly as the hook does, without a connection or a request.

        :returns: the request parameters (less paging and credentials).
        :raises ValueError: naming the parameter and the rule it breaks.
        """
        return build_discovery_query(
            fb_page_id=fb_page_id, ig_user_id=ig_user_id, fields=fields, page_size=page_size, filters=filters
        ).params

    def iter_advertisable_pages(
        self,
        business_id: str,
        *,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        fields: Any = None,
        page_size: int = MAX_PAGE_SIZE,
        partitions: int = 1,
        ordered: bool = True,
        **filters: Any,
    ) -> Iterator[list[dict[str, Any]]]:
        """Walk ``GET /{business_id}/partnership-ads-advertisable-content`` page by page, lazily.

        Follows ``paging.cursors.after`` until a page comes without ``paging``. Empty pages are not yielded.
        Every argument is validated when this method is called, before any request.

        :param fields: Graph string (``"content_id,author{display_name}"``) or nested structure
            (``["content_id", {"author": ["display_name"]}]``); ``None`` lets Graph return ``content_id``
            only.
        :param page_size: ``limit``, 1..50 (Graph counts calls, not rows: keep it at 50).
        :param partitions: opt-in parallel walk: with ``start_date`` and ``end_date``, split the window into
            this many day-aligned sub-windows fetched in parallel threads (``sort_by`` must be ``DATE``, and
            is set to it when absent). Pages come newest window first, so items arrive in the order of the
            sequential ``sort_by=DATE`` walk, each once; at most ``partitions * 4`` pages are buffered.
        :param ordered: with ``partitions > 1``: ``True`` (default) keeps the sequential walk's order, which
            leaves little parallelism (the later windows wait behind the newest one once their small buffer
            is full); ``False`` yields pages as the windows deliver them: the same items, each once, every
            window walked at full speed, still at most ``partitions * 4`` pages buffered.
        :param filters: the API's filter names: ``ad_eligibilities``, ``platform_types``, ``media_types``,
            ``post_types``, ``content_types``, ``ad_usages``, ``country_codes``, ``ad_partner_ig_user_ids``,
            ``ad_partner_page_ids``, ``start_date``/``end_date`` (``date`` or ``"YYYY-MM-DD"``),
            ``search_key``, ``sort_by``, ``is_recommended``.
        :raises ValueError: on invalid arguments (before any request).
        :raises GraphAPIError: when a page cannot be fetched (after retries where they apply).
        """
        business = validate_business_id(business_id)
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"partitions: must be an integer >= 1, got {partitions!r}")
        if partitions > 1:
            sort_by = filters.get("sort_by")
            if sort_by is not None and str(sort_by).upper() != "DATE":
                raise ValueError(
                    "sort_by: partitioned discovery needs sort_by=DATE to keep the sequential order, "
                    f"got {sort_by!r}"
                )
            filters = {**filters, "sort_by": "DATE"}
        query = build_discovery_query(
            fb_page_id=fb_page_id, ig_user_id=ig_user_id, fields=fields, page_size=page_size, filters=filters
        )
        if partitions == 1:
            return self._walk(business, query.params, label="")
        return self._walk_partitioned(business, query, partitions, ordered=ordered)

    def iter_advertisable_content(
        self,
        business_id: str,
        *,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        fields: Any = None,
        page_size: int = MAX_PAGE_SIZE,
        partitions: int = 1,
        ordered: bool = True,
        **filters: Any,
    ) -> Iterator[dict[str, Any]]:
        """Yield every matching item, fetching pages lazily (constant memory however many items).

        Same arguments as :meth:`iter_advertisable_pages`, whose pages it flattens.
        """
        pages = self.iter_advertisable_pages(
            business_id,
            fb_page_id=fb_page_id,
            ig_user_id=ig_user_id,
            fields=fields,
            page_size=page_size,
            partitions=partitions,
            ordered=ordered,
            **filters,
        )
        return (item for page in pages for item in page)

    def iter_advertisable_content_partitioned(
        self,
        business_id: str,
        *,
        start_date: dt.date | str,
        end_date: dt.date | str,
        partitions: int = 4,
        **kwargs: Any,
    ) -> Iterator[dict[str, Any]]:
        """:meth:`iter_advertisable_content` with ``partitions`` (default 4) over ``[start_date,
        end_date]``."""
        return self.iter_advertisable_content(
            business_id, start_date=start_date, end_date=end_date, partitions=partitions, **kwargs
        )

    def _walk(self, business: str, params: dict[str, str], label: str) -> Iterator[list[dict[str, Any]]]:
        path = f"{business}/{DISCOVERY_EDGE}"
        page_number = 0
        total = 0
        after: str | None = None
        seen_cursors: set[str] = set()
        while True:
            request_params = dict(params)
            if after is not None:
                request_params["after"] = after
            answer = self._call("GET", path, params=request_params, expect=_expect_page)
            data: list[dict[str, Any]] = answer.body["data"]
            page_number += 1
            total += len(data)
            self.log.info(
                "Fetched page %d%s of business %s: %d items (%d so far), usage %s",
                page_number,
                label,
                business,
                len(data),
                total,
                answer.usage.describe(),
            )
            if data:
                yield data
            paging = answer.body.get("paging")
            if not paging:
                return
            cursors = paging.get("cursors")
            next_after = cursors.get("after") if isinstance(cursors, dict) else None
            if not isinstance(next_after, str) or not next_after:
                self.log.warning(
                    "Page %d%s of business %s has paging but no cursors.after; treating it as the last page",
                    page_number,
                    label,
                    business,
                )
                return
            if next_after == after:
                raise GraphBadResponseError(
                    f"page {page_number} returned the cursor it was asked for; "
                    "stopping to avoid an endless loop",
                    http_status=answer.http_status,
                    retryable=False,
                    method="GET",
                    path=path,
                )
            # Found by the drill bad_input: a cursor cycle (A, B, A) or empty pages that keep carrying a
            # cursor would loop until Graph rejects a cursor, with an error that hides the cause.
            if next_after in seen_cursors:
                raise GraphBadResponseError(
                    f"page {page_number} returned a cursor already followed on an earlier page (a cursor "
                    "cycle); stopping to avoid an endless loop",
                    http_status=answer.http_status,
                    retryable=False,
                    method="GET",
                    path=path,
                )
            if not data:
                raise GraphBadResponseError(
                    f"page {page_number} is empty but still carries paging.cursors.after; stopping instead "
                    "of following empty pages",
                    http_status=answer.http_status,
                    retryable=False,
                    method="GET",
                    path=path,
                )
            seen_cursors.add(next_after)
            after = next_after

    def _walk_partitioned(
        self, business: str, query: DiscoveryQuery, partitions: int, *, ordered: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        if query.start_date is None or query.end_date is None:
            raise ValueError("partitions: partitioned discovery needs start_date and end_date")
        windows = split_window(query.start_date, query.end_date, partitions)
        self.log.info(
            "Partitioned discovery of business %s: %s..%s in %d windows",
            business,
            query.start_date.isoformat(),
            query.end_date.isoformat(),
            len(windows),
        )
        producers: list[Callable[[], Iterator[list[dict[str, Any]]]]] = []
        for index, (start, end) in enumerate(windows, start=1):
            params = {**query.params, "start_date": start.isoformat(), "end_date": end.isoformat()}
            label = f" (partition {index}/{len(windows)} {start.isoformat()}..{end.isoformat()})"
            producers.append(lambda params=params, label=label: self._walk(business, params, label))
        merge = OrderedMerge if ordered else ArrivalMerge
        return iter(merge(producers, queue_pages=PARTITION_QUEUE_PAGES))

    def lookup_advertisable_content(
        self,
        business_id: str,
        *,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        content_ids: list[str] | None = None,
        permalinks: list[str] | None = None,
        ad_codes: list[str] | None = None,
        fields: Any = None,
    ) -> list[dict[str, Any]]:
        """Look items up directly by ``content_ids``, ``permalinks`` or ``ad_codes`` (exactly one of them).

        More than 50 values are split into requests of at most 50; repeated values are sent once. Items that
        Graph does not return (unknown, or not visible to this brand) are simply absent from the result.

        :raises ValueError: on invalid arguments (before any request).
        :raises GraphAPIError: when a request fails (after retries where they apply).
        """
        business = validate_business_id(business_id)
        requests_params = list(
            build_lookup_requests(
                fb_page_id=fb_page_id,
                ig_user_id=ig_user_id,
                content_ids=content_ids,
                permalinks=permalinks,
                ad_codes=ad_codes,
                fields=fields,
            )
        )
        path = f"{business}/{DISCOVERY_EDGE}"
        items: list[dict[str, Any]] = []
        for params in requests_params:
            answer = self._call("GET", path, params=params, expect=_expect_page)
            items.extend(answer.body["data"])
        kind = next(name for name in ("content_ids", "permalinks", "ad_codes") if name in requests_params[0])
        self.log.info(
            "Looked up %s of business %s in %d request(s): %d items found",
            kind,
            business,
            len(requests_params),
            len(items),
        )
        return items

    # ------------------------------------------------------------------ ad codes

    def create_partnership_ad_code(self, ig_media_id: str, *, discovery: DiscoveryScope | None = None) -> str:
        """Create the partnership ad code of an Instagram media (call with the media owner's connection).

        A POST that may have reached the server without a clear answer (timeout, dropped connection, 5xx, a
        2xx body that is not the expected JSON) is never repeated blindly: with ``discovery`` (the brand's
        access) the media is looked up first and an existing code is returned; only when the lookup shows no
        code is the POST sent again (within ``max_retries``). Without ``discovery`` the hook raises
        :class:`AdCodeOutcomeUnknownError` instead of posting again. Rejected answers (throttling, Meta's
        transient errors at 4xx, connection refused) did not create anything and are retried as usual.

        :returns: the ad code.
        :raises ValueError: when ``ig_media_id`` is not a numeric Instagram media id.
        :raises AdCodeOutcomeUnknownError: retryable; look the media up before posting again.
        :raises GraphAPIError: any other failure.
        """
        media_id = _media_id(ig_media_id)
        path = f"{media_id}/{AD_CODE_EDGE}"
        policy = self.settings.retry
        repost = 0
        while True:
            try:
                answer = self._call("POST", path, expect=_expect_ad_code)
            except GraphAPIError as error:
                if not error.outcome_unknown:
                    raise
                if discovery is None:
                    self.log.warning(
                        "POST %s: outcome unknown (%s) and no discovery scope to check; not posting again",
                        path,
                        _label(error),
                    )
                    raise _outcome_unknown(
                        error, "no discovery scope was given to look the media up"
                    ) from None
                try:
                    existing = discovery.find_ad_code(media_id)
                except GraphAPIError as lookup_error:
                    raise _outcome_unknown(
                        error, f"the lookup through discovery failed too ({_label(lookup_error)})"
                    ) from None
                if existing is not None:
                    self.log.warning(
                        "POST %s: outcome unknown (%s); discovery shows the media's existing ad code, "
                        "adopting it",
                        path,
                        _label(error),
                    )
                    return existing
                if repost >= policy.max_retries:
                    self.log.warning(
                        "Giving up on POST %s after %d repost(s): %s", path, repost, _label(error)
                    )
                    raise
                wait = policy.backoff(repost, self._rng)
                repost += 1
                self.log.warning(
                    "Retry %d/%d of POST %s after %s: discovery shows no ad code, posting again after %.1fs",
                    repost,
                    policy.max_retries,
                    path,
                    _label(error),
                    wait,
                )
                self._pause(wait)
                continue
            code: str = answer.body["ad_code"]
            self.log.info("Created the partnership ad code of media %s", media_id)
            return code

    def delete_partnership_ad_code(self, ig_media_id: str) -> bool:
        """Delete the partnership ad code of an Instagram media (owner's connection). Returns Graph's
        ``success``.

        DELETE is idempotent, so it is retried like a read.
        """
        media_id = _media_id(ig_media_id)
        answer = self._call("DELETE", f"{media_id}/{AD_CODE_EDGE}", expect=_expect_success)
        success = bool(answer.body["success"])
        self.log.info("Deleted the partnership ad code of media %s: success=%s", media_id, success)
        return success


def _media_id(ig_media_id: Any) -> str:
    text = (
        str(ig_media_id).strip()
        if isinstance(ig_media_id, (str, int)) and not isinstance(ig_media_id, bool)
        else ""
    )
    if not text.isdigit():
        raise ValueError(
            f"ig_media_id: {ig_media_id!r} is not an Instagram media id "
            "(digits only; Facebook posts get no ad code)"
        )
    return text


def _outcome_unknown(error: GraphAPIError, why: str) -> AdCodeOutcomeUnknownError:
    return AdCodeOutcomeUnknownError(
        f"the POST may have created an ad code ({error.message}); {why}",
        http_status=error.http_status,
        code=error.code,
        error_subcode=error.error_subcode,
        type=error.type,
        fbtrace_id=error.fbtrace_id,
        is_transient=error.is_transient,
        method=error.method,
        path=error.path,
        outcome_unknown=True,
    )
