"""Connections and brand list for running the pipeline against the graph sandbox (demo and tests).

Builds ``AIRFLOW_CONN_*`` environment variables, so nothing is written to a metadata database and every
process started with this environment (``airflow dags test``, pytest) sees the same connections. Tokens only
ever travel inside these variables: nothing here prints or logs them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pathlib import Path


class SandboxLike(Protocol):
    url: str
    api_version: str

    def tokens(self) -> list[dict[str, Any]]: ...


DEMO_WEBHOOK_SECRET = "demo-webhook-signing-secret"  # noqa: S105 - a sandbox-only value, not a credential


def _meta_conn(url: str, api_version: str, token: str) -> str:
    return json.dumps(
        {
            "conn_type": "meta_graph",
            "host": url,
            "password": token,
            "extra": {
                "api_version": api_version,
                "backoff_base_seconds": 0.05,
                "backoff_max_seconds": 0.5,
                "max_retries": 3,
            },
        }
    )


def sandbox_brands(sandbox: SandboxLike, count: int = 2) -> list[dict[str, Any]]:
    """The first ``count`` generated (non-example) brands, with the connection id each uses."""
    brands = [
        t
        for t in sandbox.tokens()
        if t["role"] == "brand" and t["label"] != "minted" and "seed example" not in t["label"]
    ][:count]
    return [
        {
            "business_id": b["business_id"],
            "fb_page_id": b["fb_page_id"],
            "ig_user_id": b["ig_user_id"],
            "meta_conn_id": "meta_graph_default" if i == 0 else f"meta_graph_brand_{i + 1}",
        }
        for i, b in enumerate(brands)
    ]


def pipeline_environment(
    sandbox: SandboxLike,
    *,
    state_dir: Path,
    brands: int = 2,
    skip_creators: int = 1,
    webhook_secret: str = DEMO_WEBHOOK_SECRET,
    output_uri: str | None = None,
) -> tuple[dict[str, str], dict[str, Any]]:
    """Environment variables for a pipeline run on the sandbox, and facts about it.

    Brand 1 uses ``meta_graph_default``, brand N ``meta_graph_brand_N``. Every creator but the last
    ``skip_creators`` gets ``meta_graph_creator_<ig_user_id>``, so some items await creator authorisation.
    The ledger and the SQL sink use ``partnership_ads_db``: SQLite at ``state_dir/partnership_ads.db``.

    :returns: ``(env, facts)``; facts has ``brands``, ``creators_with_connection``,
        ``creators_without_connection``, ``ledger_path``, ``output_uri``.
    """
    tokens = sandbox.tokens()
    chosen = sandbox_brands(sandbox, brands)
    by_business = {t["business_id"]: t for t in tokens if t["role"] == "brand" and t["label"] != "minted"}
    env: dict[str, str] = {}
    for brand in chosen:
        token = by_business[brand["business_id"]]["access_token"]
        env[f"AIRFLOW_CONN_{brand['meta_conn_id'].upper()}"] = _meta_conn(
            sandbox.url, sandbox.api_version, token
        )
    creators = [t for t in tokens if t["role"] == "creator" and t["label"] != "minted"]
    with_conn = creators[: len(creators) - skip_creators] if skip_creators else creators
    without = creators[len(with_conn) :]
    for creator in with_conn:
        env[f"AIRFLOW_CONN_META_GRAPH_CREATOR_{creator['ig_user_id']}"] = _meta_conn(
            sandbox.url, sandbox.api_version, creator["access_token"]
        )
    ledger_path = state_dir / "partnership_ads.db"
    env["AIRFLOW_CONN_PARTNERSHIP_ADS_DB"] = json.dumps({"conn_type": "sqlite", "host": str(ledger_path)})
    env["AIRFLOW_CONN_PARTNERSHIP_ADS_WEBHOOK"] = json.dumps(
        {"conn_type": "http", "host": f"{sandbox.url}/__sandbox__/webhook", "password": webhook_secret}
    )
    env["PARTNERSHIP_ADS_BRANDS"] = json.dumps(chosen)
    env["PARTNERSHIP_ADS_SNAPSHOT_ROOT"] = str(state_dir / "snapshots")
    if output_uri:
        env["PARTNERSHIP_ADS_OUTPUT_URI"] = output_uri
    facts = {
        "brands": chosen,
        "creators_with_connection": [c["ig_user_id"] for c in with_conn],
        "creators_without_connection": [c["ig_user_id"] for c in without],
        "ledger_path": ledger_path,
        "output_uri": output_uri,
    }
    return env, facts
