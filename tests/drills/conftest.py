"""Shared setup of the fault drills (see the README's drills section).

- One graph sandbox for the whole drill session (in process, real HTTP); every drill resets it to the seeded
  state in ``rotate`` mode (a second POST invalidates the first code) through ``DrillEnv.create``.
- One migrated Airflow metadata database, copied into each drill's own Airflow home.
- ``evidence``: every secret any drill used, and every exception text a drill caught, for the secret scan that
  runs after every other drill (``test_secrets.py`` is moved to the end of the session).
- Drill results go to ``.demo/drills/results/`` (one JSON per drill) for ``python -m include.drills.report``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from include.drills.harness import ROOT, DrillEnv, migrated_airflow_db
from include.drills.results import results_dir
from include.graph_sandbox.testing import SandboxServer, start_sandbox

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

DRILLS_STATE = ROOT / ".demo" / "drills"
WORK = DRILLS_STATE / "work"
SANDBOX_ITEMS = 200


@dataclass
class Evidence:
    """What the secret scan needs from every drill of the session (kept in memory only)."""

    # Kept out of the repr: pytest prints fixture values when a drill fails.
    secrets: set[str] = field(default_factory=set, repr=False)
    exception_texts: list[str] = field(default_factory=list, repr=False)
    drills: list[DrillEnv] = field(default_factory=list, repr=False)

    def add_drill(self, drill: DrillEnv) -> None:
        self.drills.append(drill)
        self.secrets.update(drill.secrets)

    def add_exception(self, exc: BaseException) -> None:
        self.exception_texts.append(f"{type(exc).__name__}: {exc}")
        if exc.__cause__ is not None:
            self.exception_texts.append(f"cause: {exc.__cause__!r}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The secret scan runs last: it scans what every other drill left behind."""
    items.sort(key=lambda item: item.path.name == "test_secrets.py")


@pytest.fixture(scope="session")
def drill_results() -> Path:
    """The results folder, emptied once per session."""
    folder = results_dir()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def drill_airflow_db() -> Path:
    """A migrated Airflow metadata database (SQLite) to copy into each drill's Airflow home."""
    return migrated_airflow_db(WORK / "_airflow_template")


@pytest.fixture(scope="session")
def drill_sandbox() -> Iterator[SandboxServer]:
    with start_sandbox(seed=7, items=SANDBOX_ITEMS, ad_code_repeat="rotate") as server:
        yield server


@pytest.fixture(scope="session")
def evidence() -> Evidence:
    return Evidence()


@pytest.fixture
def make_drill(
    drill_sandbox: SandboxServer, drill_airflow_db: Path, drill_results: Path, evidence: Evidence
) -> Iterator[Callable[..., DrillEnv]]:
    """Build a ``DrillEnv`` under ``.demo/drills/work/<name>`` and register it for the secret scan; keeps
    the sandbox's evidence (webhook bodies, request log) when the test ends."""
    made: list[DrillEnv] = []

    def make(name: str, **kwargs: object) -> DrillEnv:
        drill = DrillEnv.create(name, drill_sandbox, work=WORK / name, airflow_db=drill_airflow_db, **kwargs)
        evidence.add_drill(drill)
        made.append(drill)
        return drill

    yield make
    if made:
        made[-1].keep_evidence()
