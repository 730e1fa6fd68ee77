"""Credentials on the wire: the access token's transport and ``appsecret_proof``.

``appsecret_proof`` is ``hex(HMAC-SHA256(key=app_secret, msg=access_token))``. The time-stamped form hashes
``access_token + "|" + unix_time`` and travels with ``appsecret_time=<unix_time>``; Meta rejects it after five
minutes, so the hook computes a fresh one for every request, every page included.

Token transports (connection extra ``token_transport``):

- ``header`` (default): ``Authorization: OAuth <token>``. The token never appears in a URL, so no proxy log,
  ``requests`` debug line or exception text built from a URL can carry it.
- ``query``: ``access_token=<token>`` in the query string (what Meta's SDK does). URLs then carry the token:
  the hook never logs URLs, but proxies may.
- ``form``: ``access_token`` in the form body of POST and DELETE; GET has no body, so GETs fall back to the
  ``header`` transport.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from partnership_ads.graph.defaults import TOKEN_TRANSPORTS

__all__ = ["TOKEN_TRANSPORTS", "Credentials", "appsecret_proof", "place_credentials"]


def appsecret_proof(access_token: str, app_secret: str, unix_time: int | None = None) -> dict[str, str]:
    """The proof parameters: ``appsecret_proof``, plus ``appsecret_time`` when ``unix_time`` is given."""
    message = access_token if unix_time is None else f"{access_token}|{unix_time}"
    proof = hmac.new(app_secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()
    if unix_time is None:
        return {"appsecret_proof": proof}
    return {"appsecret_proof": proof, "appsecret_time": str(unix_time)}


@dataclass(frozen=True)
class Credentials:
    """Where each credential goes for one request."""

    headers: dict[str, str]
    query: dict[str, str]
    form: dict[str, str]


def place_credentials(
    method: str,
    access_token: str,
    transport: str,
    *,
    app_secret: str | None = None,
    time_proof: bool = True,
    unix_time: int | None = None,
) -> Credentials:
    """Return the headers, query and form parameters that carry the credentials of one request.

    The proof (not a secret on its own: it cannot be reversed into the token) goes in the query string for
    every method, so that it reaches the server whatever the body encoding.
    """
    if transport not in TOKEN_TRANSPORTS:
        raise ValueError(f"token_transport: must be one of {', '.join(TOKEN_TRANSPORTS)}, got {transport!r}")
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    form: dict[str, str] = {}
    has_body = method.upper() in ("POST", "DELETE", "PUT", "PATCH")
    if transport == "query":
        query["access_token"] = access_token
    elif transport == "form" and has_body:
        form["access_token"] = access_token
    else:
        headers["Authorization"] = f"OAuth {access_token}"
    if app_secret:
        if time_proof and unix_time is None:
            raise ValueError("unix_time is required for the time-stamped appsecret_proof")
        query.update(appsecret_proof(access_token, app_secret, unix_time if time_proof else None))
    return Credentials(headers=headers, query=query, form=form)
