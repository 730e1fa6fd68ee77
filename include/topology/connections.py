"""Connections and brand list of a topology wired to the graph sandbox, as environment variables.

The sandbox hands out its tokens over its control API (``GET /__sandbox__/tokens``): they are read at start
and passed to the Airflow processes as ``AIRFLOW_CONN_*`` variables, never written to a file.

- ``meta_graph_default``: the first brand's token; ``meta_graph_brand_<business_id>``: each brand's own token
  (a sandbox brand token, like a real one, reaches its own business only).
- ``meta_graph_creator_<ig_user_id>``: one per creator, so codes are issued by the media's owner.
- ``partnership_ads_db``: the ledger and SQL sink, on its own PostgreSQL database.
- ``partnership_ads_webhook``: the sandbox's webhook receiver.
- ``PARTNERSHIP_ADS_BRANDS``: every brand the sandbox knows, each with its own connection.
"""

from __future__ import annotations

import json
from typing import Any

from include.graph_sandbox.testing import SandboxClient
from include.topology.services import CREATOR_CONNECTION_PREFIX, connection_env_name

BRAND_CONNECTION_PREFIX = "meta_graph_brand_"
BRANDS_ENV = "PARTNERSHIP_ADS_BRANDS"
WEBHOOK_PATH = "/__sandbox__/webhook"


def meta_graph_connection(base_url: str, access_token: str, api_version: str) -> str:
    """A ``meta_graph`` connection as the JSON Airflow reads from ``AIRFLOW_CONN_<ID>``."""
    return json.dumps(
        {
            "conn_type": "meta_graph",
            "host": base_url,
            "password": access_token,
            "extra": {"api_version": api_version, "max_retries": 3, "backoff_base_seconds": 0.5},
        }
    )


def sandbox_environment(sandbox_url: str, *, ledger_uri: str) -> dict[str, str]:
    """Every variable the pipeline needs to run against the sandbox at ``sandbox_url``.

    :param ledger_uri: ``postgresql://...`` URI of the ledger database (connection ``partnership_ads_db``).
    """
    client = SandboxClient(sandbox_url)
    tokens: list[dict[str, Any]] = client.tokens()
    brand_tokens = [t for t in tokens if t["role"] == "brand" and t.get("label") != "minted"]
    creator_tokens = [t for t in tokens if t["role"] == "creator" and t.get("label") != "minted"]
    if not brand_tokens:
        raise RuntimeError(f"the sandbox at {sandbox_url} lists no brand token")
    base_url = client.url
    version = client.api_version
    env: dict[str, str] = {
        connection_env_name("meta_graph_default"): meta_graph_connection(
            base_url, brand_tokens[0]["access_token"], version
        ),
        connection_env_name("partnership_ads_db"): ledger_uri,
        connection_env_name("partnership_ads_webhook"): json.dumps(
            {"conn_type": "http", "host": base_url + WEBHOOK_PATH}
        ),
    }
    brands = []
    for token in brand_tokens:
        conn_id = BRAND_CONNECTION_PREFIX + token["business_id"]
        env[connection_env_name(conn_id)] = meta_graph_connection(base_url, token["access_token"], version)
        brands.append(
            {
                "business_id": token["business_id"],
                "fb_page_id": token["fb_page_id"],
                "ig_user_id": token["ig_user_id"],
                "meta_conn_id": conn_id,
            }
        )
    for token in creator_tokens:
        conn_id = CREATOR_CONNECTION_PREFIX + token["ig_user_id"]
        env[connection_env_name(conn_id)] = meta_graph_connection(base_url, token["access_token"], version)
    env[BRANDS_ENV] = json.dumps(brands)
    return env
