"""PlanIssuanceOperator on the real graph sandbox: creator shards, what needs no POST, bad sizes refused."""

from __future__ import annotations

import types
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from partnership_ads.dag_settings import PLANNED_KEY
from partnership_ads.operators import IssueAdCodesOperator, PlanIssuanceOperator
from partnership_ads.snapshot import iter_rows
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


class _TI(types.SimpleNamespace):
    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _plan(fetched: dict[str, Any], run_id: str = "manual__1", **kwargs: Any) -> tuple[list, list]:
    ctx = context(run_id)
    ctx["ti"] = _TI(**vars(ctx["ti"]), pushed={})
    shards = PlanIssuanceOperator(task_id="plan", fetched=[fetched], **kwargs).execute(ctx)
    return shards, ctx["ti"].pushed[PLANNED_KEY]


def _owners(fetched: dict[str, Any]) -> dict[str, str]:
    rows = iter_rows(fetched["snapshot_path"], columns=["content_id", "author_ig_user_id"])
    return {r["content_id"]: r["author_ig_user_id"] for r in rows}


def test_shards_hold_at_most_n_creators_and_never_split_one(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    shards, planned = _plan(fetched, creators_per_shard=2)
    owners = _owners(fetched)
    assert len(shards) > 1
    shard_of: dict[str, str] = {}
    for shard in shards:
        creators = {owners[cid] for cid in shard["content_ids"]}
        assert len(creators) <= 2
        for creator in creators:
            assert shard_of.setdefault(creator, shard["shard"]) == shard["shard"], "a creator was split"
    labels = [s["shard"] for s in shards]
    assert labels == [f"{k}/{len(shards)}" for k in range(1, len(shards) + 1)]
    assert planned[0]["shards"] == len(shards)
    # No Graph call and no connection read while planning: the sandbox saw only the fetch.
    assert pipeline.posts() == []


def test_the_brands_own_media_form_a_shard_of_their_own(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch()
    shards, _planned = _plan(fetched, creators_per_shard=50)
    owners = _owners(fetched)
    own = str(pipeline.brand["ig_user_id"])
    own_shards = [s for s in shards if any(owners[c] == own for c in s["content_ids"])]
    if own_shards:  # the world gives the brand own media only sometimes
        assert own_shards == [shards[0]]
        assert {owners[c] for c in shards[0]["content_ids"]} == {own}


def test_every_selected_item_is_planned_or_in_exactly_one_shard_and_the_shards_issue_them_all(
    pipeline: Pipeline,
) -> None:
    fetched = pipeline.fetch()
    shards, planned = _plan(fetched, creators_per_shard=3)
    in_shards = Counter(cid for s in shards for cid in s["content_ids"])
    assert max(in_shards.values()) == 1
    assert planned[0]["selected"] == sum(planned[0]["counts"].values()) + len(in_shards)
    counts: Counter[str] = Counter(planned[0]["counts"])
    for shard in shards:
        result = IssueAdCodesOperator(task_id="issue", **shard).execute(context())
        assert result["shard"] == shard["shard"]
        counts.update(result["counts"])
    assert counts["issued"] == len(pipeline.created_codes()) > 0
    assert counts["awaiting_creator_authorisation"] > 0, "awaiting items are decided by their shard"
    # A second plan of the same snapshot: what the shards issued is now already in the ledger.
    again, replanned = _plan(fetched, run_id="manual__2", creators_per_shard=3)
    assert replanned[0]["counts"]["already_in_ledger"] >= counts["issued"]
    assert sum(len(s["content_ids"]) for s in again) == counts["awaiting_creator_authorisation"] + counts.get(
        "failed", 0
    )


@pytest.mark.parametrize("bad", [0, -1, 1001, "50", 2.5, True, None])
def test_a_bad_creators_per_shard_is_refused_before_any_call_or_write(pipeline: Pipeline, bad: Any) -> None:
    fetched = pipeline.fetch()
    requests_before = len(pipeline.sandbox.requests_log())
    with pytest.raises((AirflowFailException, ValueError), match="creators_per_shard"):
        _plan(fetched, creators_per_shard=bad)
    assert len(pipeline.sandbox.requests_log()) == requests_before
    assert pipeline.ledger.brand_items(pipeline.brand["business_id"]) == []


def test_shards_of_one_brand_run_at_once_and_a_retried_shard_posts_nothing_twice(pipeline: Pipeline) -> None:
    """Two shards in parallel, then the first shard run again (a retry) while the second runs again too."""
    from concurrent.futures import ThreadPoolExecutor

    fetched = pipeline.fetch()
    shards, _planned = _plan(fetched, creators_per_shard=2)
    assert len(shards) >= 2

    def run(shard: dict[str, Any], try_number: int) -> dict[str, Any]:
        op = IssueAdCodesOperator(task_id="issue", max_concurrency=4, **shard)
        return op.execute(context(try_number=try_number))

    with ThreadPoolExecutor(max_workers=len(shards)) as pool:
        first = list(pool.map(lambda s: run(s, 1), shards))
    issued = sum(r["counts"]["issued"] for r in first)
    assert issued == len(pipeline.created_codes()) > 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        again = list(pool.map(lambda s: run(s, 2), shards[:2]))
    assert sum(r["counts"]["issued"] for r in again) == 0
    assert len(pipeline.created_codes()) == issued
    per_media = Counter(p["path"] for p in pipeline.posts())
    assert max(per_media.values()) == 1, "a media was POSTed twice"
