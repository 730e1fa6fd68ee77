"""Figures, the results table and its JSON file.

Every benchmark repeats its measurement and reports the median with min and max. A ratio (measured over
bound, pipeline over baseline) is computed inside each repetition and then summarised the same way, so a slow
moment of the machine moves both sides of a ratio together instead of skewing it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Stats:
    """Median, min and max of the samples of one figure."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: list[float] | tuple[float, ...]) -> Stats:
        if not samples:
            raise ValueError("Stats.of needs at least one sample")
        return cls(statistics.median(samples), min(samples), max(samples), tuple(samples))

    def render(self, unit: str, digits: int = 2) -> str:
        if len(self.samples) == 1:
            return f"{self.median:.{digits}f} {unit}".strip()
        return f"{self.median:.{digits}f} {unit} [{self.min:.{digits}f}-{self.max:.{digits}f}]".replace(
            "  ", " "
        )


@dataclass
class Row:
    """One line of the table: what was measured, against what, the target and whether it is met."""

    key: str
    title: str
    measured: Stats | None
    unit: str
    reference: str
    target: str
    met: bool
    ratio: Stats | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: Why there is no figure (``measured`` is then None and the target counts as not met).
    not_measured: str | None = None

    @property
    def verdict(self) -> str:
        if self.not_measured:
            return "not measured"
        return "met" if self.met else "NOT MET"

    def cells(self) -> list[str]:
        ratio = self.ratio.render("x") if self.ratio else "-"
        measured = f"not measured ({self.not_measured})" if self.not_measured else "-"
        if self.measured is not None:
            measured = self.measured.render(self.unit)
        return [self.title, measured, self.reference, ratio, self.target, self.verdict]


HEADERS = ["benchmark", "measured: median [min-max]", "against", "ratio", "target", "result"]


def machine() -> dict[str, Any]:
    """The machine a run happened on, for the README and the JSON file."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": list(os.getloadavg()),
    }


def markdown_table(rows: list[Row]) -> str:
    """The table as Markdown (what the README shows)."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def text_table(rows: list[Row]) -> str:
    """The table as aligned plain text (what the terminal shows)."""
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    out = []
    for n, cells in enumerate(table):
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def write_json(
    rows: list[Row], settings: dict[str, Any], path: Path, started: datetime, host: dict[str, Any]
) -> Path:
    """Write every row (with all samples) plus the machine and the settings to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": host,
        "settings": settings,
        "all_met": all(row.met for row in rows),
        "rows": [asdict(row) for row in rows],
        "markdown": markdown_table(rows),
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path
