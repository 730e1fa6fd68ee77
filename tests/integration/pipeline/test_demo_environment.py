"""The demo's pipeline environment, built from the sandbox's token records."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from include.demo import pipeline_environment

if TYPE_CHECKING:
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxServer


def test_a_labelled_minted_token_never_replaces_a_brands_generated_token(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    brand = sandbox.brand_token()
    minted = sandbox.mint_token(
        role="brand", business_id=brand["business_id"], scopes=[], label="narrow scopes for a drill"
    )
    env, facts = pipeline_environment(sandbox, state_dir=tmp_path, brands=1, skip_creators=0)
    conn_id = facts["brands"][0]["meta_conn_id"]
    password = json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])["password"]
    assert password == brand["access_token"]
    assert minted not in json.dumps(env)


def test_app_credentials_reach_every_meta_graph_connection_only_when_asked(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    app = sandbox.app()
    env, facts = pipeline_environment(sandbox, state_dir=tmp_path, brands=1, app_credentials=True)
    meta = [json.loads(v) for v in env.values() if v.startswith("{") and '"meta_graph"' in v]
    assert meta
    assert all(
        (c["extra"]["app_id"], c["extra"]["app_secret"]) == (app["app_id"], app["app_secret"]) for c in meta
    )
    assert facts["app_id"] == app["app_id"]
    plain, _ = pipeline_environment(sandbox, state_dir=tmp_path, brands=1)
    assert app["app_secret"] not in json.dumps(plain)
