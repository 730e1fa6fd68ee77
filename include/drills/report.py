"""``python -m include.drills.report``: print the drill table from ``.demo/drills/results/``.

Exits 1 when there is no result, or when any drill did not pass or counted a lost, duplicated or invalidated
code.
"""

from __future__ import annotations

import sys

from include.drills.results import DrillResult, read_results, results_dir
from partnership_ads.summary import format_table

HEADERS = (
    "drill",
    "trials",
    "faults injected",
    "expected",
    "issued",
    "invalidated",
    "lost",
    "duplicated",
    "verdict",
)


def table(results: list[DrillResult]) -> str:
    """The drill table, one row per drill and a total row."""
    rows = [
        [r.drill, r.trials, r.faults, r.expected, r.issued, r.invalidated, r.lost, r.duplicated, r.verdict]
        for r in results
    ]
    total = [
        "TOTAL",
        sum(r.trials for r in results),
        "",
        sum(r.expected for r in results),
        sum(r.issued for r in results),
        sum(r.invalidated for r in results),
        sum(r.lost for r in results),
        sum(r.duplicated for r in results),
        "PASS" if results and all(r.passed for r in results) else "FAIL",
    ]
    return format_table(HEADERS, [*rows, total])


def main() -> int:
    results = read_results()
    if not results:
        print(f"No drill results in {results_dir()}: run `pytest tests/drills -m drill` first.")
        return 1
    print(table(results))
    for result in results:
        for note in result.notes:
            print(f"  {result.drill}: {note}")
    bad = [r.drill for r in results if not r.passed or r.lost or r.duplicated or r.invalidated]
    if bad:
        print(f"FAILED drills: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
