"""File names built from ids the pipeline does not control (run ids, business ids)."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(value: str) -> str:
    """A file-name-safe form of a run id or business id: runs of other characters become ``_``."""
    return _UNSAFE.sub("_", value).strip("_") or "run"
