"""The benchmark's world: a graph sandbox child process and the environment that points the pipeline at it.

The sandbox runs as its own process (``spawn_sandbox``) so that it never competes with the measured client
for the GIL. Connections are ``AIRFLOW_CONN_*`` variables built by :func:`include.demo.pipeline_environment`
(one brand, a connection for every creator), exactly what ``make demo`` and the end-to-end tests use.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.demo import pipeline_environment
from include.graph_sandbox.testing import spawn_sandbox

if TYPE_CHECKING:
    from include.graph_sandbox.testing import SandboxProcess

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".demo" / "bench"
# The sandbox's generator tags each item with one to three of its three brands: a brand sees about 42% of
# all items. Multiplying by this factor gives the first brand at least the asked number of items.
ITEMS_PER_BRAND_FACTOR = 2.4


def sandbox_items_for(brand_items: int) -> int:
    """Items to generate so that the first brand's discovery holds about ``brand_items`` items."""
    return math.ceil(brand_items * ITEMS_PER_BRAND_FACTOR)


@dataclass
class World:
    """A running sandbox, the pipeline environment for its first brand, and where state goes."""

    sandbox: SandboxProcess
    env: dict[str, str]
    brand: dict[str, Any]
    state_dir: Path
    latency_ms: float

    @property
    def brand_token(self) -> str:
        for record in self.sandbox.tokens():
            if record["role"] == "brand" and record["business_id"] == self.brand["business_id"]:
                return str(record["access_token"])
        raise LookupError(f"no brand token for business {self.brand['business_id']}")

    def creator_tokens(self) -> dict[str, str]:
        return {str(t["ig_user_id"]): str(t["access_token"]) for t in self.sandbox.creator_tokens()}

    def discovery_pages(self, items: int, page_size: int = 50) -> int:
        """Pages a sequential walk of ``items`` items takes at ``page_size``."""
        return max(1, math.ceil(items / page_size))


def base_environment(state_dir: Path) -> dict[str, str]:
    """The process environment for the benchmark: AIRFLOW_HOME under ``.demo/bench`` and the import paths."""
    env = os.environ.copy()
    env["AIRFLOW_HOME"] = str(state_dir / "airflow")
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")) if p
    )
    return env


def start_world(
    *, brand_items: int, latency_ms: float, state_dir: Path, seed: int = 7, **config: Any
) -> World:
    """Spawn the sandbox with about ``brand_items`` items for its first brand and build the environment."""
    state_dir.mkdir(parents=True, exist_ok=True)
    sandbox = spawn_sandbox(
        seed=seed, items=sandbox_items_for(brand_items), latency_ms=latency_ms, startup_timeout=300, **config
    )
    try:
        env, facts = pipeline_environment(sandbox, state_dir=state_dir, brands=1, skip_creators=0)
    except BaseException:
        sandbox.stop()
        raise
    full_env = {**base_environment(state_dir), **env}
    return World(sandbox, full_env, facts["brands"][0], state_dir, latency_ms)
