"""PartnershipAdsHook: the Meta Graph API client of the pipeline, as an Airflow hook.

Public surface (names are a contract with the operators):

- :class:`PartnershipAdsHook` with :meth:`~PartnershipAdsHook.iter_advertisable_content`,
  :meth:`~PartnershipAdsHook.iter_advertisable_pages`,
  :meth:`~PartnershipAdsHook.lookup_advertisable_content`,
  :meth:`~PartnershipAdsHook.create_partnership_ad_code`,
  :meth:`~PartnershipAdsHook.delete_partnership_ad_code`, :meth:`~PartnershipAdsHook.inspect_token`,
  :meth:`~PartnershipAdsHook.create_ad_creative`, :meth:`~PartnershipAdsHook.create_ad`,
  :meth:`~PartnershipAdsHook.find_ad_creative_by_name`, :meth:`~PartnershipAdsHook.find_ad_by_name`;
- :class:`DiscoveryScope`, the brand's discovery access used to resolve a POST whose outcome is unknown;
- :class:`GraphAPIError` and its subclasses (re-exported from :mod:`partnership_ads.graph.errors`).

The hook keeps the connection, the session, the credentials and the one request path with its retries; each
endpoint family lives in a module of :mod:`partnership_ads.graph` that the hook exposes (``hook.discovery``,
``hook.ad_codes``, ``hook.ads``). The connection type is ``meta_graph`` (registered by
:mod:`partnership_ads.provider`); see :mod:`partnership_ads.graph.settings` for its fields.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from typing import TYPE_CHECKING, Any

from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from partnership_ads.conn_ids import DEFAULT_META_CONN_ID
from partnership_ads.graph.ad_codes import AdCodes
from partnership_ads.graph.ads import AdObjects, partnership_ad_name
from partnership_ads.graph.discovery import Discovery, DiscoveryScope
from partnership_ads.graph.errors import (
    AdCodeOutcomeUnknownError,
    AdObjectOutcomeUnknownError,
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
    error_label,
)
from partnership_ads.graph.pacing import Pacer
from partnership_ads.graph.params import MAX_PAGE_SIZE
from partnership_ads.graph.session import (
    MAX_BATCH_REQUESTS,
    GraphAnswer,
    read_answer,
    read_batch_answer,
    secure_session,
    send,
)
from partnership_ads.graph.settings import ConnectionSettings
from partnership_ads.graph.tokens import TokenInfo, Tokens
from partnership_ads.graph.usage import parse_usage
from partnership_ads.provider import CONN_TYPE, HOOK_NAME

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airflow.sdk import Connection
    from requests import Session

    from partnership_ads.graph.session import Expect

__all__ = [
    "AdCodeOutcomeUnknownError",
    "AdObjectOutcomeUnknownError",
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
    "TokenInfo",
    "partnership_ad_name",
]


class _ReadOnceHttpHook(HttpHook):
    """HttpHook reading the Graph hook's connection through it: one connection read (and one registration
    of its secrets for masking, which rebuilds the masker's pattern each time) per hook, not one per user."""

    def __init__(self, graph_hook: PartnershipAdsHook, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._graph_hook = graph_hook

    def get_connection(self, conn_id: str) -> Connection:  # type: ignore[override]
        if conn_id == self._graph_hook.meta_conn_id:
            return self._graph_hook.connection()
        return super().get_connection(conn_id)


class PartnershipAdsHook(BaseHook):
    """Meta Graph API client for partnership ads: discovery, lookups, and ad codes.

    Everything Graph-specific is here or in :mod:`partnership_ads.graph`: parameter validation, error
    classification, retries with backoff, throttle waits, usage-based slowdown, ``appsecret_proof`` on every
    request, and secrets kept out of logs and exceptions.

    One instance holds one ``requests`` session (keep-alive, a pool of up to 32 connections) and may be shared
    by the threads of a concurrent task. A throttling answer pauses every thread using the instance.

    The session comes from an ``HttpHook`` the hook composes (``hook.http``, used through its public
    ``get_conn`` only): HttpHook provides the connection lookup and the ``requests`` session. As it comes,
    that session would send every connection extra as an HTTP header (the app secret among them) and the
    login and password (the access token) as basic auth. Before any request the hook removes those headers,
    the basic auth and the ``requests`` options HttpHook read, then applies its own: a keep-alive adapter
    without retries of its own, the validated ``requests`` options, the environment's proxies resolved once
    (:func:`partnership_ads.graph.session.secure_session`). The credentials travel per request, as
    ``token_transport`` says. URLs are built from the validated ``settings.base_url`` (https, or http to
    loopback only), never from HttpHook's ``base_url``, which defaults a bare host to http.

    :param connection: the connection ``meta_conn_id`` when the caller has already read it (it is then not
        read again); None: read on first use.

    Testing seam: ``_sleep``, ``_monotonic`` and ``_time`` (wall clock, for ``appsecret_time``) and ``_rng``
    (backoff jitter) may be replaced; waits then happen on the fake clock.

    :param meta_conn_id: a ``meta_graph`` connection (host = base URL, password = access token, extras for the
        version, app secret, transport, timeout and retry settings).
    """

    conn_name_attr = "meta_conn_id"
    default_conn_name = DEFAULT_META_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    def __init__(
        self, meta_conn_id: str = default_conn_name, *, connection: Connection | None = None
    ) -> None:
        super().__init__()
        self.meta_conn_id = meta_conn_id
        self._connection = connection
        self._sleep: Callable[[float], None] = time.sleep
        self._monotonic: Callable[[], float] = time.monotonic
        self._time: Callable[[], float] = time.time
        self._rng = random.Random()
        self._setup_lock = threading.RLock()
        # Late-bound, so that a test may replace _monotonic and _sleep after construction.
        self._pacer = Pacer(
            monotonic=lambda: self._monotonic(), sleep=lambda seconds: self._sleep(seconds), log=self.log
        )
        self._settings: ConnectionSettings | None = None
        self._session: Session | None = None
        #: The HTTP provider's hook: connection lookup and the session (see :meth:`get_conn`). Its own
        #: keep-alive adapter is off: the hook mounts one sized for its thread pool on its base URL's scheme.
        self.http = _ReadOnceHttpHook(self, method="GET", http_conn_id=meta_conn_id, tcp_keep_alive=False)
        #: The discovery edge: walks and lookups (see :class:`partnership_ads.graph.discovery.Discovery`).
        self.discovery = Discovery(self)
        #: The ad-code edge (see :class:`partnership_ads.graph.ad_codes.AdCodes`).
        self.ad_codes = AdCodes(self)
        #: The token edge: debug_token (see :class:`partnership_ads.graph.tokens.Tokens`).
        self.tokens = Tokens(self)
        #: Ad accounts, ad sets, creatives and ads (see :class:`partnership_ads.graph.ads.AdObjects`).
        self.ads = AdObjects(self)

    # ------------------------------------------------------------------ connection and session

    def connection(self) -> Connection:
        """The connection ``meta_conn_id``, read once (given at construction, or on first use)."""
        with self._setup_lock:
            if self._connection is None:
                self._connection = self.get_connection(self.meta_conn_id)
            return self._connection

    @property
    def settings(self) -> ConnectionSettings:
        """The validated connection settings (read once; the token and app secret are registered for masking).

        :raises ValueError: when the connection is unusable (no token, plain http to a remote host, bad
            extras).
        """
        with self._setup_lock:
            if self._settings is None:
                conn = self.connection()
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

        The session is ``HttpHook.get_conn``'s, made safe before it is returned: no connection extra as a
        header and no basic auth (see :func:`partnership_ads.graph.session.secure_session`); the credentials
        are added per request. ``headers`` are added only when the session is first created (after the extras
        are removed, so a header sharing an extra's name is still sent). ``extra_options`` is accepted for
        ``HttpHook`` compatibility and ignored: the ``requests`` options come from the connection's extras.

        :raises ValueError: when the connection is unusable (see :attr:`settings`).
        """
        with self._setup_lock:
            if self._session is None:
                # Validate (and mask the secrets) before HttpHook reads the connection again.
                settings = self.settings
                self._session = secure_session(self.http.get_conn(), settings, headers)
            return self._session

    def close(self) -> None:
        """Close the session's pooled connections."""
        with self._setup_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def test_connection(self) -> tuple[bool, str]:
        """Validate the connection's settings, sending no request (no endpoint is free for every token)."""
        try:
            settings = self.settings
        except ValueError as exc:
            return False, str(exc)
        return True, f"Settings are valid ({settings.base_url}, {settings.api_version}); no request was sent"

    # ------------------------------------------------------------------ the request path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        expect: Expect | None = None,
        settings: ConnectionSettings | None = None,
    ) -> GraphAnswer:
        """Send one Graph call with retries. Writes whose outcome is unknown are never repeated here.

        :param path: the Graph path after the version, such as ``123/partnership_ad_code``.
        :param params: the query (GET) or form (POST, DELETE) parameters, credentials excluded.
        :param expect: the check of a successful answer's body: ``None`` when it has the expected shape,
            else a description of what was expected (the answer is then a retryable bad response).
        :param settings: other credentials for this call only (debug_token's app token); default the
            connection's.
        :raises GraphAPIError: the last error, when it is fatal, when retries are exhausted, when a throttle
            wait exceeds ``max_throttle_wait_seconds``, or (writes) when the outcome is unknown.
        """
        policy = self.settings.retry
        retry_number = 0
        while True:
            self._pacer.wait(policy, method, path)
            outcome = self._send_once(method, path, params, expect, settings)
            if isinstance(outcome, GraphAnswer):
                return outcome
            error = outcome
            if not error.retryable or error.outcome_unknown:
                raise error
            if retry_number >= policy.max_retries:
                self.log.warning(
                    "Giving up on %s %s after %d retries: %s", method, path, retry_number, error_label(error)
                )
                raise error
            if isinstance(error, GraphThrottleError):
                wait = policy.throttle_wait(retry_number, error.wait_seconds, self._rng)
                if policy.exceeds_throttle_limit(wait):
                    error.wait_seconds = wait
                    # Stop every thread of this hook from calling: continuing extends Meta's block.
                    self._pacer.pause(wait)
                    self.log.warning(
                        "Throttled on %s %s (%s): wait %.0fs exceeds max_throttle_wait_seconds=%g; "
                        "raising for a later task retry",
                        method,
                        path,
                        error_label(error),
                        wait,
                        policy.max_throttle_wait_seconds,
                    )
                    raise error
                self._pacer.pause(wait)
            else:
                wait = self.pause_for_backoff(retry_number)
            retry_number += 1
            self.log.warning(
                "Retry %d/%d of %s %s after %s: waiting %.1fs",
                retry_number,
                policy.max_retries,
                method,
                path,
                error_label(error),
                wait,
            )

    def request_batch(
        self, requests: Sequence[dict[str, str]], *, secrets: Sequence[str] = ()
    ) -> list[dict[str, Any] | None]:
        """Send up to :data:`MAX_BATCH_REQUESTS` reads in one ``POST /{version}/`` (Meta's batch API).

        One attempt and no retry: a batch saves round trips, so when it fails the caller sends what it needs
        alone, with the usual retries (nothing is written, so nothing can happen twice). The batch waits out a
        pause of this hook's threads first, and its usage headers are read as any call's.

        :param requests: ``{"method": "GET", "relative_url": ...}`` objects; a sub-request's own
            ``access_token`` in its ``relative_url`` overrides this connection's token, which is the fallback.
        :param secrets: the tokens and secrets the sub-requests carry: kept out of every error text as the
            connection's own are.
        :returns: each sub-request's ``{"code", "body"}`` in order (``body`` parsed), or ``None`` where Meta
            did not finish it.
        :raises ValueError: no sub-request, more than :data:`MAX_BATCH_REQUESTS`, or one that is not a GET.
        :raises GraphAPIError: the batch got no usable answer.
        """
        if not requests or len(requests) > MAX_BATCH_REQUESTS:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH_REQUESTS} sub-requests, got {len(requests)}")
        if any(str(r.get("method", "GET")).upper() != "GET" for r in requests):
            raise ValueError("only reads (GET) are batched: the outcome of a write must be known one by one")
        settings = dataclasses.replace(
            self.settings, extra_secrets=(*self.settings.extra_secrets, *(s for s in secrets if s))
        )
        self._pacer.wait(settings.retry, "POST", "")
        params = {"batch": json.dumps(list(requests), separators=(",", ":")), "include_headers": "false"}
        sent = send(self.get_conn(), settings, "POST", "", params=params, unix_time=self.unix_time())
        if isinstance(sent, GraphAPIError):
            raise sent
        usage = parse_usage(sent.headers)
        self._pacer.note_usage(usage, settings.retry)
        return read_batch_answer(sent, len(requests), usage, secrets=settings.secrets)

    def unix_time(self) -> int:
        """The wall clock this hook signs time-stamped ``appsecret_proof`` values with (unix seconds)."""
        return int(self._time())

    def pause_for_backoff(self, retry_number: int) -> float:
        """Pause every thread of this hook for the jittered backoff before retry ``retry_number`` (from 0).

        :returns: the wait, in seconds; the next call (of any thread) waits it out first.
        """
        wait = self.settings.retry.backoff(retry_number, self._rng)
        self._pacer.pause(wait)
        return wait

    def _send_once(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None,
        expect: Expect | None,
        settings: ConnectionSettings | None = None,
    ) -> GraphAnswer | GraphAPIError:
        settings = settings or self.settings
        sent = send(self.get_conn(), settings, method, path, params=params, unix_time=int(self._time()))
        if isinstance(sent, GraphAPIError):
            return sent
        usage = parse_usage(sent.headers)
        self._pacer.note_usage(usage, settings.retry)
        return read_answer(sent, usage, method=method, path=path, secrets=settings.secrets, expect=expect)

    # ------------------------------------------------------------------ endpoints (graph.discovery, ad_codes)

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

        Arguments, validation and errors: :meth:`partnership_ads.graph.discovery.Discovery.iter_pages`.
        """
        return self.discovery.iter_pages(
            business_id,
            fb_page_id=fb_page_id,
            ig_user_id=ig_user_id,
            fields=fields,
            page_size=page_size,
            partitions=partitions,
            ordered=ordered,
            **filters,
        )

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
        pages = self.discovery.iter_pages(
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
        """Look items up by ``content_ids``, ``permalinks`` or ``ad_codes`` (exactly one of them).

        Details: :meth:`partnership_ads.graph.discovery.Discovery.lookup`.
        """
        return self.discovery.lookup(
            business_id,
            fb_page_id=fb_page_id,
            ig_user_id=ig_user_id,
            content_ids=content_ids,
            permalinks=permalinks,
            ad_codes=ad_codes,
            fields=fields,
        )

    def create_partnership_ad_code(self, ig_media_id: str, *, discovery: DiscoveryScope | None = None) -> str:
        """Create the partnership ad code of an Instagram media (call with the media owner's connection).

        A POST whose outcome is unknown is settled through ``discovery`` (the brand's access), never repeated
        blindly: :meth:`partnership_ads.graph.ad_codes.AdCodes.create`.

        :raises AdCodeOutcomeUnknownError: retryable; look the media up before posting again.
        """
        return self.ad_codes.create(ig_media_id, discovery=discovery)

    def delete_partnership_ad_code(self, ig_media_id: str) -> bool:
        """Delete the partnership ad code of an Instagram media (owner's connection); returns ``success``."""
        return self.ad_codes.delete(ig_media_id)

    def inspect_token(self) -> TokenInfo:
        """What Meta's ``debug_token`` says about this connection's token (validity, expiry, scopes).

        Called with the app token ``app_id|app_secret`` when the connection has both extras, else with the
        token itself. Details: :meth:`partnership_ads.graph.tokens.Tokens.inspect`.
        """
        return self.tokens.inspect()

    def create_ad_creative(
        self,
        ad_account_id: str,
        *,
        name: str,
        page_id: str,
        ad_code: str,
        ad_format: int,
        ig_sponsor_id: str | None = None,
        fb_sponsor_page_id: str | None = None,
    ) -> str:
        """Create the partnership ad creative of an ad code (brand's connection, ``ads_management``); its id.

        Found by ``name`` first and adopted when it exists; a POST whose outcome is unknown is settled by
        name, never repeated blindly: :meth:`partnership_ads.graph.ads.AdObjects.create_ad_creative`.
        """
        return self.ads.create_ad_creative(
            ad_account_id,
            name=name,
            page_id=page_id,
            ad_code=ad_code,
            ad_format=ad_format,
            ig_sponsor_id=ig_sponsor_id,
            fb_sponsor_page_id=fb_sponsor_page_id,
        )

    def create_ad(
        self, ad_account_id: str, *, name: str, adset_id: str, creative_id: str, status: str = "PAUSED"
    ) -> str:
        """Create a paused ad of a creative in an ad set; its id (:meth:`AdObjects.create_ad
        <partnership_ads.graph.ads.AdObjects.create_ad>`: found by name first, never a second one)."""
        return self.ads.create_ad(
            ad_account_id, name=name, adset_id=adset_id, creative_id=creative_id, status=status
        )

    def find_ad_creative_by_name(self, ad_account_id: str, name: str) -> dict[str, Any] | None:
        """The account's creative called ``name``, or ``None``."""
        return self.ads.find_ad_creative_by_name(ad_account_id, name)

    def find_ad_by_name(self, ad_account_id: str, name: str) -> dict[str, Any] | None:
        """The account's ad called ``name``, or ``None``."""
        return self.ads.find_ad_by_name(ad_account_id, name)
