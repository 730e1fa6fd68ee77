"""The token edge, ``GET /debug_token?input_token=...``: what Meta says about an access token.

:class:`Tokens` is exposed by the hook as ``hook.tokens``; the hook's ``inspect_token`` delegates to it. The
caller is the app access token ``app_id|app_secret`` when the connection carries both extras (Meta's
recommended way: it reads any token of the app, expired ones included), else the connection's token itself.

``input_token`` travels in the query string by Meta's design, so the token is in the URL of this one call.
The hook never logs URLs, urllib3's debug lines lose their query string
(:func:`partnership_ads.graph.session.install_url_redaction`), every error text is scrubbed of the
connection's secrets and of ``input_token=`` by shape (:func:`partnership_ads.graph.errors.scrub`), and the
app token is registered with Airflow's masker before it is used.

A self-inspecting token that is itself expired or invalidated is refused by Meta with its 190 error; that
answer is a finding about the token, not a failure, and comes back as an invalid :class:`TokenInfo`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from partnership_ads.graph.auth import place_credentials
from partnership_ads.graph.errors import AUTH_CODE, GraphAPIError, GraphAuthError, describe_error, scrub
from partnership_ads.graph.session import MAX_BATCH_REQUESTS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from partnership_ads.hooks import PartnershipAdsHook

DEBUG_TOKEN_PATH = "debug_token"  # noqa: S105 - a path, not a secret


@dataclass(frozen=True)
class TokenInfo:
    """What debug_token reported about a token: never the token itself.

    Times are unix seconds; ``expires_at`` None means the token never expires (Meta's 0).
    ``granular_scopes`` maps a scope to the ids it is limited to; a scope absent from it applies to every
    object. ``error_code``/``error_subcode``/``error_message`` explain an invalid token (190 with 463
    expired, 460 session invalidated, 458 app removed).
    """

    is_valid: bool
    scopes: tuple[str, ...] = ()
    granular_scopes: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    expires_at: float | None = None
    data_access_expires_at: float | None = None
    issued_at: float | None = None
    app_id: str | None = None
    type: str | None = None
    user_id: str | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    error_message: str | None = None
    #: Whether the app token inspected it (else the token inspected itself).
    by_app_token: bool = False

    @classmethod
    def from_data(cls, data: dict[str, Any], *, by_app_token: bool) -> TokenInfo:
        """Read debug_token's ``data`` object (missing or mistyped fields read as absent)."""

        def when(name: str) -> float | None:
            value = data.get(name)
            return (
                float(value)
                if isinstance(value, int | float) and not isinstance(value, bool) and value
                else None
            )

        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        granular: dict[str, tuple[str, ...]] = {}
        for entry in data.get("granular_scopes") or []:
            if isinstance(entry, dict) and isinstance(entry.get("scope"), str):
                targets = entry.get("target_ids")
                if isinstance(targets, list):
                    granular[entry["scope"]] = tuple(str(t) for t in targets)
        code = error.get("code")
        subcode = error.get("subcode", error.get("error_subcode"))
        return cls(
            is_valid=data.get("is_valid") is True,
            scopes=tuple(str(s) for s in data.get("scopes") or [] if isinstance(s, str)),
            granular_scopes=granular,
            expires_at=when("expires_at"),
            data_access_expires_at=when("data_access_expires_at"),
            issued_at=when("issued_at"),
            app_id=str(data["app_id"]) if data.get("app_id") else None,
            type=str(data["type"]) if data.get("type") else None,
            user_id=str(data["user_id"]) if data.get("user_id") else None,
            error_code=int(code) if isinstance(code, int) else None,
            error_subcode=int(subcode) if isinstance(subcode, int) else None,
            error_message=str(error["message"]) if isinstance(error.get("message"), str) else None,
            by_app_token=by_app_token,
        )


def expect_token_data(body: dict[str, Any]) -> str | None:
    """What a debug_token answer lacks (``None`` when it carries a ``data`` object)."""
    return None if isinstance(body.get("data"), dict) else "a JSON object with a 'data' object"


@dataclass(frozen=True)
class DebugTokenRequest:
    """One connection's debug_token call as a sub-request of a batch (:func:`inspect_batched`)."""

    #: ``{"method": "GET", "relative_url": "debug_token?input_token=...&access_token=..."}``.
    request: dict[str, str]
    #: The token, app secret and app token it carries: kept out of every error text.
    secrets: tuple[str, ...]
    by_app_token: bool


def token_info_of(answer: dict[str, Any] | None, request: DebugTokenRequest) -> TokenInfo | None:
    """What a batch sub-request's answer says about the token, as :meth:`Tokens.inspect` would read it.

    ``None`` when it gives no verdict (not finished, throttled, a server error, the app token refused...):
    that token is then inspected alone, with the usual retries and errors.
    """
    if answer is None:
        return None
    body = answer.get("body")
    if answer.get("code") == 200 and isinstance(body, dict) and expect_token_data(body) is None:
        return TokenInfo.from_data(body["data"], by_app_token=request.by_app_token)
    error = body.get("error") if isinstance(body, dict) else None
    if request.by_app_token or not isinstance(error, dict) or error.get("code") != AUTH_CODE:
        return None
    # The token inspecting itself was refused with its own 190: that is the finding (as in inspect).
    subcode = error.get("error_subcode")
    message = error.get("message")
    return TokenInfo(
        is_valid=False,
        error_code=AUTH_CODE,
        error_subcode=subcode if isinstance(subcode, int) else None,
        error_message=scrub(message, request.secrets) if isinstance(message, str) else None,
        by_app_token=False,
    )


def inspect_batched(via: PartnershipAdsHook, hooks: Sequence[PartnershipAdsHook]) -> list[TokenInfo | None]:
    """Inspect the tokens of many connections, :data:`MAX_BATCH_REQUESTS` per round trip (Meta's batch API).

    Each sub-request carries its own caller, as :meth:`Tokens.inspect` does alone (the app token when the
    connection has ``app_id`` and ``app_secret``, else the token itself with its ``appsecret_proof``); the
    batch is sent with ``via``'s connection, whose token is only the batch's own credential.

    :returns: each hook's :class:`TokenInfo` in order, or ``None`` where the batch gave no verdict (a
        sub-request that failed, or a batch that failed: logged as a warning). Inspect those alone.
    """
    found: list[TokenInfo | None] = []
    for start in range(0, len(hooks), MAX_BATCH_REQUESTS):
        chunk = [hook.tokens.as_batch_request() for hook in hooks[start : start + MAX_BATCH_REQUESTS]]
        try:
            answers = via.request_batch(
                [c.request for c in chunk], secrets=[secret for c in chunk for secret in c.secrets]
            )
        except GraphAPIError as exc:
            via.log.warning(
                "A batch of %d debug_token calls failed (%s); those tokens are inspected one by one",
                len(chunk),
                describe_error(exc),
            )
            found.extend([None] * len(chunk))
            continue
        found.extend(token_info_of(a, c) for a, c in zip(answers, chunk, strict=True))
    return found


class Tokens:
    """debug_token for the hook's own connection."""

    def __init__(self, hook: PartnershipAdsHook) -> None:
        self.hook = hook

    def as_batch_request(self) -> DebugTokenRequest:
        """This connection's debug_token call as a batch sub-request, with the caller :meth:`inspect` uses.

        The credentials travel inside the sub-request's ``relative_url``, which is itself in the batch's form
        body (never in a URL that is sent or logged).
        """
        from airflow.sdk.log import mask_secret

        settings = self.hook.settings
        app_token = settings.app_access_token
        if app_token:
            mask_secret(app_token)
            caller, secret = app_token, None
        else:
            caller, secret = settings.access_token, settings.app_secret
        credentials = place_credentials(
            "GET",
            caller,
            "query",
            app_secret=secret,
            time_proof=settings.app_secret_time_proof,
            unix_time=self.hook.unix_time(),
        )
        query = urlencode({"input_token": settings.access_token, **credentials.query})
        return DebugTokenRequest(
            request={"method": "GET", "relative_url": f"{DEBUG_TOKEN_PATH}?{query}"},
            secrets=tuple(s for s in (settings.access_token, settings.app_secret, app_token) if s),
            by_app_token=bool(app_token),
        )

    def inspect(self) -> TokenInfo:
        """Inspect the connection's token.

        :returns: the token's :class:`TokenInfo`; an invalid token (expired, invalidated, de-authorised,
            unknown) is ``is_valid=False`` with Meta's error code and subcode, not an exception.
        :raises GraphAPIError: when debug_token itself could not answer (network, throttle, a wrong app
            secret in the connection, a token of another app than ``app_id``'s).
        """
        from airflow.sdk.log import mask_secret

        settings = self.hook.settings
        app_token = settings.app_access_token
        caller = settings
        if app_token:
            mask_secret(app_token)
            # The app token needs no appsecret_proof; the inspected token stays among the secrets scrubbed.
            caller = dataclasses.replace(
                settings,
                access_token=app_token,
                app_secret=None,
                extra_secrets=tuple(s for s in (settings.access_token, settings.app_secret) if s),
            )
        try:
            answer = self.hook.request(
                "GET",
                DEBUG_TOKEN_PATH,
                params={"input_token": settings.access_token},
                expect=expect_token_data,
                settings=caller,
            )
        except GraphAuthError as exc:
            if app_token:
                # The app token itself was refused: the connection's app_id/app_secret are wrong.
                raise
            # The token inspecting itself is refused with its own 190: that is the finding.
            return TokenInfo(
                is_valid=False,
                error_code=exc.code or AUTH_CODE,
                error_subcode=exc.error_subcode,
                error_message=exc.message,
                by_app_token=False,
            )
        return TokenInfo.from_data(answer.body["data"], by_app_token=bool(app_token))
