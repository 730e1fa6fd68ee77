"""Where the files sink may write: the deployment's output folder, its root for trigger overrides, the allowed
URL schemes, and the rule that a trigger's ``output_uri`` resolves inside that root (issue 11).

Pure functions: deployment settings come in through ``get_variable`` and ``environ``. Used by the run's first
task (:func:`check_output_uri`), the push task and the files sink (defence in depth).
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from partnership_ads.dag_settings import (
    DEFAULT_OUTPUT_SCHEMES,
    MAX_OUTPUT_URI_LENGTH,
    OUTPUT_ROOT_ENV,
    OUTPUT_ROOT_VARIABLE,
    OUTPUT_SCHEMES_ENV,
    OUTPUT_SCHEMES_VARIABLE,
    OUTPUT_URI_ENV,
    OUTPUT_URI_VARIABLE,
)
from partnership_ads.deployment import deployment_setting, given

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _setting(
    variable: str, env: str, *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> str | None:
    return deployment_setting(variable, env, get_variable=get_variable, environ=environ)[0]


def configured_output_uri(
    *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> str | None:
    """The files sink's configured folder: Variable ``partnership_ads_output_uri``, else env, else None."""
    return _setting(OUTPUT_URI_VARIABLE, OUTPUT_URI_ENV, get_variable=get_variable, environ=environ)


def output_root(*, get_variable: Callable[[str], str | None], environ: Mapping[str, str]) -> str | None:
    """Where a trigger's ``output_uri`` may write: Variable ``partnership_ads_output_root``, else env
    ``PARTNERSHIP_ADS_OUTPUT_ROOT``, else the configured output_uri (so a trigger may pick a sub-folder of
    the deployment's own output folder), else None (no override allowed)."""
    return _setting(
        OUTPUT_ROOT_VARIABLE, OUTPUT_ROOT_ENV, get_variable=get_variable, environ=environ
    ) or configured_output_uri(get_variable=get_variable, environ=environ)


def output_schemes(
    *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> frozenset[str]:
    """URL schemes a trigger's ``output_uri`` may use: Variable ``partnership_ads_output_schemes``, else env
    ``PARTNERSHIP_ADS_OUTPUT_SCHEMES`` (comma-separated, e.g. ``file,s3``), else ``file`` only.

    :raises ValueError: a listed scheme that is not a URL scheme.
    """
    raw = _setting(OUTPUT_SCHEMES_VARIABLE, OUTPUT_SCHEMES_ENV, get_variable=get_variable, environ=environ)
    if raw is None:
        return DEFAULT_OUTPUT_SCHEMES
    schemes = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    bad = sorted(s for s in schemes if not _SCHEME.match(s))
    if bad or not schemes:
        raise ValueError(
            f"output_uri: the deployment setting {OUTPUT_SCHEMES_VARIABLE} / {OUTPUT_SCHEMES_ENV} must "
            f"list URL schemes separated by commas (e.g. file,s3), got {raw[:100]!r}"
        )
    return schemes


@dataclass(frozen=True)
class _Location:
    scheme: str  # "file" for a local path
    netloc: str
    path: str  # local: absolute and resolved; remote: "/" + normalised key prefix, no trailing "/"

    def __str__(self) -> str:
        return self.path if self.scheme == "file" else f"{self.scheme}://{self.netloc}{self.path}"

    def contains(self, other: _Location) -> bool:
        if (self.scheme, self.netloc) != (other.scheme, other.netloc):
            return False
        if self.scheme == "file":
            return other.path == self.path or os.path.commonpath([self.path, other.path]) == self.path
        return other.path == self.path or other.path.startswith(self.path.rstrip("/") + "/")


def _split(uri: str, *, trusted: bool) -> tuple[str, str, str]:
    """``(scheme, netloc, path)`` of a location; scheme ``file`` for a plain path. Refuses what cannot be
    resolved safely (control characters, a file URL naming another host, a query or fragment)."""
    if _CONTROL.search(uri):
        raise ValueError("output_uri: contains a NUL or another control character")
    if _URL.match(uri) or uri.lower().startswith("file:"):
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        path = unquote(parts.path)
        if _CONTROL.search(path):
            raise ValueError("output_uri: contains an encoded NUL or another control character")
        if parts.query or parts.fragment:
            raise ValueError(f"output_uri: {uri!r} carries a query or fragment; give a plain folder")
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise ValueError(f"output_uri: {uri!r} names another host; a file URL must be local")
            return "file", "", path
        return scheme, parts.netloc, path
    if not trusted and uri.startswith("~"):
        raise ValueError(f"output_uri: {uri!r}: '~' is not expanded; give a path inside the output root")
    return "file", "", os.path.expanduser(uri) if trusted else uri


def _remote_path(path: str, uri: str) -> str:
    segments = [segment for segment in path.split("/") if segment]
    if any(segment in (".", "..") for segment in segments):
        raise ValueError(f"output_uri: {uri!r} contains '.' or '..' segments; give the folder itself")
    return "/" + "/".join(segments)


def _location(uri: str, *, trusted: bool, base: _Location | None = None) -> _Location:
    scheme, netloc, path = _split(uri, trusted=trusted)
    relative = scheme == "file" and not netloc and not os.path.isabs(path) and base is not None
    if relative and base is not None:
        if base.scheme == "file":
            return _Location("file", "", os.path.realpath(os.path.join(base.path, path)))
        return _Location(base.scheme, base.netloc, _remote_path(posixpath.join(base.path, path), uri))
    if scheme == "file":
        # realpath resolves "..", and every symbolic link that exists now (so a link out of the root is seen).
        return _Location("file", "", os.path.realpath(os.path.abspath(path)))
    return _Location(scheme, netloc, _remote_path(path, uri))


def canonical_location(uri: str) -> str:
    """The resolved form of a deployment-configured folder (a local path made absolute with links resolved,
    ``~`` expanded; a URL with its key prefix normalised). The outbox keys the files sink by it."""
    return str(_location(uri, trusted=True))


def is_inside(location: str, root: str) -> bool:
    """Whether ``location`` resolves (now, links included) to ``root`` or a folder below it."""
    return _location(root, trusted=True).contains(_location(location, trusted=True))


def resolve_output_uri(value: Any, *, root: str | None, schemes: Collection[str]) -> str:
    """Check a trigger's ``output_uri``; return the folder it resolves to (:func:`canonical_location` form).

    A relative path is taken below ``root``; an absolute path or URL must resolve to ``root`` or below it
    (``..`` and symbolic links resolved first), with a scheme in ``schemes`` (a plain path is ``file``).

    :raises ValueError: ``"output_uri: ..."`` naming what is wrong and the setting to change.
    """
    if not isinstance(value, str):
        raise ValueError(f"output_uri: must be a path or URL string, got a {type(value).__name__}")
    if len(value) > MAX_OUTPUT_URI_LENGTH:
        raise ValueError(f"output_uri: at most {MAX_OUTPUT_URI_LENGTH} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise ValueError("output_uri: contains a NUL or another control character")
    if not value.strip():
        raise ValueError("output_uri: empty; leave it unset to use the deployment's output folder")
    if root is None:
        raise ValueError(
            "output_uri: this deployment sets no output root, so a trigger may not choose where files go. "
            f"Leave output_uri empty, or set the Variable {OUTPUT_ROOT_VARIABLE} (env {OUTPUT_ROOT_ENV}) or "
            f"{OUTPUT_URI_VARIABLE} (env {OUTPUT_URI_ENV})"
        )
    base = _location(root, trusted=True)
    location = _location(value.strip(), trusted=False, base=base)
    if location.scheme not in schemes:
        raise ValueError(
            f"output_uri: scheme {location.scheme!r} is not allowed here (allowed: "
            f"{', '.join(sorted(schemes))}); the deployment lists them in {OUTPUT_SCHEMES_VARIABLE} / "
            f"{OUTPUT_SCHEMES_ENV}"
        )
    if not base.contains(location):
        raise ValueError(
            f"output_uri: {value!r} resolves to {location}, outside the output root {base}; give a folder "
            f"inside it (a relative path is taken below it). The root is the Variable {OUTPUT_ROOT_VARIABLE} "
            f"(env {OUTPUT_ROOT_ENV}), else {OUTPUT_URI_VARIABLE}"
        )
    return str(location)


def check_output_uri(
    params: Mapping[str, Any], *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> str | None:
    """:func:`resolve_output_uri` on the trigger's ``output_uri`` with the deployment's root and schemes;
    None when the trigger leaves it empty (the configured folder is used)."""
    value = params.get("output_uri")
    if not given(value):
        return None
    return resolve_output_uri(
        value,
        root=output_root(get_variable=get_variable, environ=environ),
        schemes=output_schemes(get_variable=get_variable, environ=environ),
    )
