"""The plugin page's app: authentication on every route, escaping, the CSV against the ledger, the views.

Real SQLite and PostgreSQL ledgers; tokens minted and validated by Airflow's SimpleAuthManager.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import pytest

from tests.ui.conftest import BRAND, SCRIPT_CAPTION, mint_token

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from partnership_ads.ledger import Ledger

#: Every route of the app, with a path that exists in the filled ledger.
ROUTES = [
    "/",
    "/chart.svg",
    "/codes",
    "/codes?content_id=17900000000000001",
    "/codes.csv",
    "/items/17900000000000000",
]


def _app_paths() -> set[str]:
    from partnership_ads.ui.app import app

    return {route.path for route in app.routes}


def test_the_route_list_covers_every_route_of_the_app() -> None:
    tested = {path.split("?")[0].replace("17900000000000000", "{content_id}") for path in ROUTES}
    assert _app_paths() == tested


def test_every_route_is_a_get() -> None:
    from partnership_ads.ui.app import app

    assert {method for route in app.routes for method in route.methods} <= {"GET", "HEAD"}


@pytest.mark.parametrize("path", ROUTES)
def test_a_request_without_a_token_is_refused_with_401(page_client: TestClient, path: str) -> None:
    assert page_client.get(path).status_code == 401


@pytest.mark.parametrize("path", ROUTES)
def test_a_forged_token_is_refused_with_403(page_client: TestClient, path: str) -> None:
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    forged = JWTGenerator(secret_key="not-the-deployment-secret", valid_for=600, audience="apache-airflow")
    token = forged.generate({"sub": "admin", "role": "ADMIN"})
    response = page_client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_an_expired_token_is_refused_with_401(page_client: TestClient, auth_manager: Any) -> None:
    token = mint_token(auth_manager, "admin", "ADMIN", expiration_time_in_seconds=-60)
    assert page_client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_user_without_a_role_is_refused_with_403(page_client: TestClient, auth_manager: Any) -> None:
    token = mint_token(auth_manager, "nobody", None)
    assert page_client.get("/codes", headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize("path", ROUTES)
def test_a_signed_in_user_gets_every_route_by_bearer_header(
    page_client: TestClient, admin_token: str, path: str
) -> None:
    assert page_client.get(path, headers={"Authorization": f"Bearer {admin_token}"}).status_code == 200


def test_the_ui_cookie_authenticates_like_the_header(page_client: TestClient, auth_manager: Any) -> None:
    viewer = mint_token(auth_manager, "reader", "VIEWER")
    page_client.cookies.set("_token", viewer)
    assert page_client.get("/").status_code == 200


def test_a_caption_holding_a_script_tag_is_shown_as_text(page_client: TestClient, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    item = page_client.get("/items/17900000000000000", headers=headers).text
    awaiting = page_client.get("/items/17900000000000055", headers=headers).text
    for body in (item, awaiting):
        assert "<script>" not in body
        assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in body
    assert SCRIPT_CAPTION not in page_client.get("/", headers=headers).text


def test_a_search_term_with_markup_is_escaped_in_the_form(page_client: TestClient, admin_token: str) -> None:
    response = page_client.get(
        "/codes",
        params={"ad_code": '"><script>x()</script>'},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert "<script>x()" not in response.text
    assert "&#34;&gt;&lt;script&gt;x()" in response.text


def test_the_csv_holds_the_same_codes_as_the_ledger(
    page_client: TestClient, admin_token: str, page_ledger: Ledger
) -> None:
    response = page_client.get("/codes.csv", headers={"Authorization": f"Bearer {admin_token}"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    in_csv = {(r["content_id"], r["ad_code"], r["state"]) for r in rows}
    in_ledger = {(c.content_id, c.ad_code or "", str(c.state)) for c in page_ledger.codes()}
    assert in_csv == in_ledger
    assert len(rows) == len(in_ledger) == 55


def test_the_csv_follows_the_search(page_client: TestClient, admin_token: str) -> None:
    response = page_client.get(
        "/codes.csv", params={"ad_code": "AC-H-0001"}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["ad_code"] for r in rows] == ["AC-H-0001"]


def test_codes_are_searchable_by_content_creator_and_code_and_paged(
    page_client: TestClient, admin_token: str
) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    by_code = page_client.get("/codes", params={"ad_code": "AC-I-0002"}, headers=headers).text
    assert "AC-I-0002" in by_code and "AC-I-0004" not in by_code
    by_content = page_client.get("/codes", params={"content_id": "17900000000000005"}, headers=headers).text
    assert "AC-H-0005" in by_content and "AC-H-0007" not in by_content
    by_creator = page_client.get("/codes", params={"creator_id": "17841000001"}, headers=headers).text
    assert "AC-H-0001" in by_creator and "AC-I-0002" not in by_creator
    first = page_client.get("/codes", headers=headers).text
    second = page_client.get("/codes", params={"page": 2}, headers=headers).text
    assert "55 code(s), page 1 of 2" in first and "AC-H-0049" in first and "AC-I-0050" not in first
    assert "AC-I-0050" in second and "AC-H-0001" not in second


def test_the_overview_shows_outcomes_deliveries_backlog_awaiting_and_runs(
    page_client: TestClient, admin_token: str
) -> None:
    body = page_client.get("/", headers={"Authorization": f"Bearer {admin_token}"}).text
    assert f"Business {BRAND}" in body
    assert '<td>harvested</td><td class="n">26</td>' in body
    assert '<td>revoked</td><td class="n">1</td>' in body
    assert '<td>sql</td><td class="n">40</td>' in body
    # 54 active codes, 40 delivered to the SQL table: 14 pending there.
    assert '<td>sql → partnership_ads_db:partnership_ad_codes</td><td class="n">14</td>' in body
    assert "Awaiting the creator's authorisation (5)" in body
    assert "manual__1" in body and "awaiting_creator_authorisation 5" in body
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in body
    assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from outside


def test_the_overview_shows_token_health_dead_tokens_first_and_per_brand_what_needs_action(
    page_client: TestClient, admin_token: str
) -> None:
    body = page_client.get("/", headers={"Authorization": f"Bearer {admin_token}"}).text
    tokens = body[body.index("<h2>Token health</h2>") : body.index("<h2>Last runs</h2>")]
    rows = tokens.split("<tr")[2:]
    assert [row.split("<td>")[1].split("</td>")[0] for row in rows] == [
        "creator 17841000001",
        "creator 17841000000",
        f"brand {BRAND}",
        "creator 17841000002",
    ]
    assert '<td>expired</td><td class="n">0</td>' in rows[0] and "<td>re-authorise</td>" in rows[0]
    assert '<td>expiring</td><td class="n">3</td>' in rows[1] and f"<td>{BRAND}</td>" in rows[1]
    assert "<td>ok</td>" in rows[2] and "<td>never</td>" in rows[3]
    brand = body[body.index(f'data-business-id="{BRAND}"') : body.index("<h2>Token health</h2>")]
    assert "Tokens needing action (2)" in brand
    assert "meta_graph_creator_17841000001" in brand and "meta_graph_creator_17841000002" not in brand
    assert SCRIPT_CAPTION not in body and "&lt;script&gt;" in tokens
    assert "EAAB-token-of" not in body


def test_the_chart_counts_codes_per_day(page_client: TestClient, admin_token: str) -> None:
    svg = page_client.get("/chart.svg", headers={"Authorization": f"Bearer {admin_token}"}).text
    # 28 issued, 27 harvested of which one was revoked since, all on the clock's day (2026-06-01).
    assert "2026-06-01: 28 issued" in svg and "2026-06-01: 26 harvested" in svg
    assert "90 days: 28 issued, 26 harvested" in svg


def test_an_items_history_lists_claim_issuance_delivery_and_revocation(
    page_client: TestClient, admin_token: str
) -> None:
    body = page_client.get(
        "/items/17900000000000002", headers={"Authorization": f"Bearer {admin_token}"}
    ).text
    for event in ("seen in discovery", "first claim", "code issued", "decision: issued", "delivered to sql"):
        assert event in body
    revoked = page_client.get("/items/17900000000000003", headers={"Authorization": f"Bearer {admin_token}"})
    assert "code revoked" in revoked.text
    missing = page_client.get("/items/nope", headers={"Authorization": f"Bearer {admin_token}"})
    assert missing.status_code == 404


def test_no_secret_is_shown_for_a_destination_with_credentials(
    page_client: TestClient, admin_token: str, page_ledger: Ledger
) -> None:
    destination = "s3://key:SECRET-VALUE@bucket/out?X-Amz-Signature=SIGNED"
    pending = page_ledger.pending_deliveries(BRAND, "files", destination=destination)
    page_ledger.mark_delivered("files", pending[:1], destination=destination)
    headers = {"Authorization": f"Bearer {admin_token}"}
    for path in ("/", f"/items/{pending[0].content_id}"):
        body = page_client.get(path, headers=headers).text
        assert "s3://bucket/out" in body
        assert "SECRET-VALUE" not in body and "SIGNED" not in body
