"""Rate-limit usage headers, read on every answer (failed ones too).

- ``x-app-usage``: ``{"call_count": 28, "total_time": 25, "total_cputime": 25}``, percent of the hourly
  allowance.
- ``x-business-use-case-usage``: ``{"<business-object-id>": [{"type": "instagram", "call_count": 95, ...,
  "estimated_time_to_regain_access": 0}]}``, each id mapping to a list; the regain time is in minutes.
- ``x-ad-account-usage``: ``{"acc_id_util_pct": 9.67, "reset_time_duration": 100}``.

Malformed or missing headers are ignored: usage is advice, never a reason to fail a call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

_PERCENT_KEYS = ("call_count", "total_time", "total_cputime")


@dataclass(frozen=True)
class BucUsage:
    """One entry of ``x-business-use-case-usage``."""

    business_object_id: str
    type: str | None
    percent: float | None
    regain_minutes: float | None


@dataclass(frozen=True)
class Usage:
    """The usage reported by one answer."""

    app_percent: float | None = None
    buc: tuple[BucUsage, ...] = field(default_factory=tuple)
    ad_account_percent: float | None = None

    @property
    def max_percent(self) -> float | None:
        """The highest usage percentage over every bucket reported, or ``None`` when none was reported."""
        values = [value for value in (self.app_percent, self.ad_account_percent) if value is not None]
        values += [entry.percent for entry in self.buc if entry.percent is not None]
        return max(values) if values else None

    @property
    def regain_seconds(self) -> float | None:
        """The longest ``estimated_time_to_regain_access`` of the BUC entries, in seconds, or ``None``."""
        values = [entry.regain_minutes for entry in self.buc if entry.regain_minutes is not None]
        return max(values) * 60.0 if values else None

    def describe(self) -> str:
        """A short text for log lines, e.g. ``"42%"`` or ``"n/a"``."""
        percent = self.max_percent
        return "n/a" if percent is None else f"{percent:.0f}%"


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _load(headers: Mapping[str, str], name: str) -> Any:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _max_percent(entry: Mapping[str, Any]) -> float | None:
    values = [number for key in _PERCENT_KEYS if (number := _number(entry.get(key))) is not None]
    return max(values) if values else None


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """Parse the usage headers of one answer (``requests``' headers are case-insensitive)."""
    app = _load(headers, "x-app-usage")
    app_percent = _max_percent(app) if isinstance(app, dict) else None

    buc: list[BucUsage] = []
    raw_buc = _load(headers, "x-business-use-case-usage")
    if isinstance(raw_buc, dict):
        for object_id, entries in raw_buc.items():
            # Documented as a list; tolerate a single object too.
            for entry in entries if isinstance(entries, list) else [entries]:
                if not isinstance(entry, dict):
                    continue
                buc.append(
                    BucUsage(
                        business_object_id=str(object_id),
                        type=str(entry["type"]) if entry.get("type") is not None else None,
                        percent=_max_percent(entry),
                        regain_minutes=_number(entry.get("estimated_time_to_regain_access")),
                    )
                )

    account = _load(headers, "x-ad-account-usage")
    ad_account_percent = _number(account.get("acc_id_util_pct")) if isinstance(account, dict) else None
    return Usage(app_percent=app_percent, buc=tuple(buc), ad_account_percent=ad_account_percent)
