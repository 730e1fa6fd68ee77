"""The "Partnership ad codes" page in a real browser: sign in, follow Browse → Partnership ad codes, read the
overview, the chart and the codes of a run this test triggered, search for one code, photograph each step.

Headless Debian chromium driven by Playwright, on the session's native topology (the api-server mounts the
plugin's app from plugins/). Screenshots go to ``.demo/pytest/screenshots/`` (``ledger_page_*.png``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import psycopg2
import pytest

from tests.topology.conftest import DAG_ID
from tests.topology.test_browser_trigger import SCREENSHOTS, _log_in, browser  # noqa: F401 - fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.topology.conftest import RunningTopology

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(600)]

RUN_CONF: dict[str, Any] = {
    "ad_eligibilities": ["AD_READY"],
    "sinks": ["sql"],
    "max_codes": 2,
    "dry_run": False,
}


def _ledger_codes(topology: RunningTopology, run_id: str) -> list[tuple[str, str]]:
    uri = topology.config.postgres_uri(topology.config.ledger_database)
    with psycopg2.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.content_id, a.ad_code FROM pa_ad_codes a JOIN pa_brand_items b "
            "ON b.content_id = a.content_id WHERE b.run_id = %s AND a.ad_code IS NOT NULL "
            "ORDER BY a.content_id",
            (run_id,),
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def test_ledger_page_from_the_browse_menu_shows_the_runs_codes(
    native_topology: RunningTopology,
    browser: Browser,  # noqa: F811 - the fixture imported above
) -> None:
    api = native_topology.api
    api.wait_for_dag(DAG_ID)
    api.call("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
    triggered = api.call("POST", f"dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": RUN_CONF})
    run = api.wait_for_run(DAG_ID, triggered["dag_run_id"])
    assert run["state"] == "success"
    codes = _ledger_codes(native_topology, run["dag_run_id"])
    assert codes, "the run recorded no code in the ledger"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(30_000)
    _log_in(page, api.url, api.password)

    page.get_by_role("button", name=re.compile("^Browse$", re.IGNORECASE)).click()
    page.get_by_role("menuitem", name="Partnership ad codes").click()
    page.wait_for_url(re.compile(r".*/plugin/partnership-ad-codes$"))
    frame = page.frame_locator("iframe")
    frame.get_by_role("heading", name="Partnership ad codes").wait_for()
    frame.locator("svg.daily-chart").wait_for()
    assert "issued" in (frame.locator("svg.daily-chart .totals").text_content() or "")
    assert frame.locator("table.runs").get_by_text(run["dag_run_id"]).count() >= 1
    # Every fetch checks the brand's token first: its record shows in Token health, with no token.
    frame.locator("table.tokens tr.token-ok").first.wait_for()
    assert "brand " in (frame.locator("table.tokens").text_content() or "")
    page.screenshot(path=str(SCREENSHOTS / "ledger_page_overview.png"), full_page=True)

    frame.get_by_role("link", name="Codes", exact=True).click()
    for _content_id, ad_code in codes:
        frame.locator("table.codes").get_by_text(ad_code, exact=True).wait_for()
    page.screenshot(path=str(SCREENSHOTS / "ledger_page_codes.png"), full_page=True)

    content_id, ad_code = codes[0]
    frame.get_by_label("code").fill(ad_code)
    frame.get_by_role("button", name="Search").click()
    frame.get_by_text("1 code(s)").wait_for()
    assert frame.locator("table.codes tr").count() == 2  # the header and the one code
    frame.locator("table.codes").get_by_text(content_id, exact=True).wait_for()
    page.screenshot(path=str(SCREENSHOTS / "ledger_page_search.png"), full_page=True)

    frame.locator("table.codes").get_by_role("link", name=content_id).click()
    frame.get_by_text("code issued").first.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "ledger_page_item.png"), full_page=True)
