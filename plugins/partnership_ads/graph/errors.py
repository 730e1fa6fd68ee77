"""Graph API errors and the classification of every answer.

Every non-2xx answer, every 2xx answer whose body is not the expected JSON, and every transport failure
becomes a :class:`GraphAPIError` (or a subclass). Each carries ``http_status, code, error_subcode, type,
message, fbtrace_id, is_transient`` and a ``retryable`` verdict:

- ``retryable`` True: the condition passes with time (throttling, Meta's transient errors, 5xx, timeouts,
  dropped connections, HTML or truncated bodies). The hook retries these itself, within its budget; when it
  gives up, the operator raises so that Airflow retries the task later.
- ``retryable`` False: retrying cannot help (token invalid, permission missing, invalid parameter, duplicate,
  policy block). A person must act; the operator fails the task.

Codes follow Meta's table (see ``shared/reference/meta-graph-api.md``):

===========================  =====================================  ==========================
code                         class                                  retryable
===========================  =====================================  ==========================
1, 2, or ``is_transient``    :class:`GraphTransientError`           yes (backoff)
4, 17, 32, 341, 613          :class:`GraphThrottleError`            yes (backoff)
80000-80009, 80014 (BUC)     :class:`GraphThrottleError`            yes (wait as told)
368                          :class:`GraphPolicyBlockError`         no (a person must look)
100                          :class:`GraphInvalidParameterError`    no
10, 200-299, HTTP 403        :class:`GraphPermissionError`          no
190 (any subcode)            :class:`GraphAuthError`                no (replace the token)
506                          :class:`GraphDuplicateError`           no
HTTP 5xx, no envelope        :class:`GraphTransientError`           yes
HTTP 429, no envelope        :class:`GraphThrottleError`            yes
2xx, body not expected JSON  :class:`GraphBadResponseError`         yes
timeout, dropped connection  :class:`GraphConnectionError`          yes
===========================  =====================================  ==========================

Messages never contain a token: :func:`scrub` removes the secrets the hook knows, anything shaped like a
credential (an echoed ``Authorization`` header, ``access_token=...``, a JSON ``"access_token": "..."``) and
any query string; :func:`excerpt` scrubs a whole text before cutting it, so that a cut never leaves a piece of
a token that the scrubber could no longer recognise.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from collections.abc import Iterable

    import requests

TRANSIENT_CODES = frozenset({1, 2})
APP_THROTTLE_CODES = frozenset({4, 17, 32, 341, 613})
BUC_THROTTLE_CODES = frozenset({*range(80000, 80010), 80014})
THROTTLE_CODES = APP_THROTTLE_CODES | BUC_THROTTLE_CODES
PERMISSION_CODES = frozenset({10, *range(200, 300)})
AUTH_CODE = 190
INVALID_PARAMETER_CODE = 100
POLICY_BLOCK_CODE = 368
DUPLICATE_CODE = 506

SNIPPET_CHARS = 200
REDACTED = "***"
# Below this length a piece of a secret is not worth hunting at the edges of a text (see _edge_fragments).
_MIN_FRAGMENT = 8

# Parameter and field names whose value is a credential, wherever they appear (query, form, JSON, repr).
_CREDENTIAL_NAMES = (
    r"access_token|appsecret_proof|input_token|client_secret|fb_exchange_token|refresh_token|app_secret"
)
# name=value in a query string or form body (page_access_token= too), also percent-encoded (a proxy echoing
# an encoded URL).
_CREDENTIAL_PARAM = re.compile(rf"({_CREDENTIAL_NAMES})(=|%3D)[^&\s'\"<>,;)}}\]]+", re.IGNORECASE)
# "name": "value" in JSON, 'name': 'value' in a Python repr (a dict of headers or parameters).
_CREDENTIAL_FIELD = re.compile(
    rf"""(["']?(?:{_CREDENTIAL_NAMES}|authorization|proxy-authorization)["']?\s*:\s*)(["'])(?:(?!\2).)*""",
    re.IGNORECASE,
)
# An echoed header line: "Authorization: OAuth <token>", "Proxy-Authorization: Basic <...>".
_AUTHORIZATION_HEADER = re.compile(
    r"\b((?:proxy-)?authorization\s*[:=]\s*)(?:(bearer|oauth|basic|token)\s+)?[^\s'\"<>,;]+", re.IGNORECASE
)
# A bare scheme and credential ("Bearer <token>"); 16 characters at least, so that prose such as "OAuth
# access token" and Graph's "OAuthException" are left alone.
_SCHEME_CREDENTIAL = re.compile(r"\b(bearer|oauth)(\s+)[A-Za-z0-9._~+/=|-]{16,}", re.IGNORECASE)
# user:password@ in a URL (a database or webhook URI quoted by a driver's error).
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^\s/:@'\"<>]*:)[^\s/@'\"<>]+@", re.IGNORECASE)
# A query string has at least one name=value pair; a lone "?" (prose, SQL placeholders) is left alone.
_QUERY = re.compile(r"\?[^\s'\"<>)=?]*=[^\s'\"<>)]*")
_TAGS = re.compile(r"<[^>]*>")


class GraphAPIError(Exception):
    """A Graph API call failed: base class of every error the hook raises for an answer or transport failure.

    :ivar http_status: HTTP status of the answer (``None`` when no answer arrived).
    :ivar code: Graph error ``code`` (``None`` when the body had no error envelope).
    :ivar error_subcode: Graph ``error_subcode``, if any.
    :ivar type: Graph error ``type`` (``OAuthException``, ...), if any.
    :ivar message: Graph's message, or a description of what arrived instead.
    :ivar fbtrace_id: Meta's trace id: quote it to Meta support.
    :ivar is_transient: Graph's ``is_transient`` flag (or the hook's verdict for answers without an envelope).
    :ivar retryable: True when the same call may succeed later (throttling, transient, network); False when a
        person must act first. Operators raise for Airflow to retry on True and fail the task on False.
    :ivar method: HTTP method of the call; ``path``: its path (no query string, no credentials).
    :ivar outcome_unknown: True when a write may have reached the server and its effect is unknown.
    """

    default_retryable = False
    hint = ""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        error_subcode: int | None = None,
        type: str | None = None,  # Graph's own name for the field
        fbtrace_id: str | None = None,
        is_transient: bool = False,
        retryable: bool | None = None,
        method: str | None = None,
        path: str | None = None,
        error_user_title: str | None = None,
        error_user_msg: str | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        self.message = message
        self.http_status = http_status
        self.code = code
        self.error_subcode = error_subcode
        self.type = type
        self.fbtrace_id = fbtrace_id
        self.is_transient = is_transient
        self.retryable = self.default_retryable if retryable is None else retryable
        self.method = method
        self.path = path
        self.error_user_title = error_user_title
        self.error_user_msg = error_user_msg
        self.outcome_unknown = outcome_unknown
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"{self.method} {self.path}" if self.method and self.path else "Graph API call"
        facts = []
        if self.http_status is not None:
            facts.append(f"HTTP {self.http_status}")
        if self.code is not None:
            facts.append(f"code {self.code}")
        if self.error_subcode is not None:
            facts.append(f"subcode {self.error_subcode}")
        if self.type:
            facts.append(self.type)
        if self.fbtrace_id:
            facts.append(f"fbtrace_id {self.fbtrace_id}")
        text = f"{where} failed"
        if facts:
            text += f" ({', '.join(facts)})"
        text += f": {self.message}"
        if self.error_user_msg and self.error_user_msg not in self.message:
            text += f" | {self.error_user_msg}"
        text += " [retryable]" if self.retryable else " [not retryable]"
        if self.hint:
            text += f" {self.hint}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep every attribute across pickling (Airflow may pickle exceptions between processes).
        return (_rebuild, (type(self), self.message, self._state()))

    def _state(self) -> dict[str, Any]:
        return {
            "http_status": self.http_status,
            "code": self.code,
            "error_subcode": self.error_subcode,
            "type": self.type,
            "fbtrace_id": self.fbtrace_id,
            "is_transient": self.is_transient,
            "retryable": self.retryable,
            "method": self.method,
            "path": self.path,
            "error_user_title": self.error_user_title,
            "error_user_msg": self.error_user_msg,
            "outcome_unknown": self.outcome_unknown,
        }


def _rebuild(cls: type[GraphAPIError], message: str, state: dict[str, Any]) -> GraphAPIError:
    return cls(message, **state)


_Unknown = TypeVar("_Unknown", bound=GraphAPIError)


class GraphTransientError(GraphAPIError):
    """Meta's temporary failure (codes 1, 2, ``is_transient``) or an HTTP 5xx: retry with backoff."""

    default_retryable = True


class GraphThrottleError(GraphAPIError):
    """A rate limit was hit.

    ``wait_seconds`` is how long Meta asked to wait (or the hook's estimate), when known.
    """

    default_retryable = True
    hint = "Meta asks callers to stop calling until the limit resets; the task may be retried after the wait."

    def __init__(self, message: str, *, wait_seconds: float | None = None, **kwargs: Any) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(message, **kwargs)

    def _describe(self) -> str:
        text = super()._describe()
        if self.wait_seconds is not None:
            text += f" Wait about {self.wait_seconds:.0f}s."
        return text

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "wait_seconds": self.wait_seconds}


class GraphAuthError(GraphAPIError):
    """Code 190: the access token is invalid, expired or revoked."""

    hint = (
        "Replace the access token in the connection (a system-user token is the choice for scheduled jobs)."
    )


class GraphPermissionError(GraphAPIError):
    """Codes 10, 200-299 or HTTP 403: the token lacks a permission or the object is not the caller's."""

    hint = "Grant the missing permission or use the owner's token (ad codes need the media owner's token)."


class GraphInvalidParameterError(GraphAPIError):
    """Code 100: Graph rejected a parameter."""


class GraphDuplicateError(GraphAPIError):
    """Code 506: duplicate post."""


class GraphPolicyBlockError(GraphAPIError):
    """Code 368: temporarily blocked for policy reasons. Not retried: continuing extends the block."""

    hint = "A person must review the account before calling again."


class GraphBadResponseError(GraphAPIError):
    """A 2xx answer whose body is not the expected JSON (an HTML page from a proxy, a truncated body, ...)."""

    default_retryable = True


class GraphConnectionError(GraphAPIError):
    """No answer: timeout, refused or dropped connection. ``request_sent`` tells whether the request left."""

    default_retryable = True

    def __init__(self, message: str, *, request_sent: bool = True, **kwargs: Any) -> None:
        self.request_sent = request_sent
        super().__init__(message, **kwargs)

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "request_sent": self.request_sent}


class AdCodeOutcomeUnknownError(GraphAPIError):
    """A ``POST .../partnership_ad_code`` may have created a code, and the hook could not find out.

    Raised instead of posting again (a second POST may rotate the code and invalidate the first). Retryable:
    on the next try, look the media up (``DiscoveryScope.find_ad_code``) before posting.
    """

    default_retryable = True
    hint = "Look the media up through the brand's discovery before posting again."


class AdObjectOutcomeUnknownError(GraphAPIError):
    """A ``POST /act_{id}/adcreatives`` or ``/ads`` may have created its object; the hook could not find out.

    Raised instead of posting again (a second POST would create a second creative or ad). Retryable: on the
    next try, look the object up by its name (``find_ad_creative_by_name`` / ``find_ad_by_name``) first.
    """

    default_retryable = True
    hint = "Look the creative or ad up by its name before posting again."


def restated_as_outcome_unknown(error: GraphAPIError, cls: type[_Unknown], message: str) -> _Unknown:
    """``error`` restated as ``cls`` (an outcome-unknown error) with ``message``: Graph's fields kept, the
    outcome marked unknown."""
    return cls(
        message,
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


def error_label(error: GraphAPIError) -> str:
    """A short name of an error for a log line: ``code 80002/2446079``, ``HTTP 502`` or the class name."""
    if error.code is not None:
        return f"code {error.code}" + (f"/{error.error_subcode}" if error.error_subcode is not None else "")
    if error.http_status is not None:
        return f"HTTP {error.http_status}"
    return type(error).__name__


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove known secrets, credential-shaped values and query strings from ``text``.

    Each known secret is removed as is and percent-encoded, and so is a piece of one (8 characters or more) at
    the very start or end of ``text`` (a body someone else cut short). Values that look like credentials are
    removed even when no secret is known: an echoed ``Authorization`` header or bare ``Bearer``/``OAuth``
    credential, ``access_token=``, ``appsecret_proof=``, ``input_token=``, ``client_secret=`` (and the like)
    in a query string or form body, the same names as JSON or repr fields, and a URL's ``user:password@``.

    Scrub a text whole, before cutting it (use :func:`excerpt`): a cut can fall inside a secret, and the piece
    left is matched neither as a known secret nor, once its name is cut off, by shape.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
        text = _edge_fragments(text, secret)
    text = _CREDENTIAL_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _AUTHORIZATION_HEADER.sub(
        lambda m: f"{m.group(1)}{m.group(2) + ' ' if m.group(2) else ''}{REDACTED}", text
    )
    text = _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    return _QUERY.sub("?<query redacted>", text)


def _edge_fragments(text: str, secret: str) -> str:
    """Remove the longest head of ``secret`` that ends ``text`` and the longest tail that starts it."""
    for size in range(min(len(secret) - 1, len(text)), _MIN_FRAGMENT - 1, -1):
        if text.endswith(secret[:size]):
            text = text[:-size] + REDACTED
            break
    for size in range(min(len(secret) - 1, len(text)), _MIN_FRAGMENT - 1, -1):
        if text.startswith(secret[-size:]):
            text = REDACTED + text[size:]
            break
    return text


def excerpt(text: str, secrets: Iterable[str] = (), limit: int = SNIPPET_CHARS) -> str:
    """``text`` scrubbed whole (see :func:`scrub`), then cut to at most ``limit`` characters.

    A cut is marked by a trailing ``...``.
    """
    text = scrub(text, secrets)
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def describe_error(exc: BaseException) -> str:
    """An error for a task log and the ledger: class, Graph code/subcode/fbtrace_id, message (no secrets).

    At most 500 characters, scrubbed whole before the cut: a cut inside a credential would leave a piece that
    no rule recognises (any exception may land here, not only the hook's already scrubbed ones).
    """
    parts = [type(exc).__name__]
    for attr in ("http_status", "code", "error_subcode", "fbtrace_id"):
        value = getattr(exc, attr, None)
        if value is not None:
            parts.append(f"{attr}={value}")
    message = getattr(exc, "message", None) or str(exc)
    return excerpt(f"{' '.join(parts)}: {message}", limit=500)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _snippet(response: requests.Response, secrets: Iterable[str]) -> str:
    text = response.text if response.content else ""
    text = " ".join(_TAGS.sub(" ", text).split())
    if not text:
        return "empty body"
    return excerpt(text, secrets)


def error_from_envelope(
    envelope: dict[str, Any],
    *,
    http_status: int | None,
    method: str | None,
    path: str | None,
    secrets: Iterable[str] = (),
    wait_seconds: float | None = None,
) -> GraphAPIError:
    """Build the right :class:`GraphAPIError` subclass from Graph's ``{"error": {...}}`` envelope."""
    code = _as_int(envelope.get("code"))
    subcode = _as_int(envelope.get("error_subcode"))
    is_transient = envelope.get("is_transient") is True
    message = scrub(str(envelope.get("message") or "no message"), secrets)
    kwargs: dict[str, Any] = {
        "http_status": http_status,
        "code": code,
        "error_subcode": subcode,
        # Whoever wrote the envelope (a proxy, a gateway) may have put anything in it: scrub every text.
        "type": scrub(str(envelope["type"]), secrets) if envelope.get("type") else None,
        "fbtrace_id": scrub(str(envelope["fbtrace_id"]), secrets) if envelope.get("fbtrace_id") else None,
        "is_transient": is_transient,
        "method": method,
        "path": path,
        "error_user_title": scrub(str(envelope["error_user_title"]), secrets)
        if envelope.get("error_user_title")
        else None,
        "error_user_msg": scrub(str(envelope["error_user_msg"]), secrets)
        if envelope.get("error_user_msg")
        else None,
    }
    if code in THROTTLE_CODES:
        return GraphThrottleError(message, wait_seconds=wait_seconds, **kwargs)
    if code == AUTH_CODE:
        return GraphAuthError(message, **kwargs)
    if code == POLICY_BLOCK_CODE:
        return GraphPolicyBlockError(message, **kwargs)
    if code in TRANSIENT_CODES or is_transient:
        return GraphTransientError(message, **kwargs)
    if code == INVALID_PARAMETER_CODE:
        return GraphInvalidParameterError(message, **kwargs)
    if code in PERMISSION_CODES:
        return GraphPermissionError(message, **kwargs)
    if code == DUPLICATE_CODE:
        return GraphDuplicateError(message, **kwargs)
    if http_status is not None and http_status >= 500:
        return GraphTransientError(message, **kwargs)
    if http_status == 429:
        return GraphThrottleError(message, wait_seconds=wait_seconds, **kwargs)
    if http_status == 403:
        return GraphPermissionError(message, **kwargs)
    return GraphAPIError(message, **kwargs)


def classify_response(
    response: requests.Response,
    *,
    method: str,
    path: str,
    secrets: Iterable[str] = (),
    wait_seconds: float | None = None,
) -> tuple[dict[str, Any] | None, GraphAPIError | None]:
    """Return ``(body, None)`` for a 2xx JSON object answer, else ``(None, error)``.

    A 2xx answer counts as success only if its body parses as a JSON object without an ``error`` key; anything
    else (HTML, a truncated body, a list, an error envelope sent with 200) is an error.
    """
    status = response.status_code
    content_type = response.headers.get("content-type", "")
    try:
        body: Any = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return None, error_from_envelope(
            body["error"],
            http_status=status,
            method=method,
            path=path,
            secrets=secrets,
            wait_seconds=wait_seconds,
        )
    if 200 <= status < 300:
        if isinstance(body, dict):
            return body, None
        what = (
            "a JSON " + type(body).__name__
            if body is not None
            else f"a non-JSON body ({content_type or '?'})"
        )
        return None, GraphBadResponseError(
            f"HTTP {status} answer with {what} instead of a JSON object: {_snippet(response, secrets)}",
            http_status=status,
            is_transient=True,
            method=method,
            path=path,
        )
    description = f"HTTP {status} without a Graph error envelope ({content_type or 'no content type'}): "
    description += _snippet(response, secrets)
    common: dict[str, Any] = {"http_status": status, "method": method, "path": path}
    if status == 429:
        return None, GraphThrottleError(description, wait_seconds=wait_seconds, is_transient=True, **common)
    if status >= 500:
        return None, GraphTransientError(description, is_transient=True, **common)
    if status in (401,):
        return None, GraphAuthError(description, **common)
    if status == 403:
        return None, GraphPermissionError(description, **common)
    return None, GraphAPIError(description, **common)
