"""FetchAdvertisableContentOperator on the real graph sandbox: arguments, brand, XCom shape, failure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from partnership_ads.brand import Brand
from partnership_ads.ledger import LedgerMismatchError
from partnership_ads.operators import FetchAdvertisableContentOperator
from partnership_ads.snapshot import iter_rows
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


def _discovery_calls(pipeline: Pipeline) -> list[dict]:
    return [
        r
        for r in pipeline.sandbox.requests_log()
        if r.get("method") == "GET" and "partnership-ads-advertisable-content" in r.get("path", "")
    ]


def test_a_brand_value_fetches_what_the_loose_ids_fetch_and_comes_back_with_the_ledger_id(
    pipeline: Pipeline,
) -> None:
    loose = pipeline.fetch(run_id="manual__loose")
    op = FetchAdvertisableContentOperator(task_id="fetch", brand=Brand.from_dict(pipeline.brand).as_dict())
    fetched = op.execute(context("manual__brand"))
    assert fetched["items"] == loose["items"] > 0
    assert fetched["by_ad_eligibility"] == loose["by_ad_eligibility"]
    brand = Brand.from_dict(fetched["brand"])
    assert brand.business_id == pipeline.brand["business_id"]
    assert brand.ledger_id == fetched["ledger_id"] == pipeline.ledger.identity()
    assert op.business_id == pipeline.brand["business_id"]  # the mapped instance's name reads it


def test_the_summary_is_small_json_naming_the_snapshot_of_this_run(pipeline: Pipeline) -> None:
    fetched = pipeline.fetch(run_id="manual__2026-06-01T00:00:00+00:00")
    assert json.loads(json.dumps(fetched)) == fetched
    assert len(json.dumps(fetched)) < 2000
    assert fetched["snapshot_path"].endswith(
        f"/{pipeline.brand['business_id']}/manual__2026-06-01T00_00_00_00_00.parquet"
    )
    assert sum(1 for _ in iter_rows(fetched["snapshot_path"], columns=["content_id"])) == fetched["items"]


def test_the_brands_filters_reach_discovery(pipeline: Pipeline) -> None:
    brand = Brand.from_dict({**pipeline.brand, "filters": {"platform_types": ["FACEBOOK"]}})
    fetched = FetchAdvertisableContentOperator(task_id="fetch", brand=brand).execute(context())
    assert set(fetched["by_platform"]) <= {"FACEBOOK"}
    calls = _discovery_calls(pipeline)
    assert calls
    assert all("FACEBOOK" in r["params"].get("platform_types", "") for r in calls)


def test_a_brand_and_a_different_loose_id_are_refused_when_the_task_is_built() -> None:
    with pytest.raises(ValueError, match=r"^business_id: '222' differs from the brand's '111'"):
        FetchAdvertisableContentOperator(task_id="fetch", brand={"business_id": "111"}, business_id="222")


def test_a_task_without_a_brand_or_business_id_is_refused_when_it_is_built() -> None:
    with pytest.raises(ValueError, match=r"^business_id: required"):
        FetchAdvertisableContentOperator(task_id="fetch")


def test_another_ledger_than_the_runs_fails_before_any_discovery_call(pipeline: Pipeline) -> None:
    brand = {**pipeline.brand, "ledger_id": "a-ledger-this-run-did-not-start-on"}
    op = FetchAdvertisableContentOperator(task_id="fetch", brand=brand)
    with pytest.raises(LedgerMismatchError, match="a-ledger-this-run-did-not-start-on"):
        op.execute(context())
    assert _discovery_calls(pipeline) == []
