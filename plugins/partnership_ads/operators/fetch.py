"""FetchAdvertisableContentOperator: discovery for one brand into a Parquet snapshot and the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from partnership_ads.brand import BRAND_PLAN, Brand, brand_arguments, task_brand
from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.dag_settings import DEFAULT_TOKEN_EXPIRY_WARNING_DAYS
from partnership_ads.operators.throttle_deferral import ThrottleDeferral, recorded_wait
from partnership_ads.operators.throttle_retry import ThrottleAwareRetryPolicy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context


class FetchAdvertisableContentOperator(ThrottleDeferral, BaseOperator):
    """Discover a brand's advertisable partnership content, page by page.

    Each page is flattened into the run's Parquet snapshot (``<snapshot_root>/<business_id>/<run>.parquet``)
    and upserted into the ledger's content table (:class:`partnership_ads.discovery_run.DiscoveryRun`).

    A throttle longer than the connection's ``max_throttle_wait_seconds`` (told by Meta during the walk or
    the lookups, or recorded in the ledger by another task before the first call) defers the task to the
    triggerer until access returns (:class:`~partnership_ads.operators.throttle_deferral.ThrottleDeferral`,
    at most five times per try); it resumes in :meth:`resume_after_throttle` with the rows written so far
    kept, walking again from the first page without doubling them.
    Returns to XCom only a small summary: ``snapshot_path``, ``items``, ``pages``, ``looked_up``,
    ``by_platform``, ``by_ad_eligibility`` (the brand's own entry), the brand's ids and ``brand`` (its
    ``as_dict()``, for the next task).

    :param brand: the brand and the run's plan for it (a :class:`~partnership_ads.brand.Brand` or its
        ``as_dict()``), instead of the arguments ``business_id`` to ``recheck_pending`` and ``ledger_id``.
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
    :param ledger_id: the ledger identity the run's first task read (checked before any side effect).
    :param token_expiry_warning_days: a brand token expiring within this many days is logged as a warning.

    Before discovery the brand's token is checked with ``debug_token``
    (:meth:`partnership_ads.token_health.TokenChecker.check_brand`): expired, invalid or missing a scope the
    discovery needs, the task fails at once (no retry) naming the connection, the problem and the fix.
    """

    template_fields: Sequence[str] = (
        "business_id",
        "fb_page_id",
        "ig_user_id",
        "filters",
        "fields",
        "meta_conn_id",
        "snapshot_root",
        "token_expiry_warning_days",
    )
    ui_color = "#e7f0fd"

    def __init__(
        self,
        *,
        brand: Brand | Mapping[str, Any] | None = None,
        business_id: str | None = None,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        filters: dict[str, Any] | None = None,
        fields: str | None = None,
        meta_conn_id: str | None = None,
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        snapshot_root: str | None = None,
        page_size: int = 50,
        partitions: int | None = None,
        recheck_pending: bool | None = None,
        ledger_id: str | None = None,
        token_expiry_warning_days: int = DEFAULT_TOKEN_EXPIRY_WARNING_DAYS,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("retry_policy") is None:
            # A throttle beyond max_throttle_wait_seconds: retry no sooner than Meta said.
            kwargs["retry_policy"] = ThrottleAwareRetryPolicy()
        super().__init__(**kwargs)
        plan = brand_arguments(
            brand,
            business_id=business_id,
            fb_page_id=fb_page_id,
            ig_user_id=ig_user_id,
            meta_conn_id=meta_conn_id,
            filters=filters,
            partitions=partitions,
            recheck_pending=recheck_pending,
            ledger_id=ledger_id,
        )
        self.brand = None if brand is None else Brand.coerce(brand)
        self.business_id = plan["business_id"]
        self.fb_page_id = plan["fb_page_id"]
        self.ig_user_id = plan["ig_user_id"]
        self.meta_conn_id = plan["meta_conn_id"]
        self.filters = plan["filters"]
        self.partitions = 1 if plan["partitions"] is None else plan["partitions"]
        self.recheck_pending = bool(plan["recheck_pending"])
        self.ledger_id = plan["ledger_id"]
        self.fields = fields
        self.ledger_conn_id = ledger_conn_id
        self.snapshot_root = snapshot_root
        self.page_size = page_size
        self.token_expiry_warning_days = token_expiry_warning_days

    def task_brand(self) -> Brand:
        """The brand of this task: ``brand`` with the rendered arguments."""
        return task_brand(self.brand, self, BRAND_PLAN)

    def execute(self, context: Context) -> dict[str, Any]:
        """Fetch every page; returns the summary dict described in the class docstring."""
        return self._discover(context, resume=False)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the brand's discovery endpoint in, the run's snapshot out (see
        :mod:`partnership_ads.lineage`); None before discovery started or without the provider."""
        from partnership_ads.lineage import operator_lineage

        datasets = getattr(self, "_lineage_datasets", None)
        return operator_lineage(*datasets) if datasets else None

    def resume_after_throttle(
        self, context: Context, event: Any = None, deferrals: int = 1
    ) -> dict[str, Any]:
        """Back from the triggerer after a throttle: discover again, keeping the rows written before it."""
        self.throttle_deferrals = deferrals
        return self._discover(context, resume=True)

    def _discover(self, context: Context, *, resume: bool) -> dict[str, Any]:
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from pathlib import Path

        from partnership_ads.discovery_run import DiscoveryRun, snapshot_path
        from partnership_ads.graph.errors import GraphThrottleError
        from partnership_ads.hooks import PartnershipAdsHook
        from partnership_ads.ledger import Ledger
        from partnership_ads.lineage import fetch_datasets
        from partnership_ads.snapshot import default_snapshot_root

        brand = self.task_brand()
        hook = PartnershipAdsHook(meta_conn_id=brand.meta_conn_id)
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        brand = brand.replace(ledger_id=ledger.check_identity(brand.ledger_id, conn_id=self.ledger_conn_id))
        root = Path(self.snapshot_root) if self.snapshot_root else default_snapshot_root()
        path = snapshot_path(root, brand.business_id, context["run_id"])
        self._lineage_datasets = fetch_datasets(hook.settings.base_url, brand.business_id, path)
        self.log.info(
            "Discovery for business %s (page %s, ig_user %s) with filters %s",
            brand.business_id,
            brand.fb_page_id,
            brand.ig_user_id,
            dict(brand.filters),
        )
        discovery = DiscoveryRun(
            brand,
            hook,
            ledger,
            path=path,
            run_id=context["run_id"],
            log=self.log,
            fields=self.fields,
            page_size=self.page_size,
        )
        if not resume:
            discovery.discard_kept()
        max_wait = hook.settings.retry.max_throttle_wait_seconds
        why = f"Discovery for business {brand.business_id} (connection {brand.meta_conn_id})"
        blocked = recorded_wait(ledger, brand.meta_conn_id, max_wait)
        if blocked is not None:
            self.defer_for_throttle(blocked, why=f"{why}, throttle recorded by an earlier task or try")
        try:
            # Inside the try: a throttle told to debug_token defers the task like one told to discovery.
            self._check_brand_token(hook, ledger, brand)
            totals = discovery.run(resume=resume)
        except GraphThrottleError as exc:
            wait = exc.wait_seconds
            if not exc.retryable or not wait or wait <= max_wait:
                raise
            # Every other task and try with this connection reads it before calling.
            ledger.record_throttle(brand.meta_conn_id, wait_seconds=float(wait))
            self.defer_for_throttle(float(wait), why=why)
        summary = {
            "business_id": brand.business_id,
            "fb_page_id": brand.fb_page_id,
            "ig_user_id": brand.ig_user_id,
            "meta_conn_id": brand.meta_conn_id,
            "brand": brand.as_dict(),
            "snapshot_path": str(path),
            "items": totals.items,
            "pages": totals.pages,
            "looked_up": totals.looked_up,
            "ledger_id": brand.ledger_id,
            "by_platform": dict(sorted(totals.by_platform.items())),
            "by_ad_eligibility": dict(sorted(totals.by_ad_eligibility.items())),
        }
        self.log.info(
            "Discovery done for business %s: %s items in %s pages; by platform %s; by ad_eligibility %s; "
            "snapshot %s",
            brand.business_id,
            totals.items,
            totals.pages,
            summary["by_platform"],
            summary["by_ad_eligibility"],
            path,
        )
        return summary

    def _check_brand_token(self, hook: Any, ledger: Any, brand: Brand) -> None:
        """Fail at once when the brand's token cannot serve discovery (see the class docstring)."""
        from partnership_ads.token_health import TokenChecker

        checker = TokenChecker(
            ledger,
            hook_factory=lambda _conn_id: hook,
            clock=ledger.clock,
            warning_days=float(self.token_expiry_warning_days),
            log=self.log,
        )
        checker.check_brand(
            brand.business_id, brand.meta_conn_id, platforms=brand.filters.get("platform_types")
        )
