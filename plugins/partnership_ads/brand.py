"""The brand a run serves, as one value carried from ``resolve_brands`` through every task.

XCom carries JSON, so a :class:`Brand` travels as :meth:`Brand.as_dict` and is rebuilt with
:meth:`Brand.from_dict`. No imports beyond the connection ids: operators build one when a DAG file is parsed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from partnership_ads.conn_ids import DEFAULT_META_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


@dataclass(frozen=True)
class Brand:
    """A Meta business served by a run, and the run's plan for it.

    :param business_id: the brand's Meta Business id.
    :param fb_page_id: the brand's Facebook Page id.
    :param ig_user_id: the brand's Instagram user id.
    :param meta_conn_id: the brand's ``meta_graph`` connection.
    :param filters: the run's discovery filters, named as the API names them.
    :param recheck_pending: whether discovery looks up again the items the ledger holds as pending.
    :param partitions: windows of the date range walked in parallel (1: sequential).
    :param ledger_id: the ledger's identity read by the run's first task (None: not checked).
    :param ad_account_id: the brand's ad account (``act_<digits>``) the ``meta_ads`` sink creates creatives
        and paused ads in (None: the brand has none, and ``meta_ads`` cannot serve it).
    :param adset_id: the ad set of that account the ``meta_ads`` sink puts its ads in.
    :param ad_format: the partnership creative's ``ad_format``: 1 both identities (default), 2 the first
        identity only, 3 automatic.
    """

    business_id: str
    fb_page_id: str | None = None
    ig_user_id: str | None = None
    meta_conn_id: str = DEFAULT_META_CONN_ID
    filters: Mapping[str, Any] = field(default_factory=dict)
    recheck_pending: bool = False
    partitions: int = 1
    ledger_id: str | None = None
    ad_account_id: str | None = None
    adset_id: str | None = None
    ad_format: int = 1

    def as_dict(self) -> dict[str, Any]:
        """The brand as JSON-ready data (for XCom); :meth:`from_dict` reads it back."""
        return {**dataclasses.asdict(self), "filters": dict(self.filters)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Brand:
        """A brand from :meth:`as_dict`'s data (ids given as numbers become text). Data written before a key
        existed (an XCom of an older run) gets that key's default.

        :raises ValueError: ``data`` has no ``business_id`` or carries a key a brand does not have.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"brand: unknown key(s) {unknown}; a brand has {sorted(known)}")
        if data.get("business_id") in (None, ""):
            raise ValueError("brand: business_id is required")

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value in (None, "") else str(value)

        return cls(
            business_id=str(data["business_id"]),
            fb_page_id=text("fb_page_id"),
            ig_user_id=text("ig_user_id"),
            meta_conn_id=text("meta_conn_id") or DEFAULT_META_CONN_ID,
            filters=dict(data.get("filters") or {}),
            recheck_pending=bool(data.get("recheck_pending", False)),
            partitions=int(data.get("partitions") or 1),
            ledger_id=text("ledger_id"),
            ad_account_id=text("ad_account_id"),
            adset_id=text("adset_id"),
            ad_format=int(data.get("ad_format") or 1),
        )

    @classmethod
    def coerce(cls, value: Brand | Mapping[str, Any]) -> Brand:
        """``value`` as a brand: a :class:`Brand` as it is, a mapping through :meth:`from_dict`."""
        return value if isinstance(value, Brand) else cls.from_dict(value)

    def replace(self, **changes: Any) -> Brand:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """How the brand is named in logs and the UI's mapped task instances."""
        return f"business {self.business_id}"


def brand_arguments(brand: Brand | Mapping[str, Any] | None, **given: Any) -> dict[str, Any]:
    """An operator's brand arguments: each one given, else the ``brand``'s value (``meta_conn_id`` defaults
    to :data:`~partnership_ads.conn_ids.DEFAULT_META_CONN_ID`).

    :raises ValueError: neither ``brand`` nor ``business_id`` is given, ``brand`` is not a brand, or an
        argument is given both ways with different values (which one was meant cannot be told).
    """
    if brand is None:
        if given.get("business_id") in (None, ""):
            raise ValueError("business_id: required (or pass brand=)")
        if "meta_conn_id" in given and given["meta_conn_id"] is None:
            given["meta_conn_id"] = DEFAULT_META_CONN_ID
        return given
    value = Brand.coerce(brand)
    merged: dict[str, Any] = {}
    for key, argument in given.items():
        own = getattr(value, key)
        if argument is not None and argument != own and str(argument) != str(own):
            raise ValueError(
                f"{key}: {argument!r} differs from the brand's {own!r}; pass one or the other, not both"
            )
        merged[key] = own if argument is None else argument
    return merged


#: The brand's identity: what every task serving it takes.
BRAND_IDS = ("business_id", "fb_page_id", "ig_user_id", "meta_conn_id", "ledger_id")
#: The brand's identity and the run's discovery plan for it: what the fetch task takes.
BRAND_PLAN = (*BRAND_IDS, "filters", "partitions", "recheck_pending")


def task_brand(brand: Brand | None, task: object, names: Iterable[str] = BRAND_IDS) -> Brand:
    """The brand a task serves: ``brand`` (when the task was given one) with the task's attributes
    ``names`` applied as they are now (templated fields rendered), normalised by :meth:`Brand.from_dict`."""
    base = brand.as_dict() if brand is not None else {}
    return Brand.from_dict({**base, **{name: getattr(task, name) for name in names}})
