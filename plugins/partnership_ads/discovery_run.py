"""A brand's discovery run: every page of advertisable content into a Parquet snapshot and the ledger.

:class:`DiscoveryRun` walks discovery (sequentially, or in date partitions), flattens each page into the
snapshot, upserts it into the ledger's content table, and optionally looks up the brand's pending and coded
items the walk missed. :class:`~partnership_ads.operators.fetch.FetchAdvertisableContentOperator` adapts it to
a task.

A run stopped by a long throttle (:class:`~partnership_ads.graph.errors.GraphThrottleError`) sets the rows it
wrote aside (:attr:`DiscoveryRun.kept_path`) instead of dropping them; the run that resumes it after the
throttle (``run(resume=True)``) starts its snapshot with them and walks again from the first page, skipping
the items already kept, so that no item is lost (one the new walk no longer returns stays) or doubled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from partnership_ads.brand import Brand
    from partnership_ads.hooks import PartnershipAdsHook
    from partnership_ads.ledger import Ledger
    from partnership_ads.snapshot import SnapshotWriter

#: Pages fetched ahead while one is flattened, written and upserted.
PREFETCH_PAGES = 2
#: Content ids per lookup request (the endpoint's limit on ``content_ids``).
LOOKUP_BATCH = 50
#: Kept rows copied into the resumed snapshot per write.
KEPT_BATCH = 1000


@dataclass
class DiscoveryTotals:
    """What a run found: rows written, pages walked, items looked up, counts by platform and eligibility.

    After a resumption ``pages`` counts the last walk's pages (a complete walk), ``kept`` the rows the
    snapshot took over from the walk the throttle stopped.
    """

    items: int = 0
    pages: int = 0
    looked_up: int = 0
    kept: int = 0
    by_platform: Counter[str] = field(default_factory=Counter)
    by_ad_eligibility: Counter[str] = field(default_factory=Counter)


def snapshot_path(root: Path, business_id: str, run_id: str) -> Path:
    """The run's snapshot of a brand: ``<root>/<business_id>/<run id, file-name safe>.parquet``."""
    from partnership_ads.filenames import safe_name

    return root / business_id / f"{safe_name(run_id)}.parquet"


class DiscoveryRun:
    """One brand's discovery into ``path`` and the ledger.

    :param fields: extra fields in Graph syntax (added to the ones the pipeline needs).
    :param page_size: items per discovery page (1..50).
    :param log: where progress goes (the task's logger).
    """

    def __init__(
        self,
        brand: Brand,
        hook: PartnershipAdsHook,
        ledger: Ledger,
        *,
        path: Path,
        run_id: str,
        log: Any,
        fields: str | None = None,
        page_size: int = 50,
    ) -> None:
        from partnership_ads.snapshot import DEFAULT_FIELDS

        self.brand = brand
        self.hook = hook
        self.ledger = ledger
        self.path = path
        self.run_id = run_id
        self.log = log
        self.fields = f"{DEFAULT_FIELDS},{fields}" if fields else DEFAULT_FIELDS
        self.page_size = page_size
        self.seen: set[str] = set()
        self.kept_ids: set[str] = set()

    @property
    def kept_path(self) -> Path:
        """Where a throttled run sets its rows aside for its resumption (hidden, next to the snapshot)."""
        return self.path.parent / f".{self.path.name}.kept"

    def discard_kept(self) -> None:
        """Forget rows an earlier try set aside: a new try walks from the start."""
        self.kept_path.unlink(missing_ok=True)

    def run(self, *, resume: bool = False) -> DiscoveryTotals:
        """Walk, write and upsert every page, then re-examine when the brand asks; the snapshot is complete
        on return and removed when anything raises.

        :param resume: start from the rows a throttled run set aside (:attr:`kept_path`), then walk again
            from the first page skipping them.
        :raises GraphThrottleError: after setting the rows written so far aside (the caller defers and
            resumes with ``resume=True``); any other error drops them.
        """
        from partnership_ads.graph.errors import GraphThrottleError
        from partnership_ads.snapshot import SnapshotWriter

        totals = DiscoveryTotals()
        writer = SnapshotWriter(self.path)
        try:
            if resume:
                self._restore(writer, totals)
            self._walk(writer, totals)
            if self.brand.recheck_pending:
                rechecked = self.recheck(writer)
                totals.looked_up = len(rechecked)
                totals.by_platform.update(r["platform"] or "UNKNOWN" for r in rechecked if r["visible"])
                totals.by_ad_eligibility.update(
                    (r["ad_eligibility"] or "NOT_TAGGED") if r["visible"] else "NOT_VISIBLE"
                    for r in rechecked
                )
        except GraphThrottleError:
            # The rows kept before (if any) were copied into this writer first: this file holds them all.
            writer.set_aside(self.kept_path)
            self.log.info(
                "Discovery of business %s throttled after %s item(s): set aside for the resumption (%s)",
                self.brand.business_id,
                writer.rows,
                self.kept_path,
            )
            raise
        except BaseException:
            writer.abort()
            raise
        writer.close()
        self.discard_kept()
        totals.items = writer.rows
        return totals

    def _restore(self, writer: SnapshotWriter, totals: DiscoveryTotals) -> None:
        """Copy the rows a throttled run set aside into ``writer`` and count them (walk rows only: the
        re-examination writes its rows once every lookup has answered)."""
        from partnership_ads.snapshot import COLUMNS, iter_rows

        if not self.kept_path.exists():
            self.log.warning(
                "Resuming discovery of business %s: no rows were set aside (%s); walking from the start",
                self.brand.business_id,
                self.kept_path,
            )
            return
        batch: list[dict[str, Any]] = []
        for row in iter_rows(self.kept_path, columns=[name for name, _kind in COLUMNS]):
            content_id = row["content_id"]
            if content_id:
                self.kept_ids.add(str(content_id))
            batch.append(row)
            totals.by_platform[row["platform"] or "UNKNOWN"] += 1
            totals.by_ad_eligibility[row["ad_eligibility"] or "NOT_TAGGED"] += 1
            if len(batch) >= KEPT_BATCH:
                writer.write_page(batch)
                batch = []
        writer.write_page(batch)
        self.seen.update(self.kept_ids)
        totals.kept = writer.rows
        self.log.info(
            "Resuming discovery of business %s after a throttle: %s item(s) kept from before it; walking "
            "again from the first page, items already kept are skipped",
            self.brand.business_id,
            totals.kept,
        )

    def _pages(self) -> Iterator[list[dict[str, Any]]]:
        brand = self.brand
        parallel = {"partitions": brand.partitions, "ordered": False} if brand.partitions > 1 else {}
        return self.hook.iter_advertisable_pages(
            brand.business_id,
            page_size=self.page_size,
            fb_page_id=brand.fb_page_id,
            ig_user_id=brand.ig_user_id,
            fields=self.fields,
            **parallel,
            **dict(brand.filters),
        )

    def _flatten(self, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
        from partnership_ads.snapshot import flatten

        brand = self.brand
        return flatten(
            item,
            business_id=brand.business_id,
            ig_user_id=brand.ig_user_id,
            fb_page_id=brand.fb_page_id,
            **extra,
        )

    def _walk(self, writer: SnapshotWriter, totals: DiscoveryTotals) -> None:
        from partnership_ads.graph.partition import ArrivalMerge

        walk = self._pages()
        # Fetch the next pages while this one is flattened, written and upserted: cursor paging is sequential,
        # but the page's processing need not add to it. At most PREFETCH_PAGES are held.
        for page in ArrivalMerge([lambda: walk], queue_pages=PREFETCH_PAGES):
            rows = [self._flatten(item) for item in page]
            if self.kept_ids:
                # Resumed: an item the snapshot already holds stays as it was kept (never twice).
                rows = [r for r in rows if not r["content_id"] or r["content_id"] not in self.kept_ids]
            writer.write_page(rows)
            self.ledger.upsert_content(self.brand.business_id, rows, run_id=self.run_id)
            self.seen.update(str(r["content_id"]) for r in rows if r["content_id"])
            totals.pages += 1
            page_platforms = Counter(r["platform"] or "UNKNOWN" for r in rows)
            totals.by_platform.update(page_platforms)
            totals.by_ad_eligibility.update(r["ad_eligibility"] or "NOT_TAGGED" for r in rows)
            self.log.info(
                "Page %s: %s items (%s); %s items so far",
                totals.pages,
                len(rows),
                ", ".join(f"{k} {v}" for k, v in sorted(page_platforms.items())),
                writer.rows,
            )

    def recheck(self, writer: SnapshotWriter) -> list[dict[str, Any]]:
        """Look up the brand's pending and coded items the walk missed; append them to the snapshot.

        Found items join it with ``source`` = ``lookup``; items Graph no longer returns join it as not
        ``visible``. Coded items are limited to those published on or after ``filters["start_date"]``.
        """
        from partnership_ads.snapshot import SOURCE_LOOKUP, not_visible

        business_id = self.brand.business_id
        since = dict(self.brand.filters).get("start_date")
        pending = [cid for cid in self.ledger.pending_content_ids(business_id) if cid not in self.seen]
        coded = [
            cid
            for cid in self.ledger.coded_content_ids(business_id, published_since=since)
            if cid not in self.seen
        ]
        wanted = sorted(set(pending) | set(coded))
        if not wanted:
            self.log.info(
                "Re-examination: every pending or coded item of business %s was discovered", business_id
            )
            return []
        self.log.info(
            "Re-examination: %s pending item(s) and %s item(s) with a code were not in discovery; "
            "looking them up by content_id (%s request(s) of at most %s)",
            len(pending),
            len(coded),
            -(-len(wanted) // LOOKUP_BATCH),
            LOOKUP_BATCH,
        )
        found = self.hook.lookup_advertisable_content(
            business_id,
            fb_page_id=self.brand.fb_page_id,
            ig_user_id=self.brand.ig_user_id,
            content_ids=wanted,
            fields=self.fields,
        )
        wanted_set = set(wanted)
        rows = [self._flatten(item, source=SOURCE_LOOKUP) for item in found]
        rows = [r for r in rows if r["content_id"] in wanted_set]
        returned = {r["content_id"] for r in rows}
        self.ledger.upsert_content(business_id, rows, run_id=self.run_id)
        rows.extend(not_visible(cid, business_id=business_id) for cid in wanted if cid not in returned)
        writer.write_page(rows)
        self.log.info(
            "Re-examination of business %s: %s found (%s AD_READY), %s no longer visible to the brand",
            business_id,
            len(returned),
            sum(1 for r in rows if r["visible"] and r["ad_eligibility"] == "AD_READY"),
            len(wanted) - len(returned),
        )
        return rows
