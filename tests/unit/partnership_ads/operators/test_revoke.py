"""RevokeAdCodesOperator on the real graph sandbox: checks before any delete, a failed delete described."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from partnership_ads.operators import RevokeAdCodesOperator
from tests.integration.pipeline.conftest import context

if TYPE_CHECKING:
    from tests.integration.pipeline.conftest import Pipeline


def _deletes(pipeline: Pipeline) -> list[dict]:
    return [r for r in pipeline.sandbox.requests_log() if r.get("method") == "DELETE"]


def _issued_media(pipeline: Pipeline) -> str:
    pipeline.issue(pipeline.fetch())
    pipeline.push()
    return pipeline.ledger.codes(states=["issued"])[0].content_id


def test_a_revocation_tells_every_sink_of_the_brand(pipeline: Pipeline) -> None:
    media_id = _issued_media(pipeline)
    result = RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id]).execute(context("manual__revoke"))
    assert result["revoked"] == [media_id]
    assert result["failed"] == {}
    assert result["delivered"] == {pipeline.brand["business_id"]: {"sql": 1, "webhook": 1, "files": 1}}
    assert pipeline.ledger.code(media_id).state == "revoked"


def test_a_delete_meta_refuses_fails_the_task_with_the_error_described_and_the_code_kept(
    pipeline: Pipeline,
) -> None:
    media_id = _issued_media(pipeline)
    pipeline.sandbox.schedule_fault(method="DELETE", kind="http_500", fraction=1.0)
    with pytest.raises(
        AirflowException, match=rf"Revocation incomplete: delete failures {{'{media_id}': '\w+Error"
    ):
        RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id]).execute(context("manual__revoke"))
    assert pipeline.ledger.code(media_id).state == "issued"
    assert not any(row[5] == "revoked" for row in pipeline.ledger.deliveries())


def test_media_ids_that_are_not_ids_are_refused_before_any_delete(pipeline: Pipeline) -> None:
    media_id = _issued_media(pipeline)
    op = RevokeAdCodesOperator(task_id="revoke", media_ids=[media_id, "17; DROP TABLE"])
    with pytest.raises(AirflowFailException, match=r"^Invalid parameter: media_ids\[1\]"):
        op.execute(context("manual__revoke"))
    assert _deletes(pipeline) == []
    assert pipeline.ledger.code(media_id).state == "issued"
