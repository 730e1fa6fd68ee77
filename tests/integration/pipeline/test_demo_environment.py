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
