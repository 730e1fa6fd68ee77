"""A child process for the SIGKILL test of batched issuance (not a test module: run as a script).

Runs ``IssueAdCodesOperator.execute`` as a worker would, except that the ledger's ``record_codes`` writes a
marker file and then blocks forever: the parent kills this process once codes were POSTed and their batch is
waiting to be recorded. The patch lives in this child only; production code has no hook for it.

Arguments: a JSON object with ``kwargs`` (the operator's), ``run_id`` and ``marker`` (a file path).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any


def main(spec: dict[str, Any]) -> int:
    from partnership_ads.ledger import codes
    from partnership_ads.operators import IssueAdCodesOperator

    marker = Path(spec["marker"])
    lock = threading.Lock()

    def record_codes_then_hang(self: Any, records: Any, *, owner: str) -> list[str]:
        with lock:
            with marker.open("a") as handle:
                handle.write(json.dumps([r.content_id for r in records]) + "\n")
        while True:
            time.sleep(60)

    codes.AdCodes.record_codes = record_codes_then_hang  # type: ignore[method-assign]
    ti = types.SimpleNamespace(dag_id="partnership_ad_codes", task_id="issue", map_index=-1, try_number=1)
    IssueAdCodesOperator(task_id="issue", **spec["kwargs"]).execute({"run_id": spec["run_id"], "ti": ti})
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
