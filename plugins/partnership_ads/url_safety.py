"""URLs and locations shown to people or to lineage consumers, without credentials.

A files sink's location may be an ``ObjectStoragePath`` URL and a webhook's host a URL; either could carry
``user:password@`` or a signed query string. Whatever leaves the pipeline for display (the plugin page) or for
a lineage backend goes through :func:`without_credentials`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def without_credentials(location: str) -> str:
    """``location`` with any user info, query string and fragment removed (a plain path is returned as is)."""
    if "://" not in location:
        return location
    parts = urlsplit(location)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
