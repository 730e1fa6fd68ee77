"""`airflow dags test` with ``meta_ads`` among the sinks: exactly one PAUSED ad per delivered code, checked at
the sandbox's control API, and a rerun that creates none.

Its own sandbox and ledger; each brand of the list carries its sandbox ad account and ad set.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from partnership_ads.graph.ads import partnership_ad_name
from tests.e2e.conftest import Deployment, deployment_on

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


pytestmark = pytest.mark.e2e
CONF = {"sinks": ["sql", "meta_ads"]}


class AdsDeployment(Deployment):
    def dags_test(self) -> str:  # type: ignore[override]
        code, log = super().dags_test("-c", json.dumps(CONF))
        assert code == 0, log[-4000:]
        return log


@pytest.fixture(scope="module")
def deployment(airflow_db: Path) -> Iterator[AdsDeployment]:
    with deployment_on(
        airflow_db, "pipeline-meta-ads", AdsDeployment, seed=11, items=150, output=False, meta_ads=True
    ) as deployment:
        yield deployment


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
