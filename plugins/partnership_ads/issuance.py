"""Issuance: one ad code per AD_READY Instagram item of a brand, exactly once, with the owner's token.

:class:`Issuance` is one try's work for one brand, apart from Airflow: choosing the items from the snapshot,
harvesting the codes discovery already shows, claiming each media in the ledger before its POST, the
``max_codes`` budget, the claim heartbeat, waiting out other attempts' claims, and settling a claim lost
mid-POST by lookup. :class:`~partnership_ads.operators.issue.IssueAdCodesOperator` adapts it to a task
(arguments, deferral, the failure that makes Airflow retry).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from partnership_ads.conn_ids import CREATOR_CONN_PREFIX

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator

    from airflow.sdk import Connection

    from partnership_ads.brand import Brand
    from partnership_ads.hooks import DiscoveryScope, PartnershipAdsHook
    from partnership_ads.ledger import Claim, CodeRecord, CodeRow, Ledger, PostBudgets
    from partnership_ads.token_health import TokenChecker, TokenHealth

#: Outcomes of one item, as counted in the run summary.
OUTCOMES = (
    "issued",  # a new code was created with the owner's token
    "harvested",  # a code discovery (or a lookup after a crash) already showed, recorded without a POST
    "already_in_ledger",  # the ledger already held the code: nothing to do
    "awaiting_creator_authorisation",  # no connection for the creator: reported, re-evaluated next run
    "awaiting_creator_reauthorisation",  # the creator's token is expired, invalid or lacks a scope: no POST
    "failed",  # the POST failed (the item is retried on the next try or run)
    "claimed_elsewhere",  # another attempt holds a live claim on this media right now
    "over_max_codes",  # over the max_codes cap of this run (issued by a later run)
    "revoked",  # revoked on purpose: not re-issued automatically
    "not_ad_ready",  # a pending item re-examined: no longer AD_READY (or no longer visible); not issued
    "eligibility_lost",  # holds a code but is no longer AD_READY (or visible): reported, never revoked here
    "planned",  # dry run: would be issued
)
#: Outcomes whose items are named in the XCom summary and the run summary's log (a person acts on them).
LISTED_OUTCOMES = (
    "awaiting_creator_authorisation",
    "awaiting_creator_reauthorisation",
    "failed",
    "claimed_elsewhere",
    "over_max_codes",
    "not_ad_ready",
    "eligibility_lost",
)
SNAPSHOT_COLUMNS = (
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
LISTED = 50  # items listed by id in the XCom summary per outcome (the ledger holds them all)
DECISION_BATCH = 200  # per-brand decisions written per ledger transaction
CLAIM_ROUNDS = 5  # claims again of items another attempt held, within one try (each after the claims end)
CLAIM_BATCH = 50  # media claimed per ledger transaction
RECORD_BATCH = 50  # codes recorded per ledger transaction (at most; a batch's last POST flushes sooner)
BATCHES_IN_FLIGHT = 3  # claimed batches at once: one stays queued for the pool while the next is claimed


@dataclass
class ItemResult:
    """What became of one item in this try."""

    content_id: str
    outcome: str
    detail: str | None = None
    retryable: bool = False
    ad_code: str | None = None
    wait_seconds: float | None = None  # a throttle's told wait, when that is why it failed
    row: dict[str, Any] | None = None  # the snapshot row, for an item to try again (claimed elsewhere)


@dataclass(frozen=True)
class ClaimWait:
    """Other attempts hold claims on items of this run for ``seconds`` more: too long to wait in a worker."""

    seconds: float
    held: list[ItemResult]


class CreatorReauthorisationNeededError(RuntimeError):
    """The creator's token was found dead in this run: the item is not POSTed (raised before the POST)."""


class ClaimsHeldError(RuntimeError):
    """Items are still claimed by another attempt after every wait: nothing was posted for them."""


@dataclass(frozen=True)
class IssuanceSettings:
    """The knobs of :class:`Issuance` (the operator's arguments of the same names)."""

    dry_run: bool = False
    max_codes: int | None = None
    max_concurrency: int = 8
    claim_lease_seconds: float = 120.0
    max_claim_wait_seconds: float = 30.0
    creator_conn_prefix: str = CREATOR_CONN_PREFIX
    #: A creator token expiring within this many days is reported ``expiring`` (still used).
    token_expiry_warning_days: int = 7
    #: How long a creator token's recorded check is reused (0: ask debug_token every run).
    token_check_cache_hours: float = 12.0


class _PostBudget:
    """The ``max_codes`` cap on POSTs, shared by the worker threads and, through the ledger's
    :class:`~partnership_ads.ledger.budgets.PostBudgets`, by every task of the brand's run (shards).

    POSTs are reserved from the ledger a batch at a time; what an item gives back is kept for this task's
    next batch and returned to the ledger by :meth:`close`. Without a ledger the cap is this object's alone.
    """

    def __init__(
        self,
        limit: int | None,
        ledger: PostBudgets | None = None,
        *,
        run_id: str = "",
        business_id: str = "",
    ) -> None:
        self.limit = limit
        self.used = 0
        self._ledger = ledger
        self._run_id = run_id
        self._business_id = business_id
        self._spare = 0  # reserved from the ledger, given back by an item, not yet used again
        self._lock = threading.Lock()

    def reserve(self, n: int = 1) -> int:
        """Reserve up to ``n`` POSTs; returns how many were granted (truthy when any)."""
        if n <= 0:
            return 0
        with self._lock:
            if self.limit is None:
                granted = n
            elif self._ledger is None:
                granted = max(0, min(n, self.limit - self.used))
            else:
                granted = min(n, self._spare)
                self._spare -= granted
                if granted < n:
                    granted += self._ledger.reserve_posts(
                        self._run_id, self._business_id, limit=self.limit, n=n - granted
                    )
            self.used += granted
            return granted

    def release(self, n: int = 1) -> None:
        """Give back ``n`` reserved POSTs that were not made."""
        with self._lock:
            self.used -= n
            if self.limit is not None and self._ledger is not None:
                self._spare += n

    def close(self) -> None:
        """Return what this task reserved and did not use to the run's shared budget."""
        with self._lock:
            spare, self._spare = self._spare, 0
        if spare and self._ledger is not None:
            self._ledger.release_posts(self._run_id, self._business_id, spare)


@dataclass
class _Work:
    """One item to claim and POST: its snapshot row, the connection of its owner, its POST reservation."""

    row: dict[str, Any]
    conn_id: str
    reserved: bool = False
    content_id: str = field(init=False)
    claimed_at: float = 0.0  # time.monotonic() just before the claim (or its last confirmation) was sent
    #: This item's result, set by whichever thread settles it (batched issuance).
    result: Future[ItemResult] = field(init=False, repr=False, default_factory=Future)

    def __post_init__(self) -> None:
        self.content_id = str(self.row["content_id"])


class Issuance:
    """One try's issuance for one brand.

    Which items: Instagram items whose ``partnership_info`` entry for this brand has ``ad_eligibility``
    AD_READY. An existing ``ad_code`` is harvested, never re-issued. The rest are issued with the owner's
    credentials: the connection ``<creator_conn_prefix><author ig_user_id>`` when it exists, the brand's own
    when the brand is the author, else none (``awaiting_creator_authorisation``).

    Exactly once: each media is claimed in the ledger before its POST and its code written the moment it
    returns; a claim left by a crashed attempt is looked up in discovery before any POST. Claims are renewed
    every ``claim_lease_seconds / 4`` while POSTs run.

    :param owner: this attempt's claim owner (unique per try).
    :param log: where progress goes (the task's logger).
    :param hook_factory: builds a hook for a connection id (default :class:`PartnershipAdsHook`).
    :param connection_exists: whether a connection id is defined (default: Airflow's lookup).
    :param sleep: the clock's wait (tests pass a fake clock's).
    :param monotonic: the clock's reading (tests pass a fake clock's).
    :param content_ids: only these items of the snapshot (a creator shard planned by
        :func:`partnership_ads.issuance_plan.plan_issuance`); None: all of them.
    """

    def __init__(
        self,
        brand: Brand,
        ledger: Ledger,
        *,
        snapshot_path: str,
        owner: str,
        run_id: str,
        settings: IssuanceSettings,
        log: Any,
        hook_factory: Callable[[str], PartnershipAdsHook] | None = None,
        connection_exists: Callable[[str], bool] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        content_ids: Collection[str] | None = None,
    ) -> None:
        #: Connections read to tell whether they exist, handed to their hook so that each is read (and its
        #: secrets registered with the masker) once per try.
        self._connections: dict[str, Connection] = {}
        if hook_factory is None:
            from partnership_ads.hooks import PartnershipAdsHook

            def hook_factory(conn_id: str) -> PartnershipAdsHook:
                return PartnershipAdsHook(meta_conn_id=conn_id, connection=self._connections.get(conn_id))

        if connection_exists is None:
            from partnership_ads.connections import resolve_connection

            def connection_exists(conn_id: str) -> bool:
                found = resolve_connection(conn_id)
                if found is not None:
                    self._connections[conn_id] = found
                return found is not None

        self.brand = brand
        self.ledger = ledger
        self.snapshot_path = snapshot_path
        self.owner = owner
        self.run_id = run_id
        self.settings = settings
        self.log = log
        self.sleep = sleep
        self.monotonic = monotonic
        self._hook_factory = hook_factory
        self._connection_exists = connection_exists
        self._hooks: dict[str, PartnershipAdsHook] = {}
        self._hooks_lock = threading.Lock()
        self._exists: dict[str, bool] = {}
        self._conn_of: dict[str, str] = {}
        self._scope: DiscoveryScope | None = None
        self._token_checker: TokenChecker | None = None
        #: A shard's items (:mod:`partnership_ads.issuance_plan`); None: every item of the snapshot.
        self.content_ids = None if content_ids is None else frozenset(str(c) for c in content_ids)
        # Throttles per connection as this try knows them (monotonic deadlines): read from the ledger once per
        # claimed batch, and updated at once by this try's own throttled answers.
        self._throttled_until: dict[str, float] = {}
        self._throttles_lock = threading.Lock()
        self._beat: _Heartbeat | None = None  # the running heartbeat of batched issuance

    # --- connections -----------------------------------------------------------------------------------

    def hook(self, conn_id: str) -> PartnershipAdsHook:
        """The hook of ``conn_id``, one per connection shared by the worker threads."""
        with self._hooks_lock:
            if conn_id not in self._hooks:
                self._hooks[conn_id] = self._hook_factory(conn_id)
            return self._hooks[conn_id]

    @property
    def scope(self) -> DiscoveryScope:
        """The brand's discovery access, where a media is looked up when a POST's outcome is unknown."""
        if self._scope is None:
            from partnership_ads.hooks import DiscoveryScope

            self._scope = DiscoveryScope(
                self.hook(self.brand.meta_conn_id),
                self.brand.business_id,
                fb_page_id=self.brand.fb_page_id,
                ig_user_id=self.brand.ig_user_id,
            )
        return self._scope

    def owner_conn_id(self, author_ig_user_id: str | None) -> str | None:
        """The connection to issue an author's code with: the creator's, the brand's own, or None."""
        if not author_ig_user_id:
            return None
        creator_conn = f"{self.settings.creator_conn_prefix}{author_ig_user_id}"
        if creator_conn not in self._exists:
            self._exists[creator_conn] = self._connection_exists(creator_conn)
        if self._exists[creator_conn]:
            return creator_conn
        if self.brand.ig_user_id and str(author_ig_user_id) == str(self.brand.ig_user_id):
            return self.brand.meta_conn_id
        return None

    # --- the first pass --------------------------------------------------------------------------------

    def select(self) -> tuple[list[dict[str, Any]], list[ItemResult]]:
        """The snapshot's AD_READY Instagram items, and the items that are not AD_READY any more.

        Not AD_READY (or no longer visible to the brand): an item holding a code is ``eligibility_lost``
        (reported; the code is left alone), a pending item looked up again is ``not_ad_ready`` (not issued).
        """
        from partnership_ads.snapshot import SOURCE_LOOKUP, iter_rows

        only = self.content_ids
        # The brand's coded items, read when a row is not AD_READY: a shard's items, planned as AD_READY from
        # this same snapshot, never are, so a shard does not read them.
        coded: set[str] | None = None
        selected: list[dict[str, Any]] = []
        lost: list[ItemResult] = []
        for row in iter_rows(self.snapshot_path, columns=SNAPSHOT_COLUMNS, content_ids=only):
            content_id = row["content_id"]
            if not content_id:
                continue
            visible = row["visible"] is not False
            if visible and row["platform"] == "INSTAGRAM" and row["ad_eligibility"] == "AD_READY":
                selected.append(row)
                continue
            if coded is None:
                coded = set(self.ledger.coded_content_ids(self.brand.business_id))
            looked_up = row["source"] == SOURCE_LOOKUP
            if content_id not in coded and not looked_up:
                continue  # never selected by the pipeline: nothing to report
            if not visible:
                now = "no longer visible to the brand (deleted, untagged, or access lost)"
            else:
                now = f"now {row['ad_eligibility'] or 'not tagged for the brand'}"
            if content_id in coded:
                lost.append(ItemResult(content_id, "eligibility_lost", f"holds a code but is {now}"))
            else:
                lost.append(ItemResult(content_id, "not_ad_ready", f"pending item is {now}; not issued"))
        return selected, lost

    def run(self) -> list[ItemResult]:
        """Select, harvest, and issue (or, in a dry run, plan); returns every item's result.

        Items another attempt holds come back as ``claimed_elsewhere``: :meth:`wait_out_claims` is next.
        """
        business_id = self.brand.business_id
        dry_run = self.settings.dry_run
        selected, lost = self.select()
        self.log.info(
            "Business %s: %s Instagram items are AD_READY for the brand (snapshot %s)%s",
            business_id,
            len(selected),
            self.snapshot_path,
            " [dry run: nothing will be issued or recorded]" if dry_run else "",
        )
        for result in lost:
            self.log.warning(
                "%s %s: %s", result.outcome.replace("_", " ").capitalize(), result.content_id, result.detail
            )
        if lost and not dry_run:
            self._record_decisions(lost)
        results: list[ItemResult] = list(lost)
        work: list[_Work] = []
        # One read of the ledger's codes for every selected item: a daily run walks thousands of items that
        # already hold their code, and a read (and a decision write) per item dominated its cost.
        known = self.ledger.codes_for([str(row["content_id"]) for row in selected])
        decisions: list[tuple[str, str, str | None]] = []
        for row in selected:
            content_id = str(row["content_id"])
            if row["ad_code"]:
                result = self.harvest(row, known.get(content_id))
                results.append(result)
                decisions.append((content_id, result.outcome, None))
                continue
            conn_id = self.owner_conn_id(row["author_ig_user_id"])
            if conn_id is None:
                detail = (
                    f"creator {row['author_display_name'] or '?'} (ig_user_id {row['author_ig_user_id']}) "
                    f"has no connection {self.settings.creator_conn_prefix}{row['author_ig_user_id']}"
                )
                self.log.warning(
                    "Awaiting creator authorisation: %s %s (%s)", content_id, row["permalink"], detail
                )
                decisions.append((content_id, "awaiting_creator_authorisation", detail))
                results.append(ItemResult(content_id, "awaiting_creator_authorisation", detail))
                continue
            self._conn_of[content_id] = conn_id
            work.append(_Work(row, conn_id))
        if work and not dry_run:
            work, waiting = self.screen_creator_tokens(work)
            decisions.extend((r.content_id, r.outcome, r.detail) for r in waiting)
            results.extend(waiting)
        if decisions and not dry_run:
            self.ledger.record_brand_items(business_id, decisions, run_id=self.run_id)
        if dry_run:
            for item in work:
                code_row = known.get(item.content_id)
                outcome = "already_in_ledger" if code_row and code_row.ad_code else "planned"
                results.append(ItemResult(item.content_id, outcome))
        elif work:
            results.extend(self.issue_all(work))
        return results

    def harvest(self, row: dict[str, Any], code_row: CodeRow | None) -> ItemResult:
        """A code discovery shows: ``already_in_ledger`` when the ledger holds it (no write), else kept."""
        from partnership_ads.ledger import HAS_CODE_STATES

        content_id = str(row["content_id"])
        in_ledger = (
            code_row is not None and code_row.ad_code == row["ad_code"] and code_row.state in HAS_CODE_STATES
        )
        if in_ledger or self.settings.dry_run:
            outcome = "already_in_ledger" if in_ledger else "harvested"
            return ItemResult(content_id, outcome, ad_code=row["ad_code"])
        outcome = self.ledger.harvest(
            content_id,
            row["ad_code"],
            business_id=self.brand.business_id,
            owner_ig_user_id=row["author_ig_user_id"],
        )
        if outcome == "revoked":
            return ItemResult(
                content_id, "revoked", "revoked on purpose; the code discovery shows is not used"
            )
        if outcome == "claimed_elsewhere":
            return ItemResult(content_id, outcome, "another attempt holds the media", row=row)
        return ItemResult(content_id, outcome, ad_code=row["ad_code"])

    def _record_decisions(self, results: list[ItemResult]) -> None:
        self.ledger.record_brand_items(
            self.brand.business_id, [(r.content_id, r.outcome, r.detail) for r in results], run_id=self.run_id
        )

    # --- claims and POSTs ------------------------------------------------------------------------------

    def issue_all(self, work: list[_Work]) -> list[ItemResult]:
        """Claim and POST the items on ``max_concurrency`` threads, the claims renewed meanwhile.

        Ledger writes are batched (issue 13): up to :data:`CLAIM_BATCH` media are claimed per transaction
        (``claim_many``), and obtained codes are recorded up to :data:`RECORD_BATCH` per transaction
        (``record_codes``) as soon as that many wait or their batch has no POST left in flight. The crash
        guarantee is unchanged: a code obtained and not yet recorded when the process dies stays under this
        attempt's claim; once its lease ends the next attempt takes it over and finds the code by lookup
        before any POST. Results come back in ``work``'s order.
        """
        budget = self._post_budget()
        report = _Report(self, len(work))
        try:
            with self._heartbeat() as self._beat:
                workers = max(1, int(self.settings.max_concurrency))
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="issue") as pool:
                    recorder = _Recorder(self)
                    slots = threading.Semaphore(BATCHES_IN_FLIGHT)
                    seen: set[str] = set()
                    for start in range(0, len(work), CLAIM_BATCH):
                        slots.acquire()
                        batch = _Batch(work[start : start + CLAIM_BATCH], slots)
                        self._issue_batch(batch, budget, pool, recorder, seen)
                        report.drain(work, block=False)
                    report.drain(work, block=True)
        finally:
            self._beat = None
            budget.close()
        return report.results

    def _post_budget(self) -> _PostBudget:
        """The ``max_codes`` cap, shared through the ledger by every task of this brand's run."""
        if self.settings.max_codes is None:
            return _PostBudget(None)
        return _PostBudget(
            int(self.settings.max_codes),
            self.ledger,
            run_id=self.run_id,
            business_id=self.brand.business_id,
        )

    def _issue_batch(
        self,
        batch: _Batch,
        budget: _PostBudget,
        pool: ThreadPoolExecutor,
        recorder: _Recorder,
        seen: set[str],
    ) -> None:
        """Reserve POSTs for a batch, claim it in one transaction, and hand the claimed items to the pool."""
        from partnership_ads.ledger import HAS_CODE_STATES, ClaimKind, CodeState

        items: list[_Work] = []
        for item in batch.items:
            if item.content_id in seen:  # the same media twice: this attempt already holds it
                batch.finish(
                    item, ItemResult(item.content_id, "claimed_elsewhere", f"claimed by {self.owner}")
                )
                continue
            seen.add(item.content_id)
            items.append(item)
        # Reserve before claiming, as issue_one does: over the cap an item costs one read, not a claim and
        # its release, unless it carries an unfinished claim, which is still recovered by lookup (no POST).
        granted = budget.reserve(len(items))
        to_claim: list[_Work] = []
        for n, item in enumerate(items):
            item.reserved = n < granted
            if item.reserved:
                to_claim.append(item)
        unreserved = items[granted:]
        if unreserved:
            in_ledger = self.ledger.codes_for([item.content_id for item in unreserved])
            for item in unreserved:
                row = in_ledger.get(item.content_id)
                if row is not None and row.state in HAS_CODE_STATES and row.ad_code:
                    batch.finish(item, ItemResult(item.content_id, "already_in_ledger", ad_code=row.ad_code))
                elif row is None or row.state not in (CodeState.ISSUING, CodeState.FAILED):
                    batch.finish(item, self._over_budget(item.content_id))
                else:
                    to_claim.append(item)
        claimed_at = time.monotonic()
        for item in to_claim:
            item.claimed_at = claimed_at
        claims = self.ledger.claim_many(
            [(item.content_id, item.row["author_ig_user_id"]) for item in to_claim],
            owner=self.owner,
            lease_seconds=self.settings.claim_lease_seconds,
            business_id=self.brand.business_id,
        )
        posting: list[tuple[_Work, Claim]] = []
        for item in to_claim:
            claim = claims[item.content_id]
            if item.reserved and claim.kind not in (ClaimKind.FRESH, ClaimKind.RECOVERED):
                budget.release()
            if claim.kind == ClaimKind.HAS_CODE:
                batch.finish(item, ItemResult(item.content_id, "already_in_ledger", ad_code=claim.ad_code))
            elif claim.kind == ClaimKind.REVOKED:
                batch.finish(
                    item, ItemResult(item.content_id, "revoked", "revoked on purpose; not re-issued")
                )
            elif claim.kind == ClaimKind.HELD:
                batch.finish(
                    item,
                    ItemResult(
                        item.content_id, "claimed_elsewhere", f"claimed by {claim.holder}", row=item.row
                    ),
                )
            else:
                posting.append((item, claim))
        if posting:
            self._read_throttles({item.conn_id for item, _claim in posting})
        batch.in_flight = len(posting)
        for item, claim in posting:
            pool.submit(self._obtain_in_batch, item, claim, budget, batch, recorder)

    def _obtain_in_batch(
        self, item: _Work, claim: Claim, budget: _PostBudget, batch: _Batch, recorder: _Recorder
    ) -> None:
        """A worker thread's part: the claimed media's code, by lookup (RECOVERED) or POST, to be recorded."""
        from partnership_ads.graph.errors import describe_error

        try:
            outcome = self._obtain(item, claim, budget)
        except Exception as exc:  # e.g. the ledger unreachable while a failure was recorded
            outcome = ItemResult(item.content_id, "failed", describe_error(exc), retryable=True)
        recorder.done(item, outcome, batch)

    def _obtain(self, item: _Work, claim: Claim, budget: _PostBudget) -> _Obtained | ItemResult:
        """The code of a claimed media (to record), or its final result (over the cap, failed)."""
        from partnership_ads.ledger import ClaimKind, CodeRecord, CodeState

        content_id = item.content_id
        try:
            if claim.kind == ClaimKind.RECOVERED:
                found = self._recover(item, claim)
                if found:
                    if item.reserved:
                        budget.release()
                    return _Obtained(
                        CodeRecord(content_id, found, claim.fence, CodeState.HARVESTED),
                        ItemResult(
                            content_id, "harvested", "adopted after an unfinished claim", ad_code=found
                        ),
                    )
            if not item.reserved:
                self.ledger.release_claim(content_id, owner=self.owner, fence=claim.fence)
                return self._over_budget(content_id)
            if not self._still_held(item, claim):
                # The lease may have ended while the item waited (a stalled process): another attempt may
                # have taken the media over and posted. Settle by lookup, never by a second POST.
                return self.settle_stale(item.row)
            ad_code = self._post(item)
            return _Obtained(
                CodeRecord(content_id, ad_code, claim.fence, CodeState.ISSUED),
                ItemResult(content_id, "issued", ad_code=ad_code),
            )
        except Exception as exc:
            return self._failed(item, claim, exc)

    def _still_held(self, item: _Work, claim: Claim) -> bool:
        """Whether this attempt's claim is surely live now; confirmed in the ledger when it cannot tell.

        A batch is claimed before its POSTs are sent, so a POST may start long after its claim. It starts
        only while the lease is live (the attempt that takes a lease over waits out a POST started before the
        lease ended), counting the claim and the heartbeat's unbroken renewals, with a quarter lease to spare.
        """
        beat = self._beat
        if beat is None or time.monotonic() + beat.margin < beat.live_until(item.claimed_at):
            return True
        sent = time.monotonic()
        held = self.ledger.renew_claim(
            item.content_id,
            owner=self.owner,
            fence=claim.fence,
            lease_seconds=self.settings.claim_lease_seconds,
        )
        if held:
            item.claimed_at = sent
        else:
            self.log.warning(
                "Media %s: this attempt's claim ended before its POST (the process stalled?) and another "
                "attempt took it over; not posting, settling by lookup",
                item.content_id,
            )
        return held

    def _record(self, obtained: list[tuple[_Work, _Obtained, _Batch]]) -> None:
        """Record obtained codes in one transaction; settle the refused (stale) ones by lookup."""
        from partnership_ads.graph.errors import describe_error

        try:
            stale = set(self.ledger.record_codes([o.record for _, o, _ in obtained], owner=self.owner))
        except Exception as exc:
            detail = describe_error(exc)
            self.log.error(
                "%s code(s) were obtained but could not be recorded (%s): their claims stay until the lease "
                "ends, and the next attempt finds each code by lookup, never by a second POST",
                len(obtained),
                detail,
            )
            for item, _, batch in obtained:
                batch.finish(
                    item,
                    ItemResult(
                        item.content_id,
                        "failed",
                        f"the code was obtained but not recorded ({detail}); the next try finds it by lookup",
                        retryable=True,
                    ),
                )
            return
        for item, done, batch in obtained:
            if item.content_id not in stale:
                batch.finish(item, done.result)
                continue
            # This attempt's lease ended while it worked and another attempt took the media over: its write
            # was refused. Settle by lookup once nobody holds the media: never a second POST.
            try:
                result = self.settle_stale(item.row)
            except Exception as exc:
                result = ItemResult(item.content_id, "failed", describe_error(exc), retryable=True)
            batch.finish(item, result)

    def _heartbeat(self) -> _Heartbeat:
        return _Heartbeat(self.ledger, self.owner, self.settings.claim_lease_seconds, self.log)

    def issue_one(self, item: _Work, budget: _PostBudget) -> ItemResult:
        """Claim one media and obtain its code: recovered by lookup, or POSTed within the budget."""
        from partnership_ads.ledger import HAS_CODE_STATES, ClaimKind, CodeState, StaleClaimError

        content_id = item.content_id
        # Reserve a POST before claiming: once the cap is reached, an item is over_max_codes after one read
        # instead of a claim and its release (three writes), unless it carries an unfinished claim, which is
        # still recovered by lookup (that never POSTs beyond the cap).
        item.reserved = budget.reserve() > 0
        if not item.reserved:
            in_ledger = self.ledger.code(content_id)
            if in_ledger is not None and in_ledger.state in HAS_CODE_STATES and in_ledger.ad_code:
                return ItemResult(content_id, "already_in_ledger", ad_code=in_ledger.ad_code)
            if in_ledger is None or in_ledger.state not in (CodeState.ISSUING, CodeState.FAILED):
                return self._over_budget(content_id)
        claim = self.ledger.claim(
            content_id,
            owner=self.owner,
            lease_seconds=self.settings.claim_lease_seconds,
            business_id=self.brand.business_id,
            owner_ig_user_id=item.row["author_ig_user_id"],
        )
        if item.reserved and claim.kind not in (ClaimKind.FRESH, ClaimKind.RECOVERED):
            budget.release()
        if claim.kind == ClaimKind.HAS_CODE:
            return ItemResult(content_id, "already_in_ledger", ad_code=claim.ad_code)
        if claim.kind == ClaimKind.REVOKED:
            return ItemResult(content_id, "revoked", "revoked on purpose; not re-issued")
        if claim.kind == ClaimKind.HELD:
            return ItemResult(content_id, "claimed_elsewhere", f"claimed by {claim.holder}", row=item.row)
        try:
            if claim.kind == ClaimKind.RECOVERED:
                found = self._recover(item, claim)
                if found:
                    if item.reserved:
                        budget.release()
                    self.ledger.record_code(
                        content_id, found, owner=self.owner, fence=claim.fence, state=CodeState.HARVESTED
                    )
                    return ItemResult(
                        content_id, "harvested", "adopted after an unfinished claim", ad_code=found
                    )
            if not item.reserved:
                self.ledger.release_claim(content_id, owner=self.owner, fence=claim.fence)
                return self._over_budget(content_id)
            ad_code = self._post(item)
            self.ledger.record_code(
                content_id, ad_code, owner=self.owner, fence=claim.fence, state=CodeState.ISSUED
            )
            return ItemResult(content_id, "issued", ad_code=ad_code)
        except StaleClaimError:
            # This attempt's lease ended while it worked and another attempt took the media over: its write
            # was refused. Settle by lookup once nobody holds the media: never a second POST.
            return self.settle_stale(item.row)
        except Exception as exc:
            return self._failed(item, claim, exc)

    def _over_budget(self, content_id: str) -> ItemResult:
        return ItemResult(content_id, "over_max_codes", f"over max_codes={self.settings.max_codes}")

    def _recover(self, item: _Work, claim: Claim) -> str | None:
        """The code of a media whose claim was taken over from a lost attempt, by lookup (None: none)."""
        # A crashed or stalled attempt may have a POST still in flight: let its time-out pass (our heartbeat
        # keeps the claim), then look before posting, so it is found, not doubled.
        if claim.ended_ago is not None:
            quiet = self.hook(item.conn_id).settings.timeout - claim.ended_ago
            if quiet > 0:
                self.log.info(
                    "Media %s: a lost claim's POST may be in flight; looking it up in %.1fs",
                    item.content_id,
                    quiet,
                )
                self.sleep(quiet)
        return self.scope.find_ad_code(item.content_id)

    def _read_throttles(self, conn_ids: set[str]) -> None:
        """What the ledger says of these connections' throttles (other tasks' too), in one read."""
        left = self.ledger.throttled_for_many(sorted(conn_ids))
        now = self.monotonic()
        with self._throttles_lock:
            for conn_id in conn_ids:
                until = now + left.get(conn_id, 0.0)
                self._throttled_until[conn_id] = max(self._throttled_until.get(conn_id, 0.0), until)

    def _note_throttle(self, conn_id: str, wait_seconds: float) -> None:
        until = self.monotonic() + wait_seconds
        with self._throttles_lock:
            self._throttled_until[conn_id] = max(self._throttled_until.get(conn_id, 0.0), until)

    def _throttle_left(self, conn_id: str) -> float:
        """Seconds the connection is still throttled: as read for the batch, else from the ledger."""
        with self._throttles_lock:
            until = self._throttled_until.get(conn_id)
        if until is None:
            return self.ledger.throttled_for(conn_id)
        return max(0.0, until - self.monotonic())

    def _post(self, item: _Work) -> str:
        """POST the media's code with its owner's connection, after any throttle an earlier attempt heard."""
        from partnership_ads.graph.errors import GraphThrottleError

        self._refuse_dead_token(item)
        hook = self.hook(item.conn_id)
        blocked = self._throttle_left(item.conn_id)
        if blocked > hook.settings.retry.max_throttle_wait_seconds:
            raise GraphThrottleError(
                f"connection {item.conn_id} is throttled for {blocked:.0f}s more (told to an earlier "
                "attempt); not calling before that",
                wait_seconds=blocked,
                method="POST",
                path=f"{item.content_id}/partnership_ad_code",
            )
        if blocked > 0:
            self.sleep(blocked)
        return hook.create_partnership_ad_code(item.content_id, discovery=self.scope)

    def _failed(self, item: _Work, claim: Claim, exc: Exception) -> ItemResult:
        from partnership_ads.graph.errors import GraphThrottleError, describe_error

        waiting = self._awaiting_reauthorisation(item, claim, exc)
        if waiting is not None:
            return waiting
        detail = describe_error(exc)
        self.ledger.record_failure(item.content_id, owner=self.owner, fence=claim.fence, error=detail)
        wait = getattr(exc, "wait_seconds", None)
        if isinstance(exc, GraphThrottleError) and wait:
            self.ledger.record_throttle(item.conn_id, wait_seconds=float(wait))
            self._note_throttle(item.conn_id, float(wait))
        return ItemResult(
            item.content_id,
            "failed",
            detail,
            retryable=bool(getattr(exc, "retryable", True)),
            wait_seconds=wait,
        )

    # --- creator tokens (partnership_ads.token_health) -------------------------------------------------

    @property
    def token_checker(self) -> TokenChecker:
        """Checks creator tokens with debug_token, the results kept and reused in the ledger."""
        if self._token_checker is None:
            from partnership_ads.token_health import TokenChecker

            self._token_checker = TokenChecker(
                self.ledger,
                hook_factory=self.hook,
                clock=self.ledger.clock,
                warning_days=self.settings.token_expiry_warning_days,
                cache_hours=self.settings.token_check_cache_hours,
                log=self.log,
            )
        return self._token_checker

    def _creator_of(self, item: _Work) -> str | None:
        """The creator's IG id when the item is POSTed with a creator's connection (not the brand's)."""
        if item.conn_id == self.brand.meta_conn_id:
            return None
        return str(item.row["author_ig_user_id"])

    def screen_creator_tokens(self, work: list[_Work]) -> tuple[list[_Work], list[ItemResult]]:
        """Check each creator's token before its first POST (50 checks per round trip, in batches sent with
        the brand's connection; a token a batch gave no verdict on is checked alone, on up to
        ``max_concurrency`` threads); hold back the items of dead tokens.

        :returns: the items to claim and POST, and the ``awaiting_creator_reauthorisation`` results of the
            creators whose token is expired, invalid or missing a scope (never claimed, never POSTed).
        """
        checker = self.token_checker
        creators = sorted({(i.conn_id, creator) for i in work if (creator := self._creator_of(i))})
        # One debug_token round trip per creator on the shard's own slots cost a shard of 50 creators with one
        # slot 50 x latency before its first POST; batched, it is one round trip. The ledger is read and
        # written once for all.
        found = checker.check_creators(
            [(ig_user_id, conn_id) for conn_id, ig_user_id in creators],
            workers=max(1, int(self.settings.max_concurrency)),
            batch_via=self.brand.meta_conn_id,
        )
        for (conn_id, ig_user_id), health in zip(creators, found, strict=True):
            if health is not None and health.state != "ok":
                self.log.warning(
                    "Token of creator %s (connection %s): %s, %s%s",
                    ig_user_id,
                    conn_id,
                    health.state,
                    health.detail,
                    f"; action: {health.action}" if health.action else "",
                )
        kept: list[_Work] = []
        waiting: list[ItemResult] = []
        for item in work:
            creator = self._creator_of(item)
            health = checker.blocked(creator) if creator else None
            if health is None:
                kept.append(item)
                continue
            waiting.append(self._awaiting(item, health))
        return kept, waiting

    def _awaiting(self, item: _Work, health: TokenHealth) -> ItemResult:
        from partnership_ads.token_health import AWAITING_REAUTHORISATION

        detail = (
            f"creator {item.row.get('author_display_name') or '?'} (ig_user_id {health.subject_id}): "
            f"{health.state}, {health.detail}; {health.action} (connection {health.conn_id})"
        )
        self.log.warning("Awaiting creator re-authorisation: %s (%s)", item.content_id, detail)
        return ItemResult(item.content_id, AWAITING_REAUTHORISATION, detail)

    def _refuse_dead_token(self, item: _Work) -> None:
        """Raise before the POST when the creator's token was found dead earlier in this run (a 190)."""
        creator = self._creator_of(item)
        if creator and self.token_checker.blocked(creator) is not None:
            raise CreatorReauthorisationNeededError(creator)

    def _awaiting_reauthorisation(self, item: _Work, claim: Claim, exc: Exception) -> ItemResult | None:
        """The result of an item whose creator's token is dead (a 190 now or earlier in the run), else None.

        A 190 updates the creator's record at once; the claim is given back (nothing was created), so the
        item stays pending and is re-examined by the next run.
        """
        from partnership_ads.graph.errors import AUTH_CODE, GraphAPIError

        creator = self._creator_of(item)
        if creator is None:
            return None
        checker = self.token_checker
        # Only the POST carries the creator's token (a lookup's 190 is the brand's token: a plain failure).
        posted = isinstance(exc, GraphAPIError) and exc.method == "POST"
        if posted and exc.code == AUTH_CODE and not exc.outcome_unknown:
            if checker.blocked(creator) is None:
                health = checker.record_auth_failure(creator, item.conn_id, exc)
                self.log.error(
                    "Creator %s's token (connection %s) was refused with 190: %s; its other items are not "
                    "tried in this run",
                    creator,
                    item.conn_id,
                    health.detail,
                )
        elif not isinstance(exc, CreatorReauthorisationNeededError):
            return None
        health = checker.blocked(creator)
        if health is None:
            return None
        self.ledger.release_claim(item.content_id, owner=self.owner, fence=claim.fence)
        return self._awaiting(item, health)

    def settle_stale(self, row: dict[str, Any]) -> ItemResult:
        """The outcome of a media whose claim this attempt lost mid-work, by lookup once nobody holds it."""
        content_id = str(row["content_id"])
        lease = self.settings.claim_lease_seconds
        deadline = self.monotonic() + lease * 2
        while self.ledger.claim_holders([content_id]) and self.monotonic() < deadline:
            self.sleep(min(1.0, lease / 4))
        if self.ledger.claim_holders([content_id]):
            return ItemResult(
                content_id,
                "failed",
                "this attempt's claim was taken over mid-POST and the new holder has not finished; the next "
                "try settles it by lookup",
                retryable=True,
            )
        current = self.scope.find_ad_code(content_id)
        recorded = self.ledger.code(content_id)
        if recorded is not None and recorded.state == "revoked":
            self.log.warning(
                "Media %s: this attempt's claim was lost and the code has since been revoked", content_id
            )
            return ItemResult(
                content_id, "revoked", "revoked while this attempt's claim was lost; not re-issued"
            )
        if not current:
            return ItemResult(
                content_id,
                "failed",
                "this attempt's claim was taken over mid-POST and discovery shows no code; the next try "
                "looks it up again before any POST",
                retryable=True,
            )
        outcome = self.ledger.harvest(
            content_id, current, business_id=self.brand.business_id, owner_ig_user_id=row["author_ig_user_id"]
        )
        self.log.warning(
            "Media %s: this attempt's claim was taken over while its POST was in flight; settled by lookup "
            "(%s)",
            content_id,
            outcome,
        )
        if outcome == "revoked":
            return ItemResult(content_id, "revoked", "revoked on purpose; not re-issued")
        return ItemResult(content_id, outcome, "settled by lookup after a lost claim", ad_code=current)

    # --- other attempts' claims ------------------------------------------------------------------------

    def wait_out_claims(self, results: list[ItemResult], *, may_defer: bool) -> list[ItemResult] | ClaimWait:
        """Claim again the items another attempt held, once its claims end; never a success with them left.

        Waits here when the claims end within ``max_claim_wait_seconds``; a longer wait is returned as a
        :class:`ClaimWait` when ``may_defer`` (the caller hands it to the triggerer and runs again after).
        A lease that ended is taken over and looked up before any POST.

        :raises ClaimsHeldError: naming the items still held after every wait.
        """
        for _round in range(CLAIM_ROUNDS):
            held = [r for r in results if r.outcome == "claimed_elsewhere" and r.row is not None]
            if not held:
                return results
            holders = self.ledger.claim_holders([r.content_id for r in held])
            wait = max((left for _holder, left in holders.values()), default=0.0)
            if wait > self.settings.max_claim_wait_seconds:
                if may_defer:
                    return ClaimWait(wait, held)
                break
            self.log.info(
                "%s item(s) are claimed by another attempt; waiting %.1fs for the claims to end, then "
                "claiming them again (a lease that ended is looked up before any POST)",
                len(held),
                max(wait, 0.0),
            )
            if wait > 0:
                self.sleep(wait + 0.1)
            retried = {r.content_id for r in held}
            results = [r for r in results if r.content_id not in retried] + self._claim_again(held)
        held = [r for r in results if r.outcome == "claimed_elsewhere"]
        if not held:
            return results
        named = ", ".join(f"{r.content_id} ({r.detail})" for r in held[:20])
        raise ClaimsHeldError(
            f"{len(held)} AD_READY item(s) of business {self.brand.business_id} are still claimed by "
            f"another attempt that keeps its lease alive: {named}. Nothing was posted for them; the retry "
            "claims them again (a lease that ended is looked up before any POST)."
        )

    def _claim_again(self, held: list[ItemResult]) -> list[ItemResult]:
        again: list[ItemResult] = []
        work: list[_Work] = []
        for result in held:
            row = result.row or {}
            if row.get("ad_code"):
                again.append(self.harvest(row, self.ledger.code(result.content_id)))
            else:
                work.append(_Work(row, self._conn_of[result.content_id]))
        if work:
            again.extend(self.issue_all(work))
        return again


@dataclass(frozen=True)
class _Obtained:
    """A code obtained under a claim, waiting for its batch's ledger write, and the result once written."""

    record: CodeRecord
    result: ItemResult


class _Batch:
    """Up to :data:`CLAIM_BATCH` items claimed in one transaction; frees its slot once all are settled."""

    def __init__(self, items: list[_Work], slots: threading.Semaphore) -> None:
        self.items = items
        self.in_flight = 0  # claimed items whose lookup or POST runs (guarded by the recorder's lock)
        self._unsettled = len(items)
        self._slots = slots
        self._lock = threading.Lock()
        if not items:
            slots.release()

    def finish(self, item: _Work, result: ItemResult) -> None:
        item.result.set_result(result)
        with self._lock:
            self._unsettled -= 1
            last = self._unsettled == 0
        if last:
            self._slots.release()


class _Recorder:
    """Codes obtained by the worker threads, written :data:`RECORD_BATCH` at a time, or as soon as their
    batch has no POST left in flight (so no code waits long unrecorded)."""

    def __init__(self, issuance: Issuance) -> None:
        self._issuance = issuance
        self._waiting: list[tuple[_Work, _Obtained, _Batch]] = []
        self._lock = threading.Lock()

    def done(self, item: _Work, outcome: _Obtained | ItemResult, batch: _Batch) -> None:
        flush: list[tuple[_Work, _Obtained, _Batch]] = []
        with self._lock:
            batch.in_flight -= 1
            if isinstance(outcome, _Obtained):
                self._waiting.append((item, outcome, batch))
            if self._waiting and (len(self._waiting) >= RECORD_BATCH or batch.in_flight == 0):
                flush, self._waiting = self._waiting, []
        if isinstance(outcome, ItemResult):
            batch.finish(item, outcome)
        if flush:
            self._issuance._record(flush)


class _Report:
    """Results in work order, with the progress log and the per-brand decisions written in batches."""

    def __init__(self, issuance: Issuance, total: int) -> None:
        self.issuance = issuance
        self.total = total
        self.results: list[ItemResult] = []
        self._decided: list[ItemResult] = []

    def drain(self, work: list[_Work], *, block: bool) -> None:
        """Take the settled results in order (all of them when ``block``)."""
        while len(self.results) < self.total:
            future = work[len(self.results)].result
            if not block and not future.done():
                return
            result = future.result()
            self.results.append(result)
            n = len(self.results)
            # Per-brand decisions are the run's report, not the exactly-once record (the claim and the code):
            # they go to the ledger in batches.
            self._decided.append(result)
            if len(self._decided) >= DECISION_BATCH or n == self.total:
                self.issuance._record_decisions(self._decided)
                self._decided = []
            log = self.issuance.log
            if result.outcome == "failed":
                log.error("Failed %s: %s", result.content_id, result.detail)
            if n % 25 == 0 or n == self.total:
                counts = Counter(r.outcome for r in self.results)
                log.info(
                    "Issuance progress %s/%s: %s",
                    n,
                    self.total,
                    ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                )


class _Heartbeat:
    """Renews this attempt's claims every ``lease / 4`` on a thread, while the ``with`` block runs.

    It also tells until when a claim is surely live (:meth:`live_until`): a renewal counts only while the
    renewals are unbroken (each done within three quarters of a lease of the previous one, so every claim
    it was meant to renew was still live when it ran). A stalled process breaks the chain.
    """

    def __init__(self, ledger: Ledger, owner: str, lease_seconds: float, log: Any) -> None:
        self.ledger = ledger
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.margin = lease_seconds / 4
        self.log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)
        self._lock = threading.Lock()
        self._chain_start = self._last_renewal = time.monotonic()

    def live_until(self, claimed_at: float) -> float:
        """The monotonic time until which a claim sent at ``claimed_at`` is surely live."""
        with self._lock:
            renewed = self._last_renewal if self._chain_start <= claimed_at else claimed_at
        return max(claimed_at, renewed) + self.lease_seconds

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_seconds / 4):
            sent = time.monotonic()
            try:
                self.ledger.heartbeat(self.owner, lease_seconds=self.lease_seconds)
            except Exception:
                self.log.exception("Claim heartbeat failed (claims may expire and be recovered)")
                continue
            with self._lock:
                if time.monotonic() - self._last_renewal > self.lease_seconds * 0.75:
                    self._chain_start = sent  # a gap: claims older than this renewal may have ended
                self._last_renewal = sent

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def summarize(results: list[ItemResult]) -> tuple[Counter[str], dict[str, list[dict[str, Any]]]]:
    """Counts by outcome, and the items listed by id per :data:`LISTED_OUTCOMES` (at most :data:`LISTED`)."""
    counts = Counter(r.outcome for r in results)
    listed = {
        outcome: [{"content_id": r.content_id, "detail": r.detail} for r in results if r.outcome == outcome][
            :LISTED
        ]
        for outcome in LISTED_OUTCOMES
        if counts.get(outcome)
    }
    return counts, listed


def retryable_failures(results: list[ItemResult]) -> Iterator[ItemResult]:
    """The items whose POST failed with an error a later try may not meet again."""
    return (r for r in results if r.outcome == "failed" and r.retryable)
