"""`airflow dags test` with ``meta_ads`` among the sinks: exactly one PAUSED ad per delivered code, checked at
the sandbox's control API, and a rerun that creates none.

Its own sandbox and ledger; each brand of the list carries its sandbox ad account and ad set.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import airflow_environment, pipeline_environment, run_airflow
from include.graph_sandbox.testing import spawn_sandbox
from partnership_ads.graph.ads import partnership_ad_name
from partnership_ads.ledger import Ledger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxProcess

pytestmark = pytest.mark.e2e
CONF = {"sinks": ["sql", "meta_ads"]}


class AdsDeployment:
    def __init__(self, sandbox: SandboxProcess, env: dict[str, str], facts: dict[str, Any], state: Path):
        self.sandbox = sandbox
        self.env = env
        self.facts = facts
        self.state = state
        self.runs = 0

    def dags_test(self) -> str:
        self.runs += 1
        log_path = self.state / f"dags-test-{self.runs}.log"
        code = run_airflow(
            ["dags", "test", "partnership_ad_codes", "-c", json.dumps(CONF)], self.env, log_path, timeout=300
        )
        assert code == 0, log_path.read_text()[-4000:]
        return log_path.read_text()

    @property
    def ledger(self) -> Ledger:
        return Ledger.from_sqlite_path(self.facts["ledger_path"])


@pytest.fixture(scope="module")
def deployment(airflow_db: Path) -> Iterator[AdsDeployment]:
    state = airflow_db / "pipeline-meta-ads"
    state.mkdir(parents=True, exist_ok=True)
    sandbox = spawn_sandbox(port=0, seed=11, items=150)
    try:
        extra, facts = pipeline_environment(sandbox, state_dir=state, meta_ads=True)
        yield AdsDeployment(sandbox, airflow_environment(airflow_db, extra), facts, state)
    finally:
        sandbox.stop()


def test_a_run_with_meta_ads_leaves_one_paused_ad_per_code_and_a_rerun_creates_none(
    deployment: AdsDeployment,
) -> None:
    log = deployment.dags_test()
    ledger = deployment.ledger
    run_id = ledger.latest_run_id()
    delivered = {
        (r[0], r[1]) for r in ledger.deliveries(sink="meta_ads") if r[5] == "active"
    }  # (business_id, content_id)
    assert delivered
    codes = {c.content_id: c.ad_code for c in ledger.codes() if c.ad_code}
    ads = deployment.sandbox.ads()
    creatives = deployment.sandbox.ad_creatives()
    assert len(ads) == len(creatives) == len(delivered)
    assert {a["status"] for a in ads} == {"PAUSED"}
    assert sorted(a["name"] for a in ads) == sorted(partnership_ad_name(c, codes[c]) for _, c in delivered)
    brands = {b["business_id"]: b for b in deployment.facts["brands"]}
    for ad in ads:
        assert ad["adset_id"] in {b["adset_id"] for b in brands.values()}
    figures = ledger.run_figures(run_id)
    assert sum(f.get("meta_ads:ads_created", 0) for f in figures.values()) == len(ads)
    assert "meta_ads created" in log
    assert not any(code in log for code in codes.values()), "no code in clear in the log"

    deployment.dags_test()
    assert len(deployment.sandbox.ads()) == len(ads)
    assert len(deployment.sandbox.ad_creatives()) == len(creatives)
    rerun = deployment.ledger.run_figures(deployment.ledger.latest_run_id())
    assert sum(f.get("meta_ads:ads_created", 0) for f in rerun.values()) == 0
