"""Connections and brand list of a topology wired to the graph sandbox, as environment variables.

The wiring is the demo's (:func:`include.demo.pipeline_environment`: brand connections ``meta_graph_default``
and ``meta_graph_brand_N``, one ``meta_graph_creator_<ig_user_id>`` per creator but the last, the webhook
receiver, ``PARTNERSHIP_ADS_BRANDS``); the topology only moves the ledger and the SQL sink
(``partnership_ads_db``) to their own PostgreSQL database and the snapshots under its AIRFLOW_HOME.

Tokens are read from the running sandbox's control API at start and handed to the Airflow processes in these
variables only: never written to a file or logged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from include.demo import pipeline_environment
from include.graph_sandbox.testing import SandboxClient
from include.topology.services import connection_env_name
from partnership_ads.conn_ids import DEFAULT_LEDGER_CONN_ID

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

SANDBOX_BRANDS = 3


def sandbox_environment(
    sandbox_url: str, *, ledger_uri: str, state_dir: Path, meta_extra: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Every variable the pipeline needs to run against the sandbox at ``sandbox_url``.

    :param ledger_uri: ``postgresql://...`` URI of the ledger database (connection ``partnership_ads_db``).
    :param state_dir: where run snapshots are written (the topology's AIRFLOW_HOME).
    :param meta_extra: merged into the extra of every ``meta_graph`` connection (the drills shorten
        ``timeout``).
    """
    env, _facts = pipeline_environment(SandboxClient(sandbox_url), state_dir=state_dir, brands=SANDBOX_BRANDS)
    env[connection_env_name(DEFAULT_LEDGER_CONN_ID)] = ledger_uri
    if meta_extra:
        for key, value in list(env.items()):
            if key.startswith("AIRFLOW_CONN_META_GRAPH"):
                conn = json.loads(value)
                conn["extra"] = {**conn.get("extra", {}), **meta_extra}
                env[key] = json.dumps(conn)
    return env
