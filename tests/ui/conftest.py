"""The plugin page against real ledgers (SQLite file, PostgreSQL database) and Airflow's own auth manager.

Tokens are minted by the SimpleAuthManager the api-server would use (same JWT secret, same validation,
revocation checked in this process's migrated metadata database), so a test proves what a signed-in UI user
gets, not what a stub accepts.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID
from partnership_ads.ledger import Ledger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient

os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(64))
os.environ.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,reader:viewer")

#: A caption with markup: the page must show it as text.
SCRIPT_CAPTION = "<script>alert('owned')</script>"
BRAND = "154364196807760"


class FixedClock:
    """The ledger's clock for these tests: 2026-06-01 12:00 UTC."""

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sqlite_page_ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger.from_sqlite_path(tmp_path / "ledger.db", clock=FixedClock())
    ledger.migrate()
    return ledger


@pytest.fixture
def postgres_page_ledger(postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.setenv("AIRFLOW_CONN_PARTNERSHIP_ADS_DB", postgres_database)
    ledger = Ledger.from_conn_id(DEFAULT_LEDGER_CONN_ID, clock=FixedClock())
    ledger.migrate()
    yield ledger
    ledger.close()


@pytest.fixture(params=["sqlite", "postgres"])
def page_ledger(request: pytest.FixtureRequest) -> Ledger:
    """A migrated ledger on either database, filled by :func:`fill_ledger`."""
    ledger = request.getfixturevalue(f"{request.param}_page_ledger")
    fill_ledger(ledger)
    return ledger


def fill_ledger(ledger: Ledger) -> None:
    """Two brands' worth of content, codes (issued, harvested, revoked, failed), decisions, deliveries and
    run figures; one item's display name and decision detail hold :data:`SCRIPT_CAPTION`."""
    items = [
        {
            "content_id": f"1790000000000{i:04d}",
            "platform": "INSTAGRAM",
            "permalink": f"https://ig/p/{i}",
            "author_ig_user_id": f"1784100000{i % 3}",
            "author_display_name": f"creator {i % 3}",
            "ad_eligibility": "AD_READY",
        }
        for i in range(60)
    ]
    items[0]["author_display_name"] = SCRIPT_CAPTION
    ledger.upsert_content(BRAND, items, run_id="manual__1")
    for i, item in enumerate(items[:55]):
        cid = item["content_id"]
        if i % 2:
            ledger.harvest(
                cid, f"AC-H-{i:04d}", business_id=BRAND, owner_ig_user_id=item["author_ig_user_id"]
            )
            ledger.record_brand_item(BRAND, cid, "harvested", run_id="manual__1")
        else:
            claim = ledger.claim(
                cid,
                owner="t1",
                business_id=BRAND,
                owner_ig_user_id=item["author_ig_user_id"],
                lease_seconds=60,
            )
            ledger.record_code(cid, f"AC-I-{i:04d}", owner="t1", fence=claim.fence)
            ledger.record_brand_item(BRAND, cid, "issued", run_id="manual__1")
    ledger.mark_revoked(items[3]["content_id"])
    ledger.record_brand_item(BRAND, items[3]["content_id"], "revoked", run_id="manual__1")
    for item in items[55:]:
        ledger.record_brand_item(
            BRAND,
            item["content_id"],
            "awaiting_creator_authorisation",
            run_id="manual__1",
            detail=SCRIPT_CAPTION,
        )
    pending = ledger.pending_deliveries(BRAND, "sql", destination="partnership_ads_db:partnership_ad_codes")
    ledger.mark_delivered(
        "sql", pending[:40], destination="partnership_ads_db:partnership_ad_codes", run_id="manual__1"
    )
    ledger.record_run_figures(
        "manual__1", BRAND, {"issued": 28, "harvested": 27, "awaiting_creator_authorisation": 5}
    )
    record_token_checks(ledger)


#: The token checks :func:`record_token_checks` records: (subject, connection, state, days left, detail).
TOKEN_CHECKS = (
    (BRAND, "meta_graph_default", "ok", 50, "valid for 50 more days"),
    ("17841000000", "meta_graph_creator_17841000000", "expiring", 3, "expires in 3 days"),
    ("17841000001", "meta_graph_creator_17841000001", "expired", 0, SCRIPT_CAPTION),
    ("17841000002", "meta_graph_creator_17841000002", "ok", None, "never expires"),
)


def record_token_checks(ledger: Ledger) -> None:
    """One check of the brand's token and of each creator's (:data:`TOKEN_CHECKS`); one detail holds
    :data:`SCRIPT_CAPTION`."""
    from partnership_ads.token_health import BRAND as BRAND_KIND
    from partnership_ads.token_health import CREATOR, TokenHealth, token_fingerprint

    now = ledger.clock()
    for subject, conn_id, state, days_left, detail in TOKEN_CHECKS:
        expires = None if days_left is None else now.timestamp() + days_left * 86400 + 3600
        ledger.record_token_health(
            TokenHealth(
                subject,
                conn_id,
                state,
                detail,
                now,
                expires,
                days_left,
                fingerprint=token_fingerprint(f"EAAB-token-of-{subject}"),
                subject_kind=BRAND_KIND if subject == BRAND else CREATOR,
            )
        )


@pytest.fixture(scope="session")
def auth_manager(airflow_db: Path) -> Any:
    """The SimpleAuthManager, initialised as the api-server initialises it."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def mint_token(auth_manager: Any, username: str, role: str | None, **kwargs: Any) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=username, role=role), **kwargs)


@pytest.fixture
def page_client(page_ledger: Ledger, auth_manager: Any) -> Iterator[TestClient]:
    """A client of the page's app on ``page_ledger``, without credentials."""
    from fastapi.testclient import TestClient

    from partnership_ads.ui.app import create_app

    with TestClient(create_app(lambda: page_ledger)) as client:
        yield client


@pytest.fixture
def admin_token(auth_manager: Any) -> str:
    return mint_token(auth_manager, "admin", "ADMIN")


def utc_days_ago(days: int) -> str:
    return (FixedClock.now - timedelta(days=days)).date().isoformat()
