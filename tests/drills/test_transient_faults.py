"""Drill: transient failures on about 10% of Graph requests, during one whole DAG run.

HTTP 500, Meta's code 1 and 2 with ``is_transient``, dropped connections (before and after the handler ran,
so some POSTs created a code whose answer never arrived), HTML error pages, truncated bodies and timeouts. The
run must complete with every eligible item holding exactly one valid code, and every code in every sink once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from include.drills.audit import audit, describe_fired
from include.drills.results import DrillResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from include.drills.harness import DrillEnv

pytestmark = pytest.mark.drill

# Seven kinds sharing ~10% of requests (each fault draws independently, in order, with its own seed).
FAULTS = [
    {"kind": "http_500", "fraction": 0.015, "seed": 11},
    {"kind": "transient", "code": 1, "fraction": 0.015, "seed": 12},
    {"kind": "transient", "code": 2, "fraction": 0.015, "seed": 13},
    {"kind": "drop", "fraction": 0.01, "seed": 14},
    {"kind": "drop", "method": "POST", "after": True, "fraction": 0.03, "seed": 15},
    {"kind": "html", "fraction": 0.015, "seed": 16},
    {"kind": "truncated", "fraction": 0.015, "seed": 17},
    {"kind": "timeout", "delay_ms": 2500, "fraction": 0.01, "seed": 18},
]


def test_ten_percent_transient_faults_end_with_one_valid_code_per_item_in_every_sink(
    make_drill: Callable[..., DrillEnv],
) -> None:
    began = time.monotonic()
    drill = make_drill("transient_faults", meta_extra={"timeout": 1.5, "max_retries": 4})
    for spec in FAULTS:
        drill.sandbox.schedule_fault(**spec)
    run = drill.run_dag("run")
    log = drill.sandbox.requests_log()
    faulted = [entry for entry in log if entry["fault"]]
    graph_calls = [entry for entry in log if not entry["path"].startswith("/__sandbox__")]
    drill.sandbox.clear_faults()
    result = audit(drill)
    share = len(faulted) / max(1, len(graph_calls))
    verdict = run.state == "success" and result.clean and share >= 0.05
    DrillResult.from_audit(
        result,
        drill="transient_faults",
        trials=1,
        faults=f"{len(faulted)} of {len(graph_calls)} calls ({share:.0%}): {describe_fired(log)}",
        passed=verdict,
        notes=result.problems[:10] + ([] if run.state == "success" else [f"run {run.state}: {run.log_path}"]),
        seconds=time.monotonic() - began,
    ).write()
    assert run.state == "success", f"the run did not complete: {run.tries} (log {run.log_path})"
    assert share >= 0.05, f"only {len(faulted)} of {len(graph_calls)} calls were faulted"
    assert result.clean, result.summary()
    assert {e["fault"] for e in faulted} >= {"http_500", "transient", "drop"}
