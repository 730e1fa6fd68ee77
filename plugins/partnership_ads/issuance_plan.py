"""Planning the issue stage: decide what needs no POST, group what does by owner into creator shards.

An agency's brand has hundreds of creators. Issuing all of them in one task made one process read every
creator's Airflow connection, and Airflow's secrets masker rebuilds one pattern of every registered secret at
each new one (quadratic in the secrets a process holds). The issue stage is therefore mapped over
(brand, creator shard): this module reads the fetch snapshot and the ledger once per brand, records every item
whose outcome needs no POST (not AD_READY any more, harvested, already in the ledger, revoked), and splits the
rest by owner into shards of at most ``creators_per_shard`` creators. The brand's own media form a shard of
their own (issued with the brand's connection). A creator's items are never split across shards, so each shard
reads only its creators' connections, and whether a creator has one (``awaiting_creator_authorisation``) is
decided by the shard that owns the creator.

Exactly once is unchanged: a shard still claims each media in the ledger before its POST; the plan only says
which task tries which item. ``max_codes`` stays a per-brand cap across shards: the shards reserve their POSTs
from the ledger's per-run budget of the brand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from partnership_ads.dag_settings import DEFAULT_CREATORS_PER_SHARD, MAX_CREATORS_PER_SHARD
from partnership_ads.issuance import ItemResult, summarize

if TYPE_CHECKING:
    from partnership_ads.brand import Brand
    from partnership_ads.issuance import Issuance

__all__ = [
    "DEFAULT_CREATORS_PER_SHARD",
    "MAX_CREATORS_PER_SHARD",
    "IssuancePlan",
    "Shard",
    "check_creators_per_shard",
    "group_into_shards",
    "plan_issuance",
]

#: Shard key of items without an author id: no connection can be named for them (awaiting their creator).
NO_AUTHOR = ""


def check_creators_per_shard(value: Any) -> int:
    """``value`` as a whole number from 1 to :data:`MAX_CREATORS_PER_SHARD`, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CREATORS_PER_SHARD:
        # A huge int has no repr (Python's digit limit): never format what may not be printable.
        short = isinstance(value, str | float | bool | type(None)) or (
            isinstance(value, int) and abs(value) < 10**18
        )
        shown = repr(value)[:20] if short and len(repr(value)) <= 20 else "a longer value"
        raise ValueError(
            f"creators_per_shard: must be a whole number from 1 to {MAX_CREATORS_PER_SHARD}, got {shown}"
        )
    return value


@dataclass(frozen=True)
class Shard:
    """One mapped ``issue_ad_codes`` instance: the items of a few creators of one brand.

    :param index: 1-based position among the brand's shards; ``count`` is how many the brand has.
    :param creators: the owners' Instagram user ids (the brand's own id for its own media's shard).
    :param content_ids: the items to try, in snapshot order.
    :param own_media: the shard of the brand's own media (issued with the brand's connection).
    """

    business_id: str
    index: int
    count: int
    creators: tuple[str, ...]
    content_ids: tuple[str, ...]
    own_media: bool = False

    @property
    def label(self) -> str:
        """``k/n``, as the UI names the mapped instance (``business <id> · shard k/n``)."""
        return f"{self.index}/{self.count}"

    def operator_kwargs(self, brand: Brand, snapshot_path: str) -> dict[str, Any]:
        """The ``IssueAdCodesOperator`` arguments of this shard (JSON, for ``expand_kwargs`` over XCom)."""
        return {
            "brand": brand.as_dict(),
            "snapshot_path": snapshot_path,
            "content_ids": list(self.content_ids),
            "shard": self.label,
        }


@dataclass
class IssuancePlan:
    """A brand's plan: the outcomes decided without a POST, and the shards that try the rest."""

    brand: Brand
    results: list[ItemResult] = field(default_factory=list)
    shards: list[Shard] = field(default_factory=list)

    def summary(self, *, dry_run: bool) -> dict[str, Any]:
        """The plan's counts in the shape of an issue task's XCom result (summed per brand by the summary)."""
        counts, listed = summarize(self.results)
        return {
            "business_id": self.brand.business_id,
            "brand": self.brand.as_dict(),
            "dry_run": dry_run,
            "selected": len(self.results) + sum(len(s.content_ids) for s in self.shards),
            "counts": dict(counts),
            "listed": listed,
            "shards": len(self.shards),
            "creators": sum(len(s.creators) for s in self.shards),
            "ledger_id": self.brand.ledger_id,
        }


def group_into_shards(
    business_id: str,
    items_by_owner: dict[str, list[str]],
    *,
    creators_per_shard: int,
    own_ig_user_id: str | None,
) -> list[Shard]:
    """Split items by owner into shards of at most ``creators_per_shard`` owners, never splitting an owner.

    The brand's own media (owner ``own_ig_user_id``) come first, in a shard of their own; creators follow in
    id order (a stable plan: a retried run groups them the same way while the set of owners is the same).
    """
    check_creators_per_shard(creators_per_shard)
    own = str(own_ig_user_id) if own_ig_user_id else None
    groups: list[tuple[list[str], bool]] = []
    if own is not None and items_by_owner.get(own):
        groups.append(([own], True))
    creators = sorted(owner for owner in items_by_owner if owner != own and items_by_owner[owner])
    for start in range(0, len(creators), creators_per_shard):
        groups.append((creators[start : start + creators_per_shard], False))
    return [
        Shard(
            business_id=business_id,
            index=n,
            count=len(groups),
            creators=tuple(owners),
            content_ids=tuple(cid for owner in owners for cid in items_by_owner[owner]),
            own_media=own_media,
        )
        for n, (owners, own_media) in enumerate(groups, start=1)
    ]


def plan_issuance(issuance: Issuance, *, creators_per_shard: int) -> IssuancePlan:
    """Record what needs no POST and shard the rest (``issuance`` is the brand's whole-snapshot issuance).

    Decided here, without reading any creator's connection: not AD_READY any more (``not_ad_ready``,
    ``eligibility_lost``), a code discovery shows (harvested, or ``already_in_ledger``), a code the ledger
    holds (``already_in_ledger``), a code revoked on purpose (``revoked``). Every other selected item goes to
    the shard of its owner, where its claim, its POST or its ``awaiting_creator_authorisation`` is decided. A
    harvest another attempt holds right now goes to its owner's shard too, which waits the claim out.
    """
    from partnership_ads.ledger import HAS_CODE_STATES, CodeState

    check_creators_per_shard(creators_per_shard)
    brand = issuance.brand
    dry_run = issuance.settings.dry_run
    selected, lost = issuance.select()
    results: list[ItemResult] = list(lost)
    for result in lost:
        issuance.log.warning(
            "%s %s: %s", result.outcome.replace("_", " ").capitalize(), result.content_id, result.detail
        )
    known = issuance.ledger.codes_for([str(row["content_id"]) for row in selected])
    harvested = _harvest(issuance, [row for row in selected if row["ad_code"]], known)
    by_owner: dict[str, list[str]] = {}
    for row in selected:
        content_id = str(row["content_id"])
        code_row = known.get(content_id)
        if row["ad_code"]:
            result = harvested[content_id]
            if result.outcome != "claimed_elsewhere":
                results.append(result)
                continue
        elif code_row is not None and code_row.state in HAS_CODE_STATES and code_row.ad_code:
            results.append(ItemResult(content_id, "already_in_ledger", ad_code=code_row.ad_code))
            continue
        elif code_row is not None and code_row.state == CodeState.REVOKED:
            results.append(ItemResult(content_id, "revoked", "revoked on purpose; not re-issued"))
            continue
        by_owner.setdefault(str(row["author_ig_user_id"] or NO_AUTHOR), []).append(content_id)
    if results and not dry_run:
        issuance.ledger.record_brand_items(
            brand.business_id, [(r.content_id, r.outcome, r.detail) for r in results], run_id=issuance.run_id
        )
    shards = group_into_shards(
        brand.business_id,
        by_owner,
        creators_per_shard=creators_per_shard,
        own_ig_user_id=brand.ig_user_id,
    )
    issuance.log.info(
        "Business %s: %s AD_READY Instagram item(s); %s decided without a POST; %s item(s) of %s owner(s) "
        "to try in %s shard(s) of at most %s creators%s",
        brand.business_id,
        len(selected),
        len(results) - len(lost),
        sum(len(s.content_ids) for s in shards),
        sum(len(s.creators) for s in shards),
        len(shards),
        creators_per_shard,
        " [dry run]" if dry_run else "",
    )
    return IssuancePlan(brand=brand, results=results, shards=shards)


def _harvest(issuance: Issuance, rows: list[dict[str, Any]], known: dict[str, Any]) -> dict[str, ItemResult]:
    """The codes discovery shows, recorded in batches (:meth:`Ledger.harvest_many`): each item's result.

    ``already_in_ledger`` when the ledger holds the same code (no write); in a dry run ``harvested`` with
    nothing written; a media another attempt holds is ``claimed_elsewhere`` (its owner's shard waits it out).
    """
    from partnership_ads.ledger import HAS_CODE_STATES

    results: dict[str, ItemResult] = {}
    to_write: list[tuple[str, str, str | None]] = []
    for row in rows:
        content_id = str(row["content_id"])
        code_row = known.get(content_id)
        if code_row is not None and code_row.ad_code == row["ad_code"] and code_row.state in HAS_CODE_STATES:
            results[content_id] = ItemResult(content_id, "already_in_ledger", ad_code=row["ad_code"])
        elif issuance.settings.dry_run:
            results[content_id] = ItemResult(content_id, "harvested", ad_code=row["ad_code"])
        else:
            to_write.append((content_id, row["ad_code"], row["author_ig_user_id"]))
    outcomes = issuance.ledger.harvest_many(to_write, business_id=issuance.brand.business_id)
    for content_id, ad_code, _owner in to_write:
        outcome = outcomes[content_id]
        if outcome == "revoked":
            results[content_id] = ItemResult(
                content_id, "revoked", "revoked on purpose; the code discovery shows is not used"
            )
        elif outcome == "claimed_elsewhere":
            results[content_id] = ItemResult(content_id, outcome, "another attempt holds the media")
        else:
            results[content_id] = ItemResult(content_id, outcome, ad_code=ad_code)
    return results
