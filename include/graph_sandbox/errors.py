"""Meta's error envelope, and the errors the sandbox raises (one constructor per situation)."""

from __future__ import annotations

import secrets
import string
from typing import Any

_TRACE_ALPHABET = string.ascii_letters + string.digits + "-_"
_DOCS = "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"


class GraphError(Exception):
    """An error the sandbox answers with Meta's envelope: `{"error": {...}}` and an HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        type_: str = "OAuthException",
        subcode: int | None = None,
        is_transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.type = type_
        self.subcode = subcode
        self.is_transient = is_transient
        self.user_title = user_title
        self.user_msg = user_msg
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.is_transient
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}


def fbtrace_id() -> str:
    """A random-looking trace id like Meta's (`A1b2C3...`)."""
    return "A" + "".join(secrets.choice(_TRACE_ALPHABET) for _ in range(22))


def invalid_param(message: str, subcode: int | None = None) -> GraphError:
    """(#100) invalid parameter, HTTP 400."""
    return GraphError(f"(#100) {message}", code=100, subcode=subcode)


def unsupported_request(method: str, object_id: str) -> GraphError:
    """The answer for an object id that does not exist or cannot be used with this edge."""
    return GraphError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        f"cannot be loaded due to missing permissions, or does not support this operation. {_DOCS}",
        code=100,
        subcode=33,
        type_="GraphMethodException",
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(f"Unknown path components: {path}", code=2500)


def permission_denied(message: str, code: int = 10) -> GraphError:
    """(#10) / (#200) permission errors, HTTP 403."""
    return GraphError(f"(#{code}) {message}", code=code, status=403)


def token_missing() -> GraphError:
    return GraphError("An access token is required to request this resource.", code=104)


def token_malformed() -> GraphError:
    return GraphError("Invalid OAuth access token - Cannot parse access token", code=190)


def token_invalid() -> GraphError:
    return GraphError(
        "Error validating access token: The session has been invalidated because the user changed their "
        "password or Facebook has changed the session for security reasons.",
        code=190,
        subcode=467,
    )


def token_expired(when: str, now: str | None = None) -> GraphError:
    current = f" The current time is {now}." if now else ""
    return GraphError(
        f"Error validating access token: Session has expired on {when}.{current}", code=190, subcode=463
    )


def token_session_invalidated() -> GraphError:
    """190/460: the session was invalidated (password change, security reset)."""
    return GraphError(
        "Error validating access token: The session has been invalidated because the user changed their "
        "password or Facebook has changed the session for security reasons.",
        code=190,
        subcode=460,
    )


def token_deauthorised(app_id: str) -> GraphError:
    """190/458: the user removed the app (de-authorised it)."""
    return GraphError(
        f"Error validating access token: The user has not authorized application {app_id}.",
        code=190,
        subcode=458,
    )


def app_token_invalid() -> GraphError:
    """An app access token (`<app_id>|<app_secret>`) whose app is unknown or whose secret is wrong."""
    return GraphError("Invalid OAuth access token signature.", code=190)


def debug_token_other_app() -> GraphError:
    """debug_token called with a token of another app than the inspected token's."""
    return GraphError("(#100) The App_id in the input_token did not match the Viewing App", code=100)


def appsecret_proof_missing() -> GraphError:
    return GraphError(
        "API calls from the server require an appsecret_proof argument",
        code=100,
        type_="GraphMethodException",
    )


def appsecret_proof_invalid(reason: str = "") -> GraphError:
    suffix = f": {reason}" if reason else ""
    return GraphError(
        f"Invalid appsecret_proof provided in the API argument{suffix}",
        code=100,
        type_="GraphMethodException",
    )


def throttled(code: int, status: int, headers: dict[str, str]) -> GraphError:
    """The business use case (BUC) rate-limit error."""
    return GraphError(
        f"(#{code}) There have been too many calls from this account. Wait a bit and try again. "
        "For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        code=code,
        status=status,
        subcode=2446079,
        is_transient=True,
        headers=headers,
    )


def transient(code: int = 2) -> GraphError:
    if code == 1:
        return GraphError("An unknown error occurred", code=1, status=500, subcode=99, is_transient=True)
    return GraphError(
        "An unexpected error has occurred. Please retry your request later.",
        code=code,
        status=500,
        is_transient=True,
    )
