"""What the `airflow dags test` end-to-end modules share: a spawned sandbox wired in as a deployment."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from include.demo import airflow_environment, pipeline_environment, run_airflow
from include.graph_sandbox.testing import spawn_sandbox
from partnership_ads.ledger import Ledger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from include.graph_sandbox.testing import SandboxProcess


class Deployment:
    """A sandbox, the Airflow environment wired to it, the demo's facts and a folder for the runs' logs."""

    def __init__(
        self, sandbox: SandboxProcess, env: dict[str, str], facts: dict[str, Any], state: Path
    ) -> None:
        self.sandbox = sandbox
        self.env = env
        self.facts = facts
        self.state = state
        self.runs = 0

    def dags_test(self, *extra: str) -> tuple[int, str]:
        """``airflow dags test partnership_ad_codes <extra>``: its exit code and its log."""
        self.runs += 1
        log_path = self.state / f"dags-test-{self.runs}.log"
        code = run_airflow(["dags", "test", "partnership_ad_codes", *extra], self.env, log_path, timeout=300)
        return code, log_path.read_text()

    @property
    def ledger(self) -> Ledger:
        return Ledger.from_sqlite_path(self.facts["ledger_path"])

    def created(self) -> list[dict[str, Any]]:
        """The codes the sandbox created (not the ones its world was seeded with)."""
        return [c for c in self.sandbox.ad_codes() if c["origin"] != "seeded"]


D = TypeVar("D", bound=Deployment)


@contextmanager
def deployment_on(
    airflow_db: Path,
    name: str,
    kind: type[D],
    *,
    seed: int,
    items: int,
    output: bool = True,
    **environment: Any,
) -> Iterator[D]:
    """A fresh sandbox (``seed``, ``items``) wired in as ``kind``, its state under ``<airflow_db>/<name>``;
    ``output``: the files sink writes to ``<state>/out``. The sandbox is stopped on exit."""
    state = airflow_db / name
    state.mkdir(parents=True, exist_ok=True)
    sandbox = spawn_sandbox(port=0, seed=seed, items=items)
    try:
        if output:
            environment["output_uri"] = str(state / "out")
        extra, facts = pipeline_environment(sandbox, state_dir=state, **environment)
        yield kind(sandbox, airflow_environment(airflow_db, extra), facts, state)
    finally:
        sandbox.stop()
