"""IssueAdCodesOperator: one ad code per AD_READY Instagram item, exactly once, with the owner's token."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.brand import Brand, brand_arguments, task_brand
from partnership_ads.conn_ids import CREATOR_CONN_PREFIX, DEFAULT_LEDGER_CONN_ID
from partnership_ads.dag_settings import DEFAULT_TOKEN_EXPIRY_WARNING_DAYS
from partnership_ads.operators.throttle_deferral import ThrottleDeferral, recorded_wait
from partnership_ads.operators.throttle_retry import ThrottleAwareRetryPolicy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

    from partnership_ads.issuance import ClaimWait, ItemResult
    from partnership_ads.ledger import Ledger

#: Waits handed to the triggerer per try before the try fails naming the items.
MAX_CLAIM_DEFERRALS = 3


class IssueAdCodesOperator(ThrottleDeferral, BaseOperator):
    """Choose the brand's AD_READY Instagram items from the snapshot and obtain a code for each.

    The work is :class:`partnership_ads.issuance.Issuance` (which items, whose token, exactly once through
    the ledger's claims); this operator adds the task around it. Items another attempt holds are waited for
    in the worker up to ``max_claim_wait_seconds``, longer waits are deferred to the triggerer (at most
    three times per try). A throttle longer than ``max_throttle_wait_seconds`` (told to a POST, or recorded
    in the ledger for the brand's connection before the first call) defers the task to the triggerer until
    access returns (at most five times per try); it resumes in :meth:`resume_after_throttle` and runs again,
    the ledger's claims making it exactly once. Raises at the end (so Airflow retries) when a POST failed with
    another retryable error, or items are still claimed elsewhere; every code obtained before that is already
    in the ledger.

    :param snapshot_path: the fetch task's Parquet snapshot.
    :param brand: the brand (a :class:`~partnership_ads.brand.Brand` or its ``as_dict()``), instead of
        ``business_id``, ``fb_page_id``, ``ig_user_id``, ``meta_conn_id`` and ``ledger_id``.
    :param business_id, fb_page_id, ig_user_id: the brand.
    :param meta_conn_id: the brand's ``meta_graph`` connection.
    :param dry_run: plan only: count what would be issued, call and write nothing.
    :param max_codes: cap on new codes (POSTs) for this brand in this run (None: no cap).
    :param max_concurrency: parallel POSTs (threads sharing one hook per connection).
    :param claim_lease_seconds: lease of an issuance claim; must exceed one POST's worst case.
    :param max_claim_wait_seconds: longest wait for other attempts' claims in the worker.
    :param ledger_id: the ledger identity the run's first task read (checked before any side effect).
    :param content_ids: only these items (a creator shard from ``plan_issuance``); None: the whole snapshot.
    :param shard: the shard's ``k/n`` label (the UI names the instance ``business <id> · shard k/n``).
    :param token_expiry_warning_days: a creator token expiring within this many days is reported
        ``expiring`` (the trigger form's parameter of that name; default 7).
    :param token_check_cache_hours: how long a creator token's recorded check is reused (default: env
        ``PARTNERSHIP_ADS_TOKEN_CHECK_CACHE_HOURS``, else 12); 0 asks debug_token on every run.

    Before a creator's first POST of the run its token is checked (:mod:`partnership_ads.token_health`):
    items of a creator whose token is expired, invalid or missing a scope are
    ``awaiting_creator_reauthorisation``, never POSTed. The task log ends with a "Tokens" section and the
    XCom summary carries it as ``tokens`` (creator ids, states, days left, actions: never a token).
    """

    template_fields: Sequence[str] = (
        "snapshot_path",
        "business_id",
        "fb_page_id",
        "ig_user_id",
        "meta_conn_id",
        "dry_run",
        "max_codes",
        "token_expiry_warning_days",
    )
    ui_color = "#fdf2e7"

    def __init__(
        self,
        *,
        snapshot_path: str,
        brand: Brand | Mapping[str, Any] | None = None,
        business_id: str | None = None,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        meta_conn_id: str | None = None,
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        dry_run: bool = False,
        max_codes: int | None = None,
        max_concurrency: int = 8,
        claim_lease_seconds: float = 120.0,
        max_claim_wait_seconds: float = 30.0,
        ledger_id: str | None = None,
        creator_conn_prefix: str = CREATOR_CONN_PREFIX,
        content_ids: Sequence[str] | None = None,
        shard: str | None = None,
        token_expiry_warning_days: int | str = DEFAULT_TOKEN_EXPIRY_WARNING_DAYS,
        token_check_cache_hours: float | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("retry_policy") is None:
            kwargs["retry_policy"] = ThrottleAwareRetryPolicy()
        super().__init__(**kwargs)
        ids = brand_arguments(
            brand,
            business_id=business_id,
            fb_page_id=fb_page_id,
            ig_user_id=ig_user_id,
            meta_conn_id=meta_conn_id,
            ledger_id=ledger_id,
        )
        self.brand = None if brand is None else Brand.coerce(brand)
        self.snapshot_path = snapshot_path
        self.business_id = ids["business_id"]
        self.fb_page_id = ids["fb_page_id"]
        self.ig_user_id = ids["ig_user_id"]
        self.meta_conn_id = ids["meta_conn_id"]
        self.ledger_id = ids["ledger_id"]
        self.ledger_conn_id = ledger_conn_id
        self.dry_run = dry_run
        self.max_codes = max_codes
        self.max_concurrency = max_concurrency
        self.claim_lease_seconds = claim_lease_seconds
        self.max_claim_wait_seconds = max_claim_wait_seconds
        self.creator_conn_prefix = creator_conn_prefix
        self.content_ids = None if content_ids is None else [str(c) for c in content_ids]
        self.shard = shard
        self.token_expiry_warning_days = token_expiry_warning_days
        self.token_check_cache_hours = token_check_cache_hours
        self._deferrals = 0
        self._tokens: dict[str, Any] | None = None

    def task_brand(self) -> Brand:
        """The brand of this task: ``brand`` with the rendered id arguments."""
        return task_brand(self.brand, self)

    def execute(self, context: Context) -> dict[str, Any]:
        """Issue and harvest; returns the brand's counts by outcome and the listed items."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from partnership_ads.issuance import ClaimsHeldError, ClaimWait, Issuance, IssuanceSettings
        from partnership_ads.ledger import Ledger

        brand = self.task_brand()
        ti = context["ti"]
        owner = (
            f"{ti.dag_id}/{context['run_id']}/{ti.task_id}/{getattr(ti, 'map_index', -1)}/"
            f"try{getattr(ti, 'try_number', 0)}/{uuid.uuid4().hex[:8]}"
        )
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        ledger_id = ledger.check_identity(brand.ledger_id, conn_id=self.ledger_conn_id)
        if not self.dry_run:
            self._defer_while_throttled(ledger, brand)
        settings = IssuanceSettings(
            dry_run=bool(self.dry_run),
            max_codes=None if self.max_codes is None else int(self.max_codes),
            max_concurrency=self.max_concurrency,
            claim_lease_seconds=self.claim_lease_seconds,
            max_claim_wait_seconds=self.max_claim_wait_seconds,
            creator_conn_prefix=self.creator_conn_prefix,
            token_expiry_warning_days=int(self.token_expiry_warning_days),
            token_check_cache_hours=self._cache_hours(),
        )
        issuance = Issuance(
            brand,
            ledger,
            snapshot_path=self.snapshot_path,
            owner=owner,
            run_id=context["run_id"],
            settings=settings,
            log=self.log,
            content_ids=self.content_ids,
        )
        if self.shard:
            self.log.info(
                "Shard %s of business %s: %s item(s)",
                self.shard,
                brand.business_id,
                len(self.content_ids or ()),
            )
        results: list[ItemResult] | ClaimWait = issuance.run()
        self._tokens = self._tokens_report(issuance)
        if not settings.dry_run:
            try:
                results = issuance.wait_out_claims(results, may_defer=self._deferrals < MAX_CLAIM_DEFERRALS)
            except ClaimsHeldError as exc:
                raise AirflowException(str(exc)) from None
            if isinstance(results, ClaimWait):
                self._defer_for_claims(results)
        return self._finish(brand.replace(ledger_id=ledger_id), results)

    def _cache_hours(self) -> float:
        """``token_check_cache_hours``: the argument, else the deployment's env setting, else 12."""
        import os

        from partnership_ads.token_health import DEFAULT_TOKEN_CHECK_CACHE_HOURS, TOKEN_CHECK_CACHE_HOURS_ENV

        if self.token_check_cache_hours is not None:
            return float(self.token_check_cache_hours)
        configured = os.environ.get(TOKEN_CHECK_CACHE_HOURS_ENV, "").strip()
        if not configured:
            return DEFAULT_TOKEN_CHECK_CACHE_HOURS
        try:
            hours = float(configured)
        except ValueError:
            raise AirflowException(
                f"env {TOKEN_CHECK_CACHE_HOURS_ENV} must be a number of hours, got {configured[:20]!r}"
            ) from None
        if not 0 <= hours <= 24 * 7:
            raise AirflowException(f"env {TOKEN_CHECK_CACHE_HOURS_ENV} must be from 0 to 168 hours")
        return hours

    @staticmethod
    def _tokens_report(issuance: Any) -> dict[str, Any]:
        from partnership_ads.token_health import tokens_report

        checker = issuance._token_checker
        return tokens_report(checker.creators.values() if checker is not None else ())

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the fetch task's snapshot in, the ledger's ``pa_ad_codes`` table out (see
        :mod:`partnership_ads.lineage`); None without the provider."""
        from partnership_ads.lineage import issue_datasets, operator_lineage

        return operator_lineage(*issue_datasets(str(self.snapshot_path), self.ledger_conn_id))

    def resume_after_claims(self, context: Context, event: Any = None, deferrals: int = 1) -> dict[str, Any]:
        """Back from waiting for other attempts' claims to end: run again (ended claims are taken over)."""
        self._deferrals = deferrals
        return self.execute(context)

    def resume_after_throttle(
        self, context: Context, event: Any = None, deferrals: int = 1
    ) -> dict[str, Any]:
        """Back from the triggerer after a throttle: run again (failed claims are looked up before any POST,
        so a media is never posted twice; codes obtained before the throttle are in the ledger)."""
        self.throttle_deferrals = deferrals
        return self.execute(context)

    def _max_throttle_wait(self, brand: Brand) -> float:
        from partnership_ads.hooks import PartnershipAdsHook

        return PartnershipAdsHook(meta_conn_id=brand.meta_conn_id).settings.retry.max_throttle_wait_seconds

    def _defer_while_throttled(self, ledger: Ledger, brand: Brand, told: float = 0.0) -> None:
        """Defer when the brand's connection is throttled beyond the worker's wait (the ledger's record, or
        ``told`` by a POST of this try); return when it is not."""
        max_wait = self._max_throttle_wait(brand)
        wait = max(told, recorded_wait(ledger, brand.meta_conn_id, max_wait) or 0.0)
        if wait > max_wait:
            self.defer_for_throttle(
                wait, why=f"Issuance for business {brand.business_id} (connection {brand.meta_conn_id})"
            )

    def _defer_for_claims(self, wait: ClaimWait) -> None:
        """Hand the wait to the triggerer: the task resumes in :meth:`resume_after_claims`."""
        import datetime as dt

        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.log.info(
            "%s item(s) are claimed by another attempt for %.0fs more (a killed try's lease?, first: %s); "
            "deferring until the claims end instead of holding a worker slot",
            len(wait.held),
            wait.seconds,
            wait.held[0].content_id,
        )
        self.defer(
            trigger=TimeDeltaTrigger(dt.timedelta(seconds=wait.seconds + 1)),
            method_name="resume_after_claims",
            kwargs={"deferrals": self._deferrals + 1},
        )

    def _finish(self, brand: Brand, results: list[ItemResult]) -> dict[str, Any]:
        """Log the brand's table; raise when a retryable failure is left, else return the XCom summary."""
        from partnership_ads.issuance import OUTCOMES, retryable_failures, summarize
        from partnership_ads.summary import NAMED_OUTCOMES, format_table

        counts, listed = summarize(results)
        rows = [[outcome, counts.get(outcome, 0)] for outcome in OUTCOMES if counts.get(outcome)]
        self.log.info(
            "Issuance for business %s%s%s:\n%s",
            brand.business_id,
            f" (shard {self.shard})" if self.shard else "",
            " (dry run)" if self.dry_run else "",
            format_table(["outcome", "items"], rows or [["(no AD_READY Instagram items)", 0]]),
        )
        for outcome in NAMED_OUTCOMES:
            for item in listed.get(outcome, []):
                self.log.info("  %s: %s (%s)", outcome.replace("_", " "), item["content_id"], item["detail"])
        tokens = self._tokens_report_or_empty()
        if not self.dry_run:
            from partnership_ads.token_health import tokens_section

            self.log.info("%s", tokens_section(tokens))
        retryable = list(retryable_failures(results))
        if retryable:
            error = AirflowException(
                f"{len(retryable)} ad code(s) for business {brand.business_id} failed with retryable errors "
                f"(first: {retryable[0].content_id}: {retryable[0].detail}). Every code obtained is "
                "recorded; the retry looks these media up before posting again."
            )
            waits = [r.wait_seconds for r in retryable if r.wait_seconds]
            if waits and not self.dry_run:
                # A throttle too long for the worker: wait on the triggerer and run again, instead of failing.
                from partnership_ads.ledger import Ledger

                self._defer_while_throttled(Ledger.from_conn_id(self.ledger_conn_id), brand, max(waits))
            # Read by ThrottleAwareRetryPolicy: the retry must not call before Meta's throttle is over.
            error.wait_seconds = max(waits) if waits else None  # type: ignore[attr-defined]
            raise error
        return {
            "business_id": brand.business_id,
            "fb_page_id": brand.fb_page_id,
            "ig_user_id": brand.ig_user_id,
            "meta_conn_id": brand.meta_conn_id,
            "brand": brand.as_dict(),
            "dry_run": bool(self.dry_run),
            "selected": len(results),
            "counts": {outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
            "listed": listed,
            "ledger_id": brand.ledger_id,
            "shard": self.shard,
            "tokens": tokens,
        }

    def _tokens_report_or_empty(self) -> dict[str, Any]:
        from partnership_ads.token_health import tokens_report

        return self._tokens if self._tokens is not None else tokens_report(())
