"""The pipeline's operators against the real graph sandbox, with connections from the environment."""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from include.demo import pipeline_environment
from partnership_ads.ledger import Ledger
from partnership_ads.operators import (
    FetchAdvertisableContentOperator,
    IssueAdCodesOperator,
    PushAdCodesOperator,
)
from partnership_ads.snapshot import iter_rows

if TYPE_CHECKING:
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer


def context(run_id: str = "manual__2026-06-01", try_number: int = 1) -> dict[str, Any]:
    """The part of an Airflow task context the operators read."""
    ti = types.SimpleNamespace(dag_id="partnership_ad_codes", task_id="t", map_index=0, try_number=try_number)
    return {"run_id": run_id, "ti": ti}


@dataclass
class Pipeline:
    """Runs fetch -> issue -> push for one brand, as the DAG does, on the sandbox."""

    sandbox: SandboxServer
    facts: dict[str, Any]
    out: Path

    @property
    def brand(self) -> dict[str, Any]:
        return self.facts["brands"][0]

    @property
    def ledger(self) -> Ledger:
        return Ledger.from_sqlite_path(self.facts["ledger_path"])

    def fetch(self, run_id: str = "manual__1", **kwargs: Any) -> dict[str, Any]:
        b = self.brand
        op = FetchAdvertisableContentOperator(
            task_id="fetch",
            business_id=b["business_id"],
            fb_page_id=b["fb_page_id"],
            ig_user_id=b["ig_user_id"],
            meta_conn_id=b["meta_conn_id"],
            **kwargs,
        )
        return op.execute(context(run_id))

    def issue(self, fetched: dict[str, Any], run_id: str = "manual__1", **kwargs: Any) -> dict[str, Any]:
        b = self.brand
        op = IssueAdCodesOperator(
            task_id="issue",
            snapshot_path=fetched["snapshot_path"],
            business_id=b["business_id"],
            fb_page_id=b["fb_page_id"],
            ig_user_id=b["ig_user_id"],
            meta_conn_id=b["meta_conn_id"],
            **kwargs,
        )
        return op.execute(context(run_id))

    def push(self, run_id: str = "manual__1", try_number: int = 1, **kwargs: Any) -> dict[str, Any]:
        op = PushAdCodesOperator(task_id="push", business_id=self.brand["business_id"], **kwargs)
        return op.execute(context(run_id, try_number))

    def claimable(self, fetched: dict[str, Any]) -> str:
        """An AD_READY Instagram item of the snapshot without a code whose creator has a connection."""
        return next(
            r["content_id"]
            for r in iter_rows(
                fetched["snapshot_path"],
                columns=["content_id", "platform", "ad_eligibility", "ad_code", "author_ig_user_id"],
            )
            if r["platform"] == "INSTAGRAM"
            and r["ad_eligibility"] == "AD_READY"
            and not r["ad_code"]
            and r["author_ig_user_id"] in self.facts["creators_with_connection"]
        )

    def created_codes(self) -> list[dict[str, Any]]:
        """Codes the sandbox created through the API (not seeded)."""
        return [c for c in self.sandbox.ad_codes() if c["origin"] != "seeded"]

    def posts(self) -> list[dict[str, Any]]:
        return [
            r
            for r in self.sandbox.requests_log()
            if r.get("method") == "POST" and "partnership_ad_code" in r.get("path", "")
        ]


@pytest.fixture
def pipeline(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    out = tmp_path / "out"
    env, facts = pipeline_environment(sandbox, state_dir=tmp_path, output_uri=str(out))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Pipeline(sandbox=sandbox, facts=facts, out=out)
