"""IssueAdCodesOperator: one ad code per AD_READY Instagram item, exactly once, with the owner's token."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from partnership_ads.conn_ids import CREATOR_CONN_PREFIX, DEFAULT_LEDGER_CONN_ID
from partnership_ads.operators.throttle_retry import ThrottleAwareRetryPolicy

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow.sdk import Context

    from partnership_ads.hooks import DiscoveryScope, PartnershipAdsHook
    from partnership_ads.ledger import CodeRow, Ledger

#: Outcomes of one item, as counted in the run summary.
OUTCOMES = (
    "issued",  # a new code was created with the owner's token
    "harvested",  # a code discovery (or a lookup after a crash) already showed, recorded without a POST
    "already_in_ledger",  # the ledger already held the code: nothing to do
    "awaiting_creator_authorisation",  # no connection for the creator: reported, re-evaluated next run
    "failed",  # the POST failed (the item is retried on the next try or run)
    "claimed_elsewhere",  # another attempt holds a live claim on this media right now
    "deferred",  # over the max_codes cap of this run
    "revoked",  # revoked on purpose: not re-issued automatically
    "not_ad_ready",  # a pending item re-examined: no longer AD_READY (or no longer visible); not issued
    "eligibility_lost",  # holds a code but is no longer AD_READY (or visible): reported, never revoked here
    "planned",  # dry run: would be issued
)
_SNAPSHOT_COLUMNS = (
    "content_id",
    "platform",
    "permalink",
    "author_ig_user_id",
    "author_display_name",
    "ad_eligibility",
    "ad_code",
    "source",
    "visible",
)
_LISTED = 50  # items listed by id in the XCom summary per outcome (the ledger holds them all)
#: Outcomes whose items are named in the XCom summary and the run summary's log (a person acts on them).
LISTED_OUTCOMES = (
    "awaiting_creator_authorisation",
    "failed",
    "claimed_elsewhere",
    "deferred",
    "not_ad_ready",
    "eligibility_lost",
)
_DECISION_BATCH = 200  # per-brand decisions written per ledger transaction
_CLAIM_ROUNDS = 5  # claims again of items another attempt held, within one try (each after the claims end)
_MAX_CLAIM_DEFERRALS = 3  # waits handed to the triggerer per try before the try fails naming the items


@dataclass
class _Result:
    content_id: str
    outcome: str
    detail: str | None = None
    retryable: bool = False
    ad_code: str | None = None
    wait_seconds: float | None = None  # a throttle's told wait, when that is why it failed
    row: dict[str, Any] | None = None  # the snapshot row, for an item to try again (claimed elsewhere)


class IssueAdCodesOperator(BaseOperator):
    """Choose the brand's AD_READY Instagram items from the snapshot and obtain a code for each.

    Which items: Instagram items whose ``partnership_info`` entry for this brand (matched on the brand's
    ig_user_id / fb_page_id) has ``ad_eligibility`` AD_READY. An existing ``ad_code`` in that entry is
    harvested, never re-issued. For the rest the owner's credentials are used: the connection
    ``meta_graph_creator_<author ig_user_id>`` when it exists; the brand's own connection when the brand is
    the author; otherwise no call is made and the item is recorded as awaiting the creator's authorisation
    (logged, counted, listed in the summary, and re-evaluated on later runs).

    Exactly once: each media is claimed in the ledger before its POST (see :mod:`partnership_ads.ledger`);
    the code is written the moment it returns. A claim left by a crashed attempt is looked up in discovery
    (``DiscoveryScope.find_ad_code``) before any new POST. Claims are renewed by a heartbeat thread every
    ``claim_lease_seconds / 4`` while the task runs.

    Raises at the end (so Airflow retries) when a POST failed with a retryable error; every code obtained
    before that is already in the ledger. Non-retryable failures are reported and do not fail the task.

    :param snapshot_path: the fetch task's Parquet snapshot.
    :param business_id, fb_page_id, ig_user_id: the brand.
    :param meta_conn_id: the brand's ``meta_graph`` connection.
    :param dry_run: plan only: count what would be issued, call and write nothing.
    :param max_codes: cap on new codes (POSTs) for this brand in this run (None: no cap).
    :param max_concurrency: parallel POSTs (threads sharing one hook per connection).
    :param claim_lease_seconds: lease of an issuance claim; must exceed one POST's worst case.
    """

    template_fields: Sequence[str] = (
        "snapshot_path",
        "business_id",
        "fb_page_id",
        "ig_user_id",
        "meta_conn_id",
        "dry_run",
        "max_codes",
    )
    ui_color = "#fdf2e7"

    def __init__(
        self,
        *,
        snapshot_path: str,
        business_id: str,
        fb_page_id: str | None = None,
        ig_user_id: str | None = None,
        meta_conn_id: str = "meta_graph_default",
        ledger_conn_id: str = DEFAULT_LEDGER_CONN_ID,
        dry_run: bool = False,
        max_codes: int | None = None,
        max_concurrency: int = 8,
        claim_lease_seconds: float = 120.0,
        max_claim_wait_seconds: float = 30.0,
        ledger_id: str | None = None,
        creator_conn_prefix: str = CREATOR_CONN_PREFIX,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("retry_policy") is None:
            kwargs["retry_policy"] = ThrottleAwareRetryPolicy()
        super().__init__(**kwargs)
        self.snapshot_path = snapshot_path
        self.business_id = business_id
        self.fb_page_id = fb_page_id
        self.ig_user_id = ig_user_id
        self.meta_conn_id = meta_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.dry_run = dry_run
        self.max_codes = max_codes
        self.max_concurrency = max_concurrency
        self.claim_lease_seconds = claim_lease_seconds
        self.max_claim_wait_seconds = max_claim_wait_seconds
        self.ledger_id = ledger_id
        self._deferrals = 0
        self.creator_conn_prefix = creator_conn_prefix

    # --- helpers -------------------------------------------------------------------------------------------

    def _owner_conn_id(self, author_ig_user_id: str | None, exists: Callable[[str], bool]) -> str | None:
        if author_ig_user_id:
            creator_conn = f"{self.creator_conn_prefix}{author_ig_user_id}"
            if exists(creator_conn):
                return creator_conn
            if self.ig_user_id and str(author_ig_user_id) == str(self.ig_user_id):
                return self.meta_conn_id
        return None

    def _select(self, ledger: Ledger, business_id: str) -> tuple[list[dict[str, Any]], list[_Result]]:
        """The snapshot's AD_READY Instagram items, and the items that are not AD_READY any more.

        Not AD_READY (or no longer visible to the brand): an item holding a code is ``eligibility_lost``
        (reported; the code is left alone), a pending item looked up again is ``not_ad_ready`` (not issued).
        """
        from partnership_ads.snapshot import SOURCE_LOOKUP, iter_rows

        coded = set(ledger.coded_content_ids(business_id))
        selected: list[dict[str, Any]] = []
        lost: list[_Result] = []
        for row in iter_rows(self.snapshot_path, columns=_SNAPSHOT_COLUMNS):
            content_id = row["content_id"]
            if not content_id:
                continue
            visible = row["visible"] is not False
            if visible and row["platform"] == "INSTAGRAM" and row["ad_eligibility"] == "AD_READY":
                selected.append(row)
                continue
            looked_up = row["source"] == SOURCE_LOOKUP
            if content_id not in coded and not looked_up:
                continue  # never selected by the pipeline: nothing to report
            if not visible:
                now = "no longer visible to the brand (deleted, untagged, or access lost)"
            else:
                now = f"now {row['ad_eligibility'] or 'not tagged for the brand'}"
            if content_id in coded:
                lost.append(_Result(content_id, "eligibility_lost", f"holds a code but is {now}"))
            else:
                lost.append(_Result(content_id, "not_ad_ready", f"pending item is {now}; not issued"))
        return selected, lost

    def execute(self, context: Context) -> dict[str, Any]:
        """Issue and harvest; returns the brand's counts by outcome and the listed items."""
        # Imported here, not at module level: the DAG file imports this module at parse time.
        from partnership_ads.connections import connection_exists
        from partnership_ads.hooks import DiscoveryScope, PartnershipAdsHook
        from partnership_ads.ledger import Ledger

        business_id = str(self.business_id)
        run_id = context["run_id"]
        ti = context["ti"]
        owner = (
            f"{ti.dag_id}/{run_id}/{ti.task_id}/{getattr(ti, 'map_index', -1)}/"
            f"try{getattr(ti, 'try_number', 0)}/{uuid.uuid4().hex[:8]}"
        )
        ledger = Ledger.from_conn_id(self.ledger_conn_id)
        ledger.migrate()
        ledger_id = ledger.check_identity(self.ledger_id, conn_id=self.ledger_conn_id)
        selected, lost = self._select(ledger, business_id)
        self.log.info(
            "Business %s: %s Instagram items are AD_READY for the brand (snapshot %s)%s",
            business_id,
            len(selected),
            self.snapshot_path,
            " [dry run: nothing will be issued or recorded]" if self.dry_run else "",
        )
        for result in lost:
            self.log.warning(
                "%s %s: %s", result.outcome.replace("_", " ").capitalize(), result.content_id, result.detail
            )
        if lost and not self.dry_run:
            ledger.record_brand_items(
                business_id, [(r.content_id, r.outcome, r.detail) for r in lost], run_id=run_id
            )
        hooks: dict[str, PartnershipAdsHook] = {}
        hooks_lock = threading.Lock()

        def hook_for(conn_id: str) -> PartnershipAdsHook:
            with hooks_lock:
                if conn_id not in hooks:
                    hooks[conn_id] = PartnershipAdsHook(meta_conn_id=conn_id)
                return hooks[conn_id]

        scope = DiscoveryScope(
            hook_for(self.meta_conn_id), business_id, fb_page_id=self.fb_page_id, ig_user_id=self.ig_user_id
        )
        exists_cache: dict[str, bool] = {}

        def exists(conn_id: str) -> bool:
            if conn_id not in exists_cache:
                exists_cache[conn_id] = connection_exists(conn_id)
            return exists_cache[conn_id]

        results: list[_Result] = list(lost)
        candidates: list[tuple[dict[str, Any], str]] = []
        # One read of the ledger's codes for every selected item: a daily run walks thousands of items that
        # already hold their code, and a read (and a decision write) per item dominated its cost.
        known = ledger.codes_for([str(row["content_id"]) for row in selected])
        decisions: list[tuple[str, str, str | None]] = []
        for row in selected:
            content_id = str(row["content_id"])
            if row["ad_code"]:
                result = self._harvest(ledger, row, business_id, known.get(content_id))
                results.append(result)
                decisions.append((content_id, result.outcome, None))
                continue
            conn_id = self._owner_conn_id(row["author_ig_user_id"], exists)
            if conn_id is None:
                detail = (
                    f"creator {row['author_display_name'] or '?'} (ig_user_id {row['author_ig_user_id']}) "
                    f"has "
                    f"no connection {self.creator_conn_prefix}{row['author_ig_user_id']}"
                )
                self.log.warning(
                    "Awaiting creator authorisation: %s %s (%s)", content_id, row["permalink"], detail
                )
                decisions.append((content_id, "awaiting_creator_authorisation", detail))
                results.append(_Result(content_id, "awaiting_creator_authorisation", detail))
                continue
            candidates.append((row, conn_id))
        if decisions and not self.dry_run:
            ledger.record_brand_items(business_id, decisions, run_id=run_id)

        if self.dry_run:
            for row, _conn_id in candidates:
                code_row = known.get(str(row["content_id"]))
                outcome = "already_in_ledger" if code_row and code_row.ad_code else "planned"
                results.append(_Result(str(row["content_id"]), outcome))
        elif candidates:
            results.extend(self._issue_all(candidates, ledger, scope, hook_for, owner=owner, run_id=run_id))
        if not self.dry_run:
            conn_of = {str(row["content_id"]): conn_id for row, conn_id in candidates}
            results = self._wait_out_claims(
                results, ledger, scope, hook_for, conn_of, business_id=business_id, owner=owner, run_id=run_id
            )
        return {**self._finish(results, business_id), "ledger_id": ledger_id}

    def resume_after_claims(self, context: Context, event: Any = None, deferrals: int = 1) -> dict[str, Any]:
        """Back from waiting for other attempts' claims to end (see :meth:`_wait_out_claims`): run again."""
        self._deferrals = deferrals
        return self.execute(context)

    def _wait_out_claims(
        self,
        results: list[_Result],
        ledger: Ledger,
        scope: DiscoveryScope,
        hook_for: Callable[[str], PartnershipAdsHook],
        conn_of: dict[str, str],
        *,
        business_id: str,
        owner: str,
        run_id: str,
    ) -> list[_Result]:
        """Never succeed while another attempt's claim blocks an item this run should issue.

        Waits until those claims end (released, recorded, or their lease over), in this process when that
        is at most ``max_claim_wait_seconds`` away, else deferred to the triggerer (no worker slot held);
        then claims the items again: a lease that ended is taken over and looked up before any POST.
        :raises AirflowException: (retryable) naming the items still held after the waits.
        """
        for _round in range(_CLAIM_ROUNDS):
            held = [r for r in results if r.outcome == "claimed_elsewhere" and r.row is not None]
            if not held:
                return results
            holders = ledger.claim_holders([r.content_id for r in held])
            wait = max((left for _holder, left in holders.values()), default=0.0)
            if wait > self.max_claim_wait_seconds:
                if self._deferrals >= _MAX_CLAIM_DEFERRALS:
                    break
                self._defer_for_claims(wait, held)
            self.log.info(
                "%s item(s) are claimed by another attempt; waiting %.1fs for the claims to end, then "
                "claiming them again (a lease that ended is looked up before any POST)",
                len(held),
                max(wait, 0.0),
            )
            if wait > 0:
                time.sleep(wait + 0.1)
            retried = {r.content_id for r in held}
            again: list[_Result] = []
            to_issue = []
            for result in held:
                row = result.row or {}
                if row.get("ad_code"):
                    again.append(self._harvest(ledger, row, business_id, ledger.code(result.content_id)))
                else:
                    to_issue.append((row, conn_of[result.content_id]))
            if to_issue:
                again.extend(self._issue_all(to_issue, ledger, scope, hook_for, owner=owner, run_id=run_id))
            results = [r for r in results if r.content_id not in retried] + again
        held = [r for r in results if r.outcome == "claimed_elsewhere"]
        if not held:
            return results
        named = ", ".join(f"{r.content_id} ({r.detail})" for r in held[:20])
        raise AirflowException(
            f"{len(held)} AD_READY item(s) of business {business_id} are still claimed by another attempt "
            f"that keeps its lease alive: {named}. Nothing was posted for them; the retry claims them again "
            "(a lease that ended is looked up before any POST)."
        )

    def _defer_for_claims(self, wait: float, held: list[_Result]) -> None:
        """Hand the wait to the triggerer: the task resumes in :meth:`resume_after_claims`."""
        import datetime as dt

        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

        self.log.info(
            "%s item(s) are claimed by another attempt for %.0fs more (a killed try's lease?, first: %s); "
            "deferring until the claims end instead of holding a worker slot",
            len(held),
            wait,
            held[0].content_id,
        )
        self.defer(
            trigger=TimeDeltaTrigger(dt.timedelta(seconds=wait + 1)),
            method_name="resume_after_claims",
            kwargs={"deferrals": self._deferrals + 1},
        )

    def _harvest(
        self, ledger: Ledger, row: dict[str, Any], business_id: str, code_row: CodeRow | None
    ) -> _Result:
        """A code discovery shows: ``already_in_ledger`` when the ledger holds it (no write), else kept."""
        from partnership_ads.ledger import HAS_CODE_STATES

        content_id = str(row["content_id"])
        in_ledger = (
            code_row is not None and code_row.ad_code == row["ad_code"] and code_row.state in HAS_CODE_STATES
        )
        if in_ledger or self.dry_run:
            outcome = "already_in_ledger" if in_ledger else "harvested"
            return _Result(content_id, outcome, ad_code=row["ad_code"])
        outcome = ledger.harvest(
            content_id, row["ad_code"], business_id=business_id, owner_ig_user_id=row["author_ig_user_id"]
        )
        if outcome == "revoked":
            return _Result(content_id, "revoked", "revoked on purpose; the code discovery shows is not used")
        if outcome == "claimed_elsewhere":
            return _Result(content_id, outcome, "another attempt holds the media", row=row)
        return _Result(content_id, outcome, ad_code=row["ad_code"])

    def _issue_all(
        self,
        candidates: list[tuple[dict[str, Any], str]],
        ledger: Ledger,
        scope: DiscoveryScope,
        hook_for: Callable[[str], PartnershipAdsHook],
        *,
        owner: str,
        run_id: str,
    ) -> list[_Result]:
        from partnership_ads.graph.errors import GraphThrottleError
        from partnership_ads.ledger import HAS_CODE_STATES, ClaimKind, CodeState, StaleClaimError

        business_id = str(self.business_id)
        posts = 0
        posts_lock = threading.Lock()
        stop = threading.Event()

        def reserve_post() -> bool:
            nonlocal posts
            with posts_lock:
                if self.max_codes is not None and posts >= int(self.max_codes):
                    return False
                posts += 1
                return True

        def unreserve_post() -> None:
            nonlocal posts
            with posts_lock:
                posts -= 1

        def heartbeat() -> None:
            while not stop.wait(self.claim_lease_seconds / 4):
                try:
                    ledger.heartbeat(owner, lease_seconds=self.claim_lease_seconds)
                except Exception:
                    self.log.exception("Claim heartbeat failed (claims may expire and be recovered)")

        def one(row: dict[str, Any], conn_id: str) -> _Result:
            content_id = str(row["content_id"])
            # Reserve a POST before claiming: once the cap is reached, an item is deferred after one read
            # instead of a claim and its release (three writes), unless it carries an unfinished claim,
            # which is still recovered by lookup (that never POSTs beyond the cap).
            reserved = reserve_post()
            if not reserved:
                in_ledger = ledger.code(content_id)
                if in_ledger is not None and in_ledger.state in HAS_CODE_STATES and in_ledger.ad_code:
                    return _Result(content_id, "already_in_ledger", ad_code=in_ledger.ad_code)
                if in_ledger is None or in_ledger.state not in (CodeState.ISSUING, CodeState.FAILED):
                    return _Result(content_id, "deferred", f"over max_codes={self.max_codes}")
            claim = ledger.claim(
                content_id,
                owner=owner,
                lease_seconds=self.claim_lease_seconds,
                business_id=business_id,
                owner_ig_user_id=row["author_ig_user_id"],
            )
            if reserved and claim.kind not in (ClaimKind.FRESH, ClaimKind.RECOVERED):
                unreserve_post()
            if claim.kind == ClaimKind.HAS_CODE:
                return _Result(content_id, "already_in_ledger", ad_code=claim.ad_code)
            if claim.kind == ClaimKind.REVOKED:
                return _Result(content_id, "revoked", "revoked on purpose; not re-issued")
            if claim.kind == ClaimKind.HELD:
                return _Result(content_id, "claimed_elsewhere", f"claimed by {claim.holder}", row=row)
            try:
                if claim.kind == ClaimKind.RECOVERED:
                    # A crashed or stalled attempt may have a POST still in flight: let its time-out pass
                    # (our heartbeat keeps the claim), then look before posting, so it is found, not doubled.
                    if claim.ended_ago is not None:
                        quiet = hook_for(conn_id).settings.timeout - claim.ended_ago
                        if quiet > 0:
                            self.log.info(
                                "Media %s: a lost claim's POST may be in flight; looking it up in %.1fs",
                                content_id,
                                quiet,
                            )
                            time.sleep(quiet)
                    found = scope.find_ad_code(content_id)
                    if found:
                        if reserved:
                            unreserve_post()
                        ledger.record_code(
                            content_id, found, owner=owner, fence=claim.fence, state=CodeState.HARVESTED
                        )
                        return _Result(
                            content_id, "harvested", "adopted after an unfinished claim", ad_code=found
                        )
                if not reserved:
                    ledger.release_claim(content_id, owner=owner, fence=claim.fence)
                    return _Result(content_id, "deferred", f"over max_codes={self.max_codes}")
                hook = hook_for(conn_id)
                # A throttle another task or try was told about: do not call before it is over.
                blocked = ledger.throttled_for(conn_id)
                if blocked > hook.settings.retry.max_throttle_wait_seconds:
                    raise GraphThrottleError(
                        f"connection {conn_id} is throttled for {blocked:.0f}s more (told to an earlier "
                        "attempt); not calling before that",
                        wait_seconds=blocked,
                        method="POST",
                        path=f"{content_id}/partnership_ad_code",
                    )
                if blocked > 0:
                    time.sleep(blocked)
                ad_code = hook.create_partnership_ad_code(content_id, discovery=scope)
                ledger.record_code(
                    content_id, ad_code, owner=owner, fence=claim.fence, state=CodeState.ISSUED
                )
                return _Result(content_id, "issued", ad_code=ad_code)
            except StaleClaimError:
                # This attempt's lease ended while it worked and another attempt took the media over: its
                # write was refused. Settle by lookup once nobody holds the media: never a second POST.
                return self._settle_stale(content_id, row, ledger, scope, business_id)
            except Exception as exc:
                detail = _describe_error(exc)
                ledger.record_failure(content_id, owner=owner, fence=claim.fence, error=detail)
                wait = getattr(exc, "wait_seconds", None)
                if isinstance(exc, GraphThrottleError) and wait:
                    ledger.record_throttle(conn_id, wait_seconds=float(wait))
                return _Result(
                    content_id,
                    "failed",
                    detail,
                    retryable=bool(getattr(exc, "retryable", True)),
                    wait_seconds=getattr(exc, "wait_seconds", None),
                )

        beat = threading.Thread(target=heartbeat, name="claim-heartbeat", daemon=True)
        beat.start()
        results: list[_Result] = []
        try:
            workers = max(1, int(self.max_concurrency))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="issue") as pool:
                futures = [pool.submit(one, row, conn_id) for row, conn_id in candidates]
                decided: list[tuple[str, str, str | None]] = []
                for n, future in enumerate(futures, start=1):
                    result = future.result()
                    results.append(result)
                    # Per-brand decisions are the run's report, not the exactly-once record (the claim
                    # and the code, written by the worker): they go to the ledger in batches.
                    decided.append((result.content_id, result.outcome, result.detail))
                    if len(decided) >= _DECISION_BATCH or n == len(futures):
                        ledger.record_brand_items(business_id, decided, run_id=run_id)
                        decided = []
                    if result.outcome == "failed":
                        self.log.error("Failed %s: %s", result.content_id, result.detail)
                    if n % 25 == 0 or n == len(futures):
                        counts = Counter(r.outcome for r in results)
                        self.log.info(
                            "Issuance progress %s/%s: %s",
                            n,
                            len(futures),
                            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                        )
        finally:
            stop.set()
            beat.join(timeout=5)
        return results

    def _settle_stale(
        self,
        content_id: str,
        row: dict[str, Any],
        ledger: Ledger,
        scope: DiscoveryScope,
        business_id: str,
    ) -> _Result:
        """The outcome of a media whose claim this attempt lost mid-work, by lookup once nobody holds it."""
        deadline = time.monotonic() + self.claim_lease_seconds * 2
        while ledger.claim_holders([content_id]) and time.monotonic() < deadline:
            time.sleep(min(1.0, self.claim_lease_seconds / 4))
        if ledger.claim_holders([content_id]):
            return _Result(
                content_id,
                "failed",
                "this attempt's claim was taken over mid-POST and the new holder has not finished; the next "
                "try settles it by lookup",
                retryable=True,
            )
        current = scope.find_ad_code(content_id)
        recorded = ledger.code(content_id)
        if recorded is not None and recorded.state == "revoked":
            self.log.warning(
                "Media %s: this attempt's claim was lost and the code has since been revoked", content_id
            )
            return _Result(
                content_id, "revoked", "revoked while this attempt's claim was lost; not re-issued"
            )
        if not current:
            return _Result(
                content_id,
                "failed",
                "this attempt's claim was taken over mid-POST and discovery shows no code; the next try "
                "looks it up again before any POST",
                retryable=True,
            )
        outcome = ledger.harvest(
            content_id, current, business_id=business_id, owner_ig_user_id=row["author_ig_user_id"]
        )
        self.log.warning(
            "Media %s: this attempt's claim was taken over while its POST was in flight; settled by lookup "
            "(%s)",
            content_id,
            outcome,
        )
        if outcome == "revoked":
            return _Result(content_id, "revoked", "revoked on purpose; not re-issued")
        return _Result(content_id, outcome, "settled by lookup after a lost claim", ad_code=current)

    def _finish(self, results: list[_Result], business_id: str) -> dict[str, Any]:
        from partnership_ads.summary import format_table

        counts = Counter(r.outcome for r in results)
        listed = {
            outcome: [
                {"content_id": r.content_id, "detail": r.detail} for r in results if r.outcome == outcome
            ][:_LISTED]
            for outcome in LISTED_OUTCOMES
            if counts.get(outcome)
        }
        summary = {
            "business_id": business_id,
            "fb_page_id": self.fb_page_id,
            "ig_user_id": self.ig_user_id,
            "meta_conn_id": self.meta_conn_id,
            "dry_run": bool(self.dry_run),
            "selected": len(results),
            "counts": {outcome: counts.get(outcome, 0) for outcome in OUTCOMES},
            "listed": listed,
        }
        rows = [[outcome, counts.get(outcome, 0)] for outcome in OUTCOMES if counts.get(outcome)]
        self.log.info(
            "Issuance for business %s%s:\n%s",
            business_id,
            " (dry run)" if self.dry_run else "",
            format_table(["outcome", "items"], rows or [["(no AD_READY Instagram items)", 0]]),
        )
        for outcome in ("awaiting_creator_authorisation", "not_ad_ready", "eligibility_lost"):
            for item in listed.get(outcome, []):
                self.log.info("  %s: %s (%s)", outcome.replace("_", " "), item["content_id"], item["detail"])
        retryable = [r for r in results if r.outcome == "failed" and r.retryable]
        if retryable:
            error = AirflowException(
                f"{len(retryable)} ad code(s) for business {business_id} failed with retryable errors "
                f"(first: {retryable[0].content_id}: {retryable[0].detail}). Every code obtained is "
                f"recorded; "
                "the retry looks these media up before posting again."
            )
            waits = [r.wait_seconds for r in retryable if r.wait_seconds]
            # Read by ThrottleAwareRetryPolicy: the retry must not call before Meta's throttle is over.
            error.wait_seconds = max(waits) if waits else None  # type: ignore[attr-defined]
            raise error
        return summary


def _describe_error(exc: BaseException) -> str:
    """An error for the log and the ledger: class, Graph code/subcode/fbtrace_id, message (no secrets).

    At most 500 characters, scrubbed whole before the cut: a cut inside a credential would leave a piece that
    no rule recognises (any exception may land here, not only the hook's already scrubbed ones).
    """
    from partnership_ads.graph.errors import excerpt

    parts = [type(exc).__name__]
    for attr in ("http_status", "code", "error_subcode", "fbtrace_id"):
        value = getattr(exc, attr, None)
        if value is not None:
            parts.append(f"{attr}={value}")
    message = getattr(exc, "message", None) or str(exc)
    return excerpt(f"{' '.join(parts)}: {message}", limit=500)
