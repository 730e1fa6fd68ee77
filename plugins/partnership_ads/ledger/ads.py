"""The ads the ``meta_ads`` sink made: one creative and one PAUSED ad per code (table ``pa_ads``, 0009).

Keyed by brand, ad account, media and the code's fingerprint (never the code itself: ``pa_ad_codes`` is the
one place a code is stored in clear). The sink writes the creative id as soon as the creative exists and the
ad id as soon as the ad does, so a rerun after a crash knows what is left to do; a crash between a POST and
its write is settled by the objects' deterministic names (the sink looks a name up before every create).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from partnership_ads.ledger.core import LedgerCore

if TYPE_CHECKING:
    from collections.abc import Callable

_AD_COLUMNS = (
    "business_id, ad_account_id, content_id, code_fingerprint, name, adset_id, creative_id, ad_id, "
    "created_at, ad_recorded_at, stale_at, stale_reason"
)


@dataclass(frozen=True)
class AdRow:
    """One row of ``pa_ads``."""

    business_id: str
    ad_account_id: str
    content_id: str
    code_fingerprint: str
    name: str
    adset_id: str
    creative_id: str | None
    ad_id: str | None
    created_at: str
    ad_recorded_at: str | None
    stale_at: str | None
    stale_reason: str | None


class MetaAds(LedgerCore):
    """What the ``meta_ads`` sink made, per brand, ad account, media and code."""

    def ad_row(
        self, business_id: str, ad_account_id: str, content_id: str, code_fingerprint: str
    ) -> AdRow | None:
        """The row of one code in one ad account, or None."""
        rows = self._query(
            f"SELECT {_AD_COLUMNS} FROM pa_ads WHERE business_id = ? AND ad_account_id = ? "  # noqa: S608
            "AND content_id = ? AND code_fingerprint = ?",
            (business_id, ad_account_id, content_id, code_fingerprint),
        )
        return AdRow(*rows[0]) if rows else None

    def ad_rows(self, business_id: str | None = None, ad_account_id: str | None = None) -> list[AdRow]:
        """Every row (of one brand and ad account when given), by media."""
        statement = f"SELECT {_AD_COLUMNS} FROM pa_ads WHERE 1 = 1"  # noqa: S608 - fixed SQL
        params: list[str] = []
        for column, value in (("business_id", business_id), ("ad_account_id", ad_account_id)):
            if value is not None:
                statement += f" AND {column} = ?"
                params.append(value)
        return [AdRow(*row) for row in self._query(statement + " ORDER BY content_id, created_at", params)]

    def record_ad_creative(
        self,
        business_id: str,
        ad_account_id: str,
        content_id: str,
        code_fingerprint: str,
        *,
        name: str,
        adset_id: str,
        creative_id: str,
    ) -> None:
        """Record the creative made (or found) for a code: the row is created, or its creative id set."""
        self._execute(
            "INSERT INTO pa_ads (business_id, ad_account_id, content_id, code_fingerprint, name, adset_id, "
            "creative_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (business_id, ad_account_id, content_id, code_fingerprint) DO UPDATE SET "
            "creative_id = excluded.creative_id",
            (
                business_id,
                ad_account_id,
                content_id,
                code_fingerprint,
                name,
                adset_id,
                creative_id,
                self._now(),
            ),
        )

    def record_ad(
        self, business_id: str, ad_account_id: str, content_id: str, code_fingerprint: str, *, ad_id: str
    ) -> None:
        """Record the ad made (or found) for a code whose creative is recorded.

        :raises LookupError: the code has no row (record its creative first).
        """
        if not self._execute(
            "UPDATE pa_ads SET ad_id = ?, ad_recorded_at = ? WHERE business_id = ? AND ad_account_id = ? "
            "AND content_id = ? AND code_fingerprint = ?",
            (ad_id, self._now(), business_id, ad_account_id, content_id, code_fingerprint),
        ):
            raise LookupError(f"pa_ads: no creative recorded for media {content_id} in {ad_account_id}")

    def mark_stale_ads(
        self, business_id: str, ad_account_id: str, fingerprint: Callable[[str], str]
    ) -> list[AdRow]:
        """The brand's ads in the account whose code was revoked or replaced since the ad was made (stale),
        each marked ``stale_at`` the first time it is seen; returns every stale ad (old and new).

        :param fingerprint: the fingerprint of a code (``partnership_ads.graph.ads.ad_code_fingerprint``).
        """
        rows = self._query(
            "SELECT a.content_id, a.code_fingerprint, a.stale_at, c.ad_code, c.state FROM pa_ads a "
            "LEFT JOIN pa_ad_codes c ON c.content_id = a.content_id "
            "WHERE a.business_id = ? AND a.ad_account_id = ? AND a.ad_id IS NOT NULL",
            (business_id, ad_account_id),
        )
        newly: list[tuple[str, str, str]] = []
        for content_id, code_fingerprint, stale_at, ad_code, state in rows:
            if stale_at is not None:
                continue
            if state == "revoked":
                newly.append((content_id, code_fingerprint, "revoked"))
            elif not ad_code:
                newly.append((content_id, code_fingerprint, "no code in the ledger"))
            elif fingerprint(ad_code) != code_fingerprint:
                newly.append((content_id, code_fingerprint, "rotated"))
        if newly:
            now = self._now()
            with self._transaction() as cur:
                cur.executemany(
                    self._sql(
                        "UPDATE pa_ads SET stale_at = ?, stale_reason = ? WHERE business_id = ? "
                        "AND ad_account_id = ? AND content_id = ? AND code_fingerprint = ?"
                    ),
                    [(now, why, business_id, ad_account_id, cid, fp) for cid, fp, why in newly],
                )
        return [r for r in self.ad_rows(business_id, ad_account_id) if r.stale_at is not None]
