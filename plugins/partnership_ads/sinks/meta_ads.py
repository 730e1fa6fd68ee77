"""The ``meta_ads`` sink: for each code delivered, one partnership creative and one PAUSED ad in the brand's
ad set, in the brand's own ad account (issue 15).

Unlike the other sinks this one talks to Meta through the hook: its destination *is* Meta's Marketing API,
with the brand's connection. It never creates an ACTIVE ad (``create_ad`` refuses one without
``allow_active``, which is never passed) and never deletes or changes an ad.

Exactly one creative and one ad per code, whatever crashes, because every step is recorded and every create
is preceded by a lookup of a deterministic name (:func:`partnership_ads.graph.ads.partnership_ad_name`: the
content id and the code's fingerprint, readable in Ads Manager):

1. the code's row in ``pa_ads`` has an ad id: already present, nothing to do;
2. else the creative: its id from ``pa_ads``, else the account's creative of that name, else a new one; its
   id is written to ``pa_ads`` at once;
3. the ad: the account's ad of that name, else a new PAUSED ad; its id is written to ``pa_ads``.

A code revoked or replaced (rotated) after its ad was made leaves that ad **stale**: logged and counted in the
run summary, never touched (a person decides in Ads Manager). A rotated code gets its own new creative and ad.

Before any creative, :meth:`MetaAdsSink.prepare` checks the brand's settings at Meta: ``act_<digits>``, an ad
format of 1, 2 or 3, a Facebook Page, a token with ``ads_management``, an ad set of that account. A bad value
fails the sink (the other sinks still deliver) with a message naming the brand and the field.

A code Meta refuses (the creator deleted the post, the code is no longer valid) is counted ``failed``,
logged and left pending in the outbox: the next run tries it again. It does not fail the task, so the
summary shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from partnership_ads.sink_names import META_ADS_OUTCOMES, META_ADS_SINK
from partnership_ads.sinks.base import AdCodeSink, DeliveryContext

if TYPE_CHECKING:
    from collections.abc import Sequence

    from partnership_ads.hooks import PartnershipAdsHook
    from partnership_ads.ledger import DeliveryRecord, Ledger

ADS_MANAGEMENT = "ads_management"
_AD_ACCOUNT_ID = re.compile(r"^act_[0-9]+$")


class MetaAdsConfigError(ValueError):
    """A brand's meta_ads setting is wrong (shape, or at Meta): raised before any creative is made."""


@dataclass(frozen=True)
class MetaAdsConfig:
    """What the meta_ads sink needs of a brand.

    :param business_id: the brand.
    :param meta_conn_id: the brand's ``meta_graph`` connection (its token needs ``ads_management``).
    :param ad_account_id: ``act_<digits>``.
    :param adset_id: the ad set of that account the paused ads go in.
    :param ad_format: 1 both identities, 2 the first identity only, 3 automatic.
    :param fb_page_id: the brand's Page (the creative's ``object_id``).
    :param ig_user_id: the brand's Instagram account (the creative's ``instagram_branded_content`` sponsor).
    """

    business_id: str
    meta_conn_id: str
    ad_account_id: str
    adset_id: str
    ad_format: int = 1
    fb_page_id: str | None = None
    ig_user_id: str | None = None

    def problems(self) -> list[str]:
        """What is wrong with the settings' shape (no call), each naming the field."""
        found = []
        if not isinstance(self.ad_account_id, str) or not _AD_ACCOUNT_ID.match(self.ad_account_id):
            found.append(f"ad_account_id: {self.ad_account_id!r} is not act_<digits>")
        if not str(self.adset_id or "").isdigit():
            found.append(f"adset_id: {self.adset_id!r} is not an ad set id (digits)")
        if isinstance(self.ad_format, bool) or self.ad_format not in (1, 2, 3):
            found.append(f"ad_format: {self.ad_format!r} is not 1, 2 or 3")
        if not self.fb_page_id:
            found.append("fb_page_id: required (the brand's Page is the creative's object_id)")
        return found


def meta_ads_config(brand: Any) -> MetaAdsConfig | None:
    """The meta_ads settings of a :class:`~partnership_ads.brand.Brand`, or None when it has no ad account."""
    if not brand.ad_account_id and not brand.adset_id:
        return None
    return MetaAdsConfig(
        business_id=brand.business_id,
        meta_conn_id=brand.meta_conn_id,
        ad_account_id=str(brand.ad_account_id or ""),
        adset_id=str(brand.adset_id or ""),
        ad_format=brand.ad_format,
        fb_page_id=brand.fb_page_id,
        ig_user_id=brand.ig_user_id,
    )


class MetaAdsSink(AdCodeSink):
    """One creative and one PAUSED ad per code, in the brand's ad set (see the module's docstring)."""

    name: ClassVar[str] = META_ADS_SINK
    #: Codes per outbox write: each code is recorded in ``pa_ads`` step by step, so a batch is only the
    #: outbox's granularity.
    batch_size = 50

    def __init__(self, config: MetaAdsConfig, *, hook: PartnershipAdsHook | None = None) -> None:
        self.config = config
        self._hook = hook
        self._ledger: Ledger | None = None
        self._log: Any = None
        self.counts: dict[str, int] = dict.fromkeys(META_ADS_OUTCOMES, 0)
        self.stale: list[dict[str, Any]] = []
        self.failed: list[dict[str, str]] = []

    @property
    def destination(self) -> str:
        """The ad account (the outbox's key: another account is another destination)."""
        return self.config.ad_account_id

    def describe(self) -> str:
        return f"{self.name} ({self.config.ad_account_id}, ad set {self.config.adset_id}, PAUSED ads)"

    @property
    def hook(self) -> PartnershipAdsHook:
        if self._hook is None:
            from partnership_ads.hooks import PartnershipAdsHook

            self._hook = PartnershipAdsHook(meta_conn_id=self.config.meta_conn_id)
        return self._hook

    # ------------------------------------------------------------------ before any creative

    def prepare(self, ledger: Ledger, *, log: Any) -> None:
        """Check the brand's settings at Meta before any creative, and report the stale ads.

        :raises MetaAdsConfigError: naming the brand and the field.
        """
        self._ledger = ledger
        self._log = log
        self.check_settings()
        self.report_stale()

    def _fail(self, problem: str) -> MetaAdsConfigError:
        return MetaAdsConfigError(
            f"meta_ads: business {self.config.business_id}: {problem}. Fix the brand's entry (brand list or "
            "the trigger form's Brand section); no creative or ad was made"
        )

    def check_settings(self) -> None:
        """Shape, then the token's ``ads_management`` scope, the account and the ad set at Meta.

        :raises MetaAdsConfigError: the first problem found, naming the brand and the field.
        """
        from partnership_ads.graph.errors import GraphAPIError, GraphPermissionError

        problems = self.config.problems()
        if problems:
            raise self._fail("; ".join(problems))
        scopes = self.token_scopes()
        if scopes is not None and ADS_MANAGEMENT not in scopes:
            raise self._fail(
                f"meta_conn_id: the token of connection {self.config.meta_conn_id!r} lacks the "
                f"{ADS_MANAGEMENT} permission the sink needs to create creatives and ads; grant it to the "
                "system user"
            )
        account = self.config.ad_account_id
        try:
            self.hook.ads.get_ad_account(account)
            adsets = self.hook.ads.list_adsets(account, fields="id")
        except GraphPermissionError as exc:
            raise self._fail(
                f"ad_account_id: the token of connection {self.config.meta_conn_id!r} may not use {account} "
                f"({exc.message}); give the system user the account with {ADS_MANAGEMENT}"
            ) from None
        except GraphAPIError as exc:
            if exc.is_transient:
                raise
            raise self._fail(f"ad_account_id: {account} cannot be read ({exc.message})") from None
        if self.config.adset_id not in {str(a.get("id")) for a in adsets}:
            raise self._fail(f"adset_id: {self.config.adset_id} is not an ad set of ad account {account}")

    def token_scopes(self) -> list[str] | None:
        """The permissions of the brand's token, from the hook's ``debug_token`` inspection (the app token's
        when the connection has ``app_id`` and ``app_secret``, as for every token check), or None when Meta
        does not say (the account read then tells).

        :raises MetaAdsConfigError: Meta says the token is not valid.
        """
        from partnership_ads.graph.errors import GraphAPIError

        try:
            info = self.hook.inspect_token()
        except GraphAPIError as exc:
            if exc.is_transient:
                raise
            return None
        if not info.is_valid:
            raise self._fail(
                f"meta_conn_id: the token of connection {self.config.meta_conn_id!r} is not valid; replace it"
            )
        return list(info.scopes) or None

    def report_stale(self) -> None:
        """Log and count the brand's ads whose code was revoked or rotated after the ad was made."""
        from partnership_ads.graph.ads import ad_code_fingerprint

        assert self._ledger is not None
        rows = self._ledger.mark_stale_ads(
            self.config.business_id, self.config.ad_account_id, ad_code_fingerprint
        )
        self.stale = [
            {"content_id": r.content_id, "ad_id": r.ad_id, "name": r.name, "reason": r.stale_reason}
            for r in rows
        ]
        self.counts["ads_stale"] = len(rows)
        for row in rows:
            self._log.warning(
                "meta_ads: stale ad %s (%r) of media %s in %s: its code was %s after the ad was made; the "
                "pipeline leaves it as it is (pause or delete it in Ads Manager)",
                row.ad_id,
                row.name,
                row.content_id,
                row.ad_account_id,
                row.stale_reason,
            )

    # ------------------------------------------------------------------ delivery

    def deliver(self, records: Sequence[DeliveryRecord], context: DeliveryContext) -> list[DeliveryRecord]:
        """Make the creative and the paused ad of each active code; returns the records left pending (the
        codes Meta refused). A revocation needs nothing here: its ad is reported stale.

        :raises AdObjectOutcomeUnknownError: a POST's outcome could not be settled (the rest stays pending).
        :raises GraphAPIError: a retryable one (throttling beyond the hook's wait, a transient fault): the
            rest of the batch stays pending; what was made is in ``pa_ads``, so nothing is made twice.
        """
        from partnership_ads.graph.errors import AdObjectOutcomeUnknownError, GraphAPIError

        if self._ledger is None:
            raise RuntimeError("meta_ads: prepare(ledger) must run before deliver")
        left: list[DeliveryRecord] = []
        for record in records:
            if record.state != "active":
                continue
            try:
                self._deliver_one(record)
            except AdObjectOutcomeUnknownError:
                raise
            except GraphAPIError as exc:
                if exc.retryable:
                    raise  # throttling or a transient fault: the task's retry (or the next run) goes on
                self._failed(record, exc)
                left.append(record)
            except ValueError as exc:
                self._failed(record, exc)
                left.append(record)
        return left

    def _failed(self, record: DeliveryRecord, exc: Exception) -> None:
        # The message never carries the code (the hook removes it from error texts).
        self.counts["ads_failed"] += 1
        self.failed.append({"content_id": record.content_id, "error": str(exc)[:500]})
        self._log.error(
            "meta_ads: media %s: no ad made (%s: %s); the code stays pending for the next run",
            record.content_id,
            type(exc).__name__,
            str(exc)[:500],
        )

    def _deliver_one(self, record: DeliveryRecord) -> None:
        from partnership_ads.graph.ads import ad_code_fingerprint, partnership_ad_name

        assert self._ledger is not None
        config, ledger, hook = self.config, self._ledger, self.hook
        account = config.ad_account_id
        fingerprint = ad_code_fingerprint(record.ad_code)
        name = partnership_ad_name(record.content_id, record.ad_code)
        key = (config.business_id, account, record.content_id, fingerprint)
        row = ledger.ad_row(*key)
        if row is not None and row.ad_id:
            self.counts["ads_already_present"] += 1
            return
        created = False  # whether this call POSTed the ad (a creative alone is not an ad)
        creative_id = row.creative_id if row is not None else None
        if not creative_id:
            found = hook.find_ad_creative_by_name(account, name)
            if found is not None:
                creative_id = str(found["id"])
            else:
                creative_id = hook.ads.create_ad_creative(
                    account,
                    name=name,
                    page_id=str(config.fb_page_id),
                    ad_code=record.ad_code,
                    ad_format=config.ad_format,
                    ig_sponsor_id=config.ig_user_id,
                    lookup_first=False,
                )
            ledger.record_ad_creative(*key, name=name, adset_id=config.adset_id, creative_id=creative_id)
        found_ad = hook.find_ad_by_name(account, name)
        if found_ad is not None:
            ad_id = str(found_ad["id"])
        else:
            ad_id = hook.ads.create_ad(
                account,
                name=name,
                adset_id=config.adset_id,
                creative_id=creative_id,
                status="PAUSED",
                lookup_first=False,
            )
            created = True
        ledger.record_ad(*key, ad_id=ad_id)
        self.counts["ads_created" if created else "ads_already_present"] += 1
        self._log.info(
            "meta_ads: media %s: %s PAUSED ad %s (%r, creative %s) in ad set %s",
            record.content_id,
            "created" if created else "found",
            ad_id,
            name,
            creative_id,
            config.adset_id,
        )

    def summary(self) -> dict[str, Any]:
        """This task's counts (:data:`META_ADS_OUTCOMES`), the stale ads and the failed codes."""
        return {**self.counts, "stale": self.stale, "failed": self.failed}
