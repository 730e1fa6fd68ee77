"""The settings of a ``meta_graph`` connection, validated.

Connection fields: ``host`` is the base URL (default ``https://graph.facebook.com``), ``password`` the access
token. Extras (names are a contract, see :mod:`partnership_ads.provider`; defaults in
:mod:`partnership_ads.graph.defaults`): ``api_version``, ``app_id``, ``app_secret``,
``app_secret_time_proof``, ``token_transport``, ``timeout``, ``max_retries``, ``backoff_base_seconds``,
``backoff_max_seconds``, ``max_throttle_wait_seconds``, ``usage_slowdown_percent``. Values may be JSON
typed or strings (the UI and URIs give strings).

Also honoured, as ``requests`` options never sent as headers: ``verify``, ``proxies``, ``cert``,
``trust_env``. Every other extra is ignored with a warning naming it (values are never logged), and never sent
as an HTTP header as ``HttpHook`` would.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from partnership_ads.graph import defaults
from partnership_ads.graph.defaults import TOKEN_TRANSPORTS
from partnership_ads.graph.retry import RetryPolicy
from partnership_ads.provider import CONN_FIELDS

DEFAULT_BASE_URL = defaults.BASE_URL
DEFAULT_API_VERSION = defaults.API_VERSION

# The extras of the connection form, read by from_connection below.
KNOWN_EXTRAS = frozenset(CONN_FIELDS)
REQUESTS_EXTRAS = frozenset({"verify", "proxies", "cert", "trust_env"})

_VERSION = re.compile(r"v[0-9]+\.[0-9]+")


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything the hook needs from its connection. ``repr`` hides the token and the app secret."""

    conn_id: str
    base_url: str
    access_token: str
    api_version: str = DEFAULT_API_VERSION
    app_secret: str | None = None
    #: The app's id: with ``app_secret``, the app access token ``app_id|app_secret`` calls debug_token.
    app_id: str | None = None
    app_secret_time_proof: bool = defaults.APP_SECRET_TIME_PROOF
    token_transport: str = defaults.TOKEN_TRANSPORT
    timeout: float = defaults.TIMEOUT_SECONDS
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    requests_options: tuple[tuple[str, Any], ...] = ()
    ignored_extras: tuple[str, ...] = ()
    #: Every extra's name, as written: ``HttpHook.get_conn`` sends each as a header unless removed.
    extra_names: tuple[str, ...] = ()
    #: Further values to keep out of every message (the inspected token when debug_token is called with
    #: the app token).
    extra_secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(conn_id={self.conn_id!r}, base_url={self.base_url!r}, "
            f"api_version={self.api_version!r}, app_secret={'***' if self.app_secret else None}, "
            f"token_transport={self.token_transport!r}, timeout={self.timeout!r}, retry={self.retry!r})"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log line or an exception text."""
        return tuple(value for value in (self.access_token, self.app_secret, *self.extra_secrets) if value)

    @property
    def app_access_token(self) -> str | None:
        """``app_id|app_secret`` when both extras are set (what debug_token accepts as ``access_token``)."""
        if self.app_id and self.app_secret:
            return f"{self.app_id}|{self.app_secret}"
        return None

    def url(self, path: str) -> str:
        """The full URL of a Graph path such as ``123/partnership_ad_code``."""
        return f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"

    @classmethod
    def from_connection(
        cls,
        conn_id: str,
        *,
        host: str | None,
        password: str | None,
        extra: dict[str, Any],
        schema: str | None = None,
        port: int | None = None,
    ) -> ConnectionSettings:
        """Validate a connection's fields.

        :raises ValueError: naming the connection, the field and the rule (the token is never quoted).
        """
        where = f"connection {conn_id!r}"
        if not password:
            raise ValueError(f"{where}: password (the access token) is empty; set the Graph access token")
        base_url = _base_url(where, host, schema, port)

        def number(name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
            value = extra.get(name)
            if value is None or value == "":
                return default
            try:
                if isinstance(value, bool):
                    raise TypeError
                result = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: extra {name} must be a number, got {value!r}") from None
            if result < minimum or (maximum is not None and result > maximum):
                bounds = f">= {minimum:g}" if maximum is None else f"from {minimum:g} to {maximum:g}"
                raise ValueError(f"{where}: extra {name} must be {bounds}, got {value!r}")
            return result

        def integer(name: str, default: int) -> int:
            result = number(name, default)
            if result != int(result):
                raise ValueError(f"{where}: extra {name} must be a whole number, got {extra.get(name)!r}")
            return int(result)

        def boolean(name: str, default: bool) -> bool:
            value = extra.get(name)
            if value is None or value == "":
                return default
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
                return value.strip().lower() in {"true", "1", "yes"}
            raise ValueError(f"{where}: extra {name} must be true or false, got {value!r}")

        api_version = str(extra.get("api_version") or DEFAULT_API_VERSION).strip()
        if not _VERSION.fullmatch(api_version):
            raise ValueError(f"{where}: extra api_version must look like v25.0, got {api_version!r}")
        transport = str(extra.get("token_transport") or defaults.TOKEN_TRANSPORT).strip().lower()
        if transport not in TOKEN_TRANSPORTS:
            raise ValueError(
                f"{where}: extra token_transport must be one of {', '.join(TOKEN_TRANSPORTS)}, "
                f"got {transport!r}"
            )
        app_secret = extra.get("app_secret")
        if app_secret is not None and not isinstance(app_secret, str):
            raise ValueError(f"{where}: extra app_secret must be a string")
        app_id = extra.get("app_id")
        if app_id is not None and not isinstance(app_id, str | int):
            raise ValueError(f"{where}: extra app_id must be the app's numeric id")
        app_id = str(app_id).strip() if app_id not in (None, "") else None
        if app_id is not None and not app_id.isdigit():
            raise ValueError(f"{where}: extra app_id must be the app's numeric id, got {app_id!r}")
        retry = RetryPolicy(
            max_retries=integer("max_retries", defaults.MAX_RETRIES),
            backoff_base_seconds=number("backoff_base_seconds", defaults.BACKOFF_BASE_SECONDS),
            backoff_max_seconds=number("backoff_max_seconds", defaults.BACKOFF_MAX_SECONDS),
            max_throttle_wait_seconds=number("max_throttle_wait_seconds", defaults.MAX_THROTTLE_WAIT_SECONDS),
            usage_slowdown_percent=number(
                "usage_slowdown_percent", defaults.USAGE_SLOWDOWN_PERCENT, maximum=100.0
            ),
        )
        timeout = number("timeout", defaults.TIMEOUT_SECONDS, minimum=0.001)
        requests_options = tuple(sorted((k, v) for k, v in extra.items() if k in REQUESTS_EXTRAS))
        ignored = tuple(sorted(k for k in extra if k not in KNOWN_EXTRAS and k not in REQUESTS_EXTRAS))
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            access_token=password,
            api_version=api_version,
            app_secret=app_secret or None,
            app_id=app_id,
            app_secret_time_proof=boolean("app_secret_time_proof", defaults.APP_SECRET_TIME_PROOF),
            token_transport=transport,
            timeout=timeout,
            retry=retry,
            requests_options=requests_options,
            ignored_extras=ignored,
            extra_names=tuple(sorted(str(name) for name in extra)),
        )


def is_loopback(hostname: str) -> bool:
    """Whether ``hostname`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if hostname.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _base_url(where: str, host: str | None, schema: str | None, port: int | None) -> str:
    raw = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in raw:
        # A bare host name: Graph is served over HTTPS; HttpHook would default to http.
        scheme = (schema or "https").strip().lower()
        raw = f"{scheme}://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    hostname = parts.hostname or ""
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{where}: host must be a plain base URL without credentials, query or fragment")
    if scheme not in ("http", "https") or not hostname:
        raise ValueError(f"{where}: host must be a base URL such as {DEFAULT_BASE_URL}, got {raw!r}")
    if scheme == "http" and not is_loopback(hostname):
        raise ValueError(
            f"{where}: plain http:// is refused for {hostname!r}: tokens would travel unencrypted. "
            "Use https://, or a loopback address (127.0.0.1, ::1, localhost) for a local sandbox"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"
