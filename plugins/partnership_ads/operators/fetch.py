"""FetchAdvertisableContentOperator: discovery for one brand into a Parquet snapshot and the ledger."""

from __future__ import annotations

from collections import Counter
from itertools import islice
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.operators.throttle_retry import ThrottleAwareRetryPolicy

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.sdk import Context

    from partnership_ads.hooks import PartnershipAdsHook
    from partnership_ads.ledger import Ledger
    from partnership_ads.snapshot import SnapshotWriter


PREFETCH_PAGES = 2


def safe_run_id(run_id: str) -> str:
    """A run id usable in a file name."""
    from partnership_ads.sinks.files import safe_name

    return safe_name(run_id)


def _pages(
    hook: PartnershipAdsHook, business_id: str, page_size: int, **kwargs: Any
) -> Iterator[list[dict[str, Any]]]:
    pages = getattr(hook, "iter_advertisable_pages", None)
    if pages is not None:
        yield from pages(business_id, page_size=page_size, **kwargs)
        return
    items = hook.iter_advertisable_content(business_id, page_size=page_size, **kwargs)
    while page := list(islice(items, page_size)):
        yield page


class FetchAdvertisableContentOperator(BaseOperator):
    """Discover a brand's advertisable partnership content, page by page.

    Each page is flattened into the run's Parquet snapshot (``<snapshot_root>/<business_id>/<run>.parquet``)
    and upserted into the ledger's content table. Returns to XCom only a small summary: ``snapshot_path``,
    ``items``, ``pages``, ``by_platform``, ``by_ad_eligibility`` (the brand's own entry) and the brand's ids.

    :param business_id: the brand's Meta Business id.
    :param fb_page_id: the brand's Facebook Page id (one of fb_page_id / ig_user_id is required).
    :param ig_user_id: the brand's Instagram user id.
    :param filters: discovery filters named as the API names them (ad_eligibilities, platform_types, ...).
    :param fields: extra fields in Graph syntax (added to the ones the pipeline needs).
    :param meta_conn_id: the brand's ``meta_graph`` connection.
    :param ledger_conn_id: the ledger's SQL connection.
    :param snapshot_root: folder for snapshots (default ``$AIRFLOW_HOME/partnership_ads/snapshots``).
    :param page_size: items per discovery page (1..50).
    :param partitions: opt-in parallel discovery: with ``start_date`` and ``end_date`` in ``filters``, the
        window is split into this many sub-windows walked in parallel (bounded buffering; every item once;
        pages land in the snapshot in arrival order, not the sequential walk's order). 1 walks sequentially.
    :param recheck_pending: after the walk, look up by ``content_ids`` (50 per request) every item the
        ledger holds as pending for the brand, and every item of the brand holding a code, that the walk
        did not return; found items join the snapshot (``source`` = ``lookup``) with their eligibility as
        Graph shows it now, and items Graph no longer returns join it as not ``visible``. Items with a code
        are limited to those published on or after ``filters["start_date"]`` when the run has a window.
    """

    template_fields: Sequence[str] = (
        "business_id",
        "fb_page_id",
        "ig_user_id",
        "filters",
        "fields",
        "meta_conn_id",
        "snapshot_root",
    )
    ui_color = "#e7f0fd"

    def __init__(
        self,
        *,
        business_id: str,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        filters: dict[str, Any] | None = None,
        fields: str | None = None,
        meta_conn_id: str = "meta_graph_default",
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        snapshot_root: str | None = None,
        page_size: int = 50,
        partitions: int = 1,
        recheck_pending: bool = False,
        ledger_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("retry_policy") is None:
            # A throttle beyond max_throttle_wait_seconds: retry no sooner than Meta said.
            kwargs["retry_policy"] = ThrottleAwareRetryPolicy()
        super().__init__(**kwargs)
        self.business_id = business_id
        self.fb_page_id = fb_page_id
        self.ig_user_id = ig_user_id
        self.filters = filters
        self.fields = fields
        self.meta_conn_id = meta_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.snapshot_root = snapshot_root
        self.page_size = page_size
        self.partitions = partitions
        self.recheck_pending = recheck_pending
        self.ledger_id = ledger_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Fetch every page; returns the summary dict described in the class docstring."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from pathlib import Path

        from partnership_ads.graph.partition import ArrivalMerge
        from partnership_ads.hooks import PartnershipAdsHook
        from partnership_ads.ledger import Ledger
        from partnership_ads.snapshot import DEFAULT_FIELDS, SnapshotWriter, default_snapshot_root, flatten

        business_id = str(self.business_id)
        run_id = context["run_id"]
        hook = PartnershipAdsHook(meta_conn_id=self.meta_conn_id)
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        ledger_id = ledger.check_identity(self.ledger_id, conn_id=self.ledger_conn_id)
        root = Path(self.snapshot_root) if self.snapshot_root else default_snapshot_root()
        path = root / business_id / f"{safe_run_id(run_id)}.parquet"
        fields = f"{DEFAULT_FIELDS},{self.fields}" if self.fields else DEFAULT_FIELDS
        by_platform: Counter[str] = Counter()
        by_eligibility: Counter[str] = Counter()
        writer = SnapshotWriter(path)
        pages = 0
        seen: set[str] = set()
        self.log.info(
            "Discovery for business %s (page %s, ig_user %s) with filters %s",
            business_id,
            self.fb_page_id,
            self.ig_user_id,
            self.filters or {},
        )
        try:
            walk = _pages(
                hook,
                business_id,
                self.page_size,
                fb_page_id=self.fb_page_id,
                ig_user_id=self.ig_user_id,
                fields=fields,
                **({"partitions": self.partitions, "ordered": False} if self.partitions > 1 else {}),
                **(self.filters or {}),
            )
            # Fetch the next pages while this one is flattened, written and upserted: cursor paging is
            # sequential, but the page's processing need not add to it. At most PREFETCH_PAGES are held.
            for page in ArrivalMerge([lambda: walk], queue_pages=PREFETCH_PAGES):
                rows = [
                    flatten(
                        item, business_id=business_id, ig_user_id=self.ig_user_id, fb_page_id=self.fb_page_id
                    )
                    for item in page
                ]
                writer.write_page(rows)
                ledger.upsert_content(business_id, rows, run_id=run_id)
                seen.update(str(r["content_id"]) for r in rows if r["content_id"])
                pages += 1
                page_platforms = Counter(r["platform"] or "UNKNOWN" for r in rows)
                by_platform.update(page_platforms)
                by_eligibility.update(r["ad_eligibility"] or "NOT_TAGGED" for r in rows)
                self.log.info(
                    "Page %s: %s items (%s); %s items so far",
                    pages,
                    len(rows),
                    ", ".join(f"{k} {v}" for k, v in sorted(page_platforms.items())),
                    writer.rows,
                )
            rechecked = (
                self._recheck(hook, ledger, writer, business_id, seen, fields=fields, run_id=run_id)
                if self.recheck_pending
                else None
            )
            if rechecked:
                by_platform.update(r["platform"] or "UNKNOWN" for r in rechecked if r["visible"])
                by_eligibility.update(
                    (r["ad_eligibility"] or "NOT_TAGGED") if r["visible"] else "NOT_VISIBLE"
                    for r in rechecked
                )
        except BaseException:
            writer.abort()
            raise
        writer.close()
        summary = {
            "business_id": business_id,
            "fb_page_id": self.fb_page_id,
            "ig_user_id": self.ig_user_id,
            "meta_conn_id": self.meta_conn_id,
            "snapshot_path": str(path),
            "items": writer.rows,
            "pages": pages,
            "looked_up": len(rechecked or ()),
            "ledger_id": ledger_id,
            "by_platform": dict(sorted(by_platform.items())),
            "by_ad_eligibility": dict(sorted(by_eligibility.items())),
        }
        self.log.info(
            "Discovery done for business %s: %s items in %s pages; by platform %s; by ad_eligibility %s; "
            "snapshot %s",
            business_id,
            writer.rows,
            pages,
            summary["by_platform"],
            summary["by_ad_eligibility"],
            path,
        )
        return summary

    def _recheck(
        self,
        hook: PartnershipAdsHook,
        ledger: Ledger,
        writer: SnapshotWriter,
        business_id: str,
        seen: set[str],
        *,
        fields: str,
        run_id: str,
    ) -> list[dict[str, Any]]:
        """Look up the brand's pending and coded items the walk missed; append them to the snapshot."""
        from partnership_ads.snapshot import SOURCE_LOOKUP, flatten, not_visible

        since = (self.filters or {}).get("start_date")
        pending = [cid for cid in ledger.pending_content_ids(business_id) if cid not in seen]
        coded = [
            cid for cid in ledger.coded_content_ids(business_id, published_since=since) if cid not in seen
        ]
        wanted = sorted(set(pending) | set(coded))
        if not wanted:
            self.log.info(
                "Re-examination: every pending or coded item of business %s was discovered", business_id
            )
            return []
        self.log.info(
            "Re-examination: %s pending item(s) and %s item(s) with a code were not in discovery; "
            "looking them up by content_id (%s request(s) of at most 50)",
            len(pending),
            len(coded),
            -(-len(wanted) // 50),
        )
        found = hook.lookup_advertisable_content(
            business_id,
            fb_page_id=self.fb_page_id,
            ig_user_id=self.ig_user_id,
            content_ids=wanted,
            fields=fields,
        )
        rows = [
            flatten(
                item,
                business_id=business_id,
                ig_user_id=self.ig_user_id,
                fb_page_id=self.fb_page_id,
                source=SOURCE_LOOKUP,
            )
            for item in found
        ]
        rows = [r for r in rows if r["content_id"] in set(wanted)]
        returned = {r["content_id"] for r in rows}
        ledger.upsert_content(business_id, rows, run_id=run_id)
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
