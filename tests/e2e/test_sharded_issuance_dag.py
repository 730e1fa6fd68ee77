"""`airflow dags test` with small creator shards: several issue instances per brand, one cap across them.

Its own sandbox and ledger: a capped first run over shards of two creators, then an uncapped rerun with
another shard size, checked against the sandbox's own record of every code it created.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.conftest import Deployment, deployment_on

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


pytestmark = pytest.mark.e2e
CAP = 3


class ShardedDeployment(Deployment):
    def dags_test(self, conf: dict[str, Any]) -> tuple[str, str]:  # type: ignore[override]
        code, log = super().dags_test("-c", json.dumps(conf))
        assert code == 0, log[-4000:]
        return self.ledger.latest_run_id(), log

    def shard_names(self, run_id: str) -> list[str]:
        with sqlite3.connect(f"{self.env['AIRFLOW_HOME']}/airflow.db") as conn:
            return [
                name
                for (name,) in conn.execute(
                    "SELECT rendered_map_index FROM task_instance WHERE dag_id = 'partnership_ad_codes' "
                    "AND run_id = ? AND task_id = 'issue_ad_codes' AND state = 'success'",
                    (run_id,),
                )
            ]


@pytest.fixture(scope="module")
def sharded(airflow_db: Path) -> Iterator[ShardedDeployment]:
    with deployment_on(airflow_db, "pipeline-sharded", ShardedDeployment, seed=5, items=200) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def capped_run(sharded: ShardedDeployment) -> dict[str, Any]:
    run_id, log = sharded.dags_test({"creators_per_shard": 2, "max_codes": CAP, "sinks": ["sql"]})
    return {"run_id": run_id, "log": log, "figures": sharded.ledger.run_figures(run_id)}


def test_each_brand_runs_several_shards_of_at_most_two_creators(
    sharded: ShardedDeployment, capped_run: dict[str, Any]
) -> None:
    names = sharded.shard_names(capped_run["run_id"])
    per_brand = Counter(name.split(" · ")[0] for name in names)
    assert set(per_brand) == {f"business {b['business_id']}" for b in sharded.facts["brands"]}
    assert all(count > 1 for count in per_brand.values()), per_brand
    assert "at most 2 creators" in capped_run["log"]


def test_max_codes_caps_each_brand_across_its_shards(
    sharded: ShardedDeployment, capped_run: dict[str, Any]
) -> None:
    figures = capped_run["figures"]
    for business_id, brand_figures in figures.items():
        assert brand_figures["issued"] == CAP, (business_id, brand_figures)
        assert brand_figures["over_max_codes"] > 0
    assert len(sharded.created()) == CAP * len(figures)


def test_an_uncapped_rerun_with_other_shards_issues_the_rest_once_and_drops_no_awaiting_item(
    sharded: ShardedDeployment, capped_run: dict[str, Any]
) -> None:
    run_id, _log = sharded.dags_test({"creators_per_shard": 3, "sinks": ["sql"]})
    figures = sharded.ledger.run_figures(run_id)
    created = sharded.created()
    per_media = Counter(c["media_id"] if "media_id" in c else c["content_id"] for c in created)
    assert per_media and max(per_media.values()) == 1, "a media got two codes"
    first = sum(f["issued"] for f in capped_run["figures"].values())
    assert first + sum(f["issued"] for f in figures.values()) == len(created)
    assert sum(f["over_max_codes"] for f in figures.values()) == 0
    # Items of creators without a connection are decided by their shard, every run, never dropped.
    awaiting = sum(f["awaiting_creator_authorisation"] for f in figures.values())
    assert awaiting == sum(f["awaiting_creator_authorisation"] for f in capped_run["figures"].values()) > 0
    ledger_codes = {c.ad_code for c in sharded.ledger.codes(states=["issued"])}
    assert ledger_codes == {c["ad_code"] for c in created}
