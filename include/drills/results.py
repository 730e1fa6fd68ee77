"""The result of one drill, as the drill tests write it and ``make drills`` prints it.

One JSON file per drill under ``.demo/drills/results/`` (ignored folder). Counts are per media (content_id):

- ``expected``: eligible items (AD_READY Instagram items of the brands served whose owner has credentials);
- ``issued``: codes the sandbox created during the drill (POSTs that succeeded);
- ``invalidated``: codes the sandbox invalidated during the drill (a repeated POST in ``rotate`` mode);
- ``lost``: eligible items without a valid code at the sandbox, or whose valid code is missing from the ledger
  or from any sink;
- ``duplicated``: items with more than one code created, or delivered more than once to a sink.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from include.drills.audit import Audit

ROOT = Path(__file__).resolve().parents[2]
RESULTS_ENV = "PARTNERSHIP_ADS_DRILL_RESULTS"


def results_dir() -> Path:
    """Where drill results go: ``$PARTNERSHIP_ADS_DRILL_RESULTS`` or ``.demo/drills/results``."""
    return Path(os.environ.get(RESULTS_ENV) or ROOT / ".demo" / "drills" / "results")


@dataclass
class DrillResult:
    """One row of the drill table."""

    drill: str
    trials: int
    faults: str
    expected: int = 0
    issued: int = 0
    invalidated: int = 0
    lost: int = 0
    duplicated: int = 0
    verdict: str = "FAIL"
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def from_audit(
        cls,
        audit: Audit,
        *,
        drill: str,
        trials: int,
        faults: str,
        passed: bool,
        notes: list[str],
        seconds: float,
    ) -> DrillResult:
        """A row whose counts come from ``audit``; ``passed`` is the drill's own verdict."""
        return cls(
            drill=drill,
            trials=trials,
            faults=faults,
            expected=audit.expected,
            issued=audit.issued,
            invalidated=audit.invalidated,
            lost=audit.lost,
            duplicated=audit.duplicated,
            verdict="PASS" if passed else "FAIL",
            notes=notes,
            seconds=round(seconds, 1),
        )

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def write(self, folder: Path | None = None) -> Path:
        """Write ``<folder>/<drill>.json`` (the drill name made file-safe)."""
        folder = folder or results_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.drill)
        path = folder / f"{name}.json"
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True))
        return path


def read_results(folder: Path | None = None) -> list[DrillResult]:
    """Every result in ``folder``, ordered by drill name."""
    folder = folder or results_dir()
    results: list[DrillResult] = []
    for path in sorted(folder.glob("*.json")):
        data: dict[str, Any] = json.loads(path.read_text())
        results.append(DrillResult(**data))
    return results
