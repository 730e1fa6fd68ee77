"""``python -m include.drills.dagrun DAG_ID [--conf JSON] [--retry-delay-seconds N] [--logical-date ISO]``

Runs one DAG run exactly as ``airflow dags test`` does (same ``DAG.test`` loop, tasks in process, task logs on
stdout), with one difference: every task's retry delay is shortened to ``--retry-delay-seconds`` (no
exponential backoff). ``airflow dags test`` waits for a retry in real time (the DAG's delay is two minutes
and more), so drills that need a task to fail and be retried compress the delay the way a fake clock would.
Retries, their count and everything else come from the DAG file unchanged.

Prints a last line ``DRILL-RUN {"run_id", "state", "tries": {task_id[map_index]: [states of every try]}}``
and exits 0 when the run succeeded, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

RESULT_PREFIX = "DRILL-RUN "


def _tries(dag_id: str, run_id: str) -> dict[str, list[str]]:
    """Every try of every task instance of the run: history rows (earlier tries) then the current one."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from sqlalchemy import select

    tries: dict[str, list[tuple[int, str]]] = {}
    with create_session() as session:
        for model in (TaskInstanceHistory, TaskInstance):
            rows = session.execute(
                select(model.task_id, model.map_index, model.try_number, model.state).where(
                    model.dag_id == dag_id, model.run_id == run_id
                )
            )
            for task_id, map_index, try_number, state in rows:
                key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
                tries.setdefault(key, []).append((int(try_number or 0), str(state)))
    return {key: [state for _, state in sorted(set(values))] for key, values in sorted(tries.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.drills.dagrun", description=__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--conf", default=None, help="run conf (trigger params) as JSON")
    parser.add_argument("--retry-delay-seconds", type=float, default=1.0)
    parser.add_argument("--logical-date", default=None, help="ISO date-time (default: now)")
    args = parser.parse_args(argv)

    from airflow.utils.cli import get_bagged_dag

    dag = get_bagged_dag(None, args.dag_id)
    for task in dag.tasks:
        task.retry_delay = dt.timedelta(seconds=args.retry_delay_seconds)
        task.retry_exponential_backoff = 0
    logical_date = (
        dt.datetime.fromisoformat(args.logical_date) if args.logical_date else dt.datetime.now(dt.UTC)
    )
    conf: dict[str, Any] | None = json.loads(args.conf) if args.conf else None
    dag_run = dag.test(logical_date=logical_date, run_conf=conf)
    state = str(getattr(dag_run.state, "value", dag_run.state))
    result = {"run_id": dag_run.run_id, "state": state, "tries": _tries(args.dag_id, dag_run.run_id)}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
