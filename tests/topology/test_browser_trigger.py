"""The Airflow UI in a real browser: log in, fill the trigger form, follow the run, read the summary log.

Headless Debian chromium driven by Playwright (no browser download), on the session's native topology.
Screenshots of the filled form and of the summary table in the task log go to ``.demo/pytest/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import sandbox_brands
from include.graph_sandbox.testing import SandboxClient
from tests.topology.conftest import DAG_ID, ROOT, root_conftest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Locator, Page

    from tests.topology.conftest import RunningTopology

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(600)]

CHROMIUM = os.environ.get("PARTNERSHIP_ADS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / ".demo" / "pytest" / "screenshots"
BROWSER_MAX_CODES = 2


@pytest.fixture(scope="module")
def browser(pytestconfig: pytest.Config) -> Iterator[Browser]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"chromium not found at {CHROMIUM} (apt-get install chromium, or `make system-deps`)"
        if root_conftest(pytestconfig).IN_CI:
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _log_in(page: Page, url: str, password: str) -> None:
    page.goto(f"{url}/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.get_by_role("button", name=re.compile("sign in|log in|login", re.IGNORECASE)).click()
    page.wait_for_url(re.compile(r".*/$"), timeout=30_000)


def _open_section(form: Locator, title: str) -> None:
    """Expand the form's accordion item whose title starts with ``title`` (no-op when already open)."""
    trigger = form.get_by_role("button", name=re.compile(f"^{re.escape(title)}")).first
    if trigger.get_attribute("aria-expanded") != "true":
        trigger.click()
    form.page.wait_for_timeout(500)


def _run_state(page: Page) -> str:
    """Text of the run's own state badge (next to the run's heading; task rows have badges in table cells)."""
    badge = page.locator("div:has(> h2) > [data-testid=state-badge]").first
    return badge.inner_text().strip() if badge.count() else ""


def _wait_for_run_success(page: Page, timeout: float = 300) -> None:
    """Reload the run's page until its state badge says Success (fails at once on Failed)."""
    deadline = time.monotonic() + timeout
    while True:
        page.wait_for_load_state("networkidle")
        state = _run_state(page)
        if state == "Success":
            return
        if state == "Failed":
            page.screenshot(path=str(SCREENSHOTS / "run_failed.png"), full_page=True)
            pytest.fail("the run failed in the UI; see run_failed.png and the topology logs")
        assert time.monotonic() < deadline, f"the run did not succeed within {timeout}s"
        page.wait_for_timeout(3000)
        page.reload()


def test_trigger_form_run_and_summary_log_in_the_browser(
    native_topology: RunningTopology, browser: Browser
) -> None:
    api = native_topology.api
    api.wait_for_dag(DAG_ID)
    brand: dict[str, Any] = sandbox_brands(SandboxClient(native_topology.state.sandbox_url), 1)[0]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(30_000)
    _log_in(page, api.url, api.password)

    page.goto(f"{api.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    # Parameters with a `section` render as accordion items; the form may open one at a time, so each
    # section is opened, filled and photographed in turn.
    _open_section(form, "Brand")
    form.locator("input[name=element_business_id]").fill(brand["business_id"])
    form.locator("input[name=element_ig_user_id]").fill(brand["ig_user_id"])
    page.screenshot(path=str(SCREENSHOTS / "trigger_form_filled_brand.png"))
    _open_section(form, "Run options")
    form.locator("input[name=element_max_codes]").fill(str(BROWSER_MAX_CODES))
    form.locator("input[name=element_max_codes]").blur()
    page.screenshot(path=str(SCREENSHOTS / "trigger_form_filled_run_options.png"))
    form.get_by_role("button", name="Trigger", exact=True).click()

    page.wait_for_url(re.compile(rf".*/dags/{DAG_ID}/runs/[^/]+$"))
    run_id = page.url.rsplit("/runs/", 1)[1]
    _wait_for_run_success(page)
    run = api.call("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")
    assert run["state"] == "success"
    assert run["conf"]["business_id"] == brand["business_id"]
    assert run["conf"]["max_codes"] == BROWSER_MAX_CODES

    page.goto(f"{api.url}/dags/{DAG_ID}/runs/{run_id}/tasks/run_summary")
    log_line = page.get_by_text("Run summary").first
    log_line.wait_for(timeout=60_000)
    table_row = page.get_by_text(re.compile(rf"\|\s*{brand['business_id']}\s*\|")).first
    table_row.wait_for(timeout=30_000)
    table_row.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "run_summary_task_log.png"), full_page=True)
    # The summary table: a column (or row) for the brand and the count of codes issued in this run.
    assert page.get_by_text(re.compile(r"\|\s*issued\s*\|")).count() >= 1
