"""A pre-forked operator runner for crash drills: ``python -m include.drills.crash`` (see :class:`Zygote`).

The process imports Airflow, the operators and their dependencies once, then forks one child per command and
runs one operator's ``execute`` in it, the way a worker runs a task. The drill can SIGKILL the child at any
moment (it learns the child's pid first) and then start the next attempt. Forking keeps twenty kill-and-rerun
trials within seconds instead of paying Python's and Airflow's import time for every attempt.

Protocol (JSON lines): the driver writes ``{"op": "fetch"|"issue"|"push", "kwargs": {...}, "log": PATH,
"run_id": ..., "try_number": N}``; the runner answers ``{"pid": PID}`` when the child started and
``{"exit": CODE}`` when it ended. A child writes its operator's log to ``log`` and, when execute raised,
 the exception text after a ``EXCEPTION:`` line.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "DRILL-CRASH "


def _operator(op: str, kwargs: dict[str, Any]) -> Any:
    from partnership_ads.operators import (
        FetchAdvertisableContentOperator,
        IssueAdCodesOperator,
        PushAdCodesOperator,
    )

    classes = {
        "fetch": FetchAdvertisableContentOperator,
        "issue": IssueAdCodesOperator,
        "push": PushAdCodesOperator,
    }
    return classes[op](task_id=f"{op}_drill", **kwargs)


def _child(command: dict[str, Any]) -> int:
    # stdout carries the protocol: everything the child prints (structlog included) goes to its log file.
    log_fd = os.open(command["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    handler = logging.FileHandler(command["log"])
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        operator = _operator(command["op"], command.get("kwargs") or {})
        ti = SimpleNamespace(
            dag_id="partnership_ad_codes",
            task_id=operator.task_id,
            map_index=-1,
            try_number=command.get("try_number", 1),
        )
        result = operator.execute({"run_id": command["run_id"], "ti": ti})
        logging.getLogger("drill").info("RESULT: %s", json.dumps(result, default=str))
        return 0
    except BaseException as exc:
        with open(command["log"], "a") as handle:
            handle.write(f"EXCEPTION: {type(exc).__name__}: {exc}\n{traceback.format_exc()}\n")
        return 1
    finally:
        handler.flush()


def serve() -> int:
    # Import everything the children need before the first fork (no threads are started by these imports).
    import partnership_ads.hooks
    import partnership_ads.ledger
    import partnership_ads.operators
    import partnership_ads.sinks
    import partnership_ads.snapshot  # noqa: F401

    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = _child(command)
            sys.stdout.flush()
            os._exit(code)
        print(PROTOCOL + json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        exit_code = os.waitstatus_to_exitcode(status)
        print(PROTOCOL + json.dumps({"exit": exit_code}), flush=True)
    return 0


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` every 5 ms until it holds (True) or ``timeout`` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def with_graph_timeout(env: Mapping[str, str], seconds: float) -> dict[str, str]:
    """``env`` with every ``meta_graph`` connection's request ``timeout`` set to ``seconds``.

    A claim taken over from a dead attempt waits out that attempt's possible POST (the connection's timeout)
    before looking the media up; drills that kill attempts by the dozen keep it short.
    """
    out = dict(env)
    for key, value in env.items():
        if key.startswith("AIRFLOW_CONN_META_GRAPH"):
            conn = json.loads(value)
            conn.setdefault("extra", {})["timeout"] = seconds
            out[key] = json.dumps(conn)
    return out


class Zygote:
    """The driver side: start the runner, run operators in forked children, kill them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "include.drills.crash"],
            env=dict(env),
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def start(self, op: str, *, run_id: str, log: Path, try_number: int = 1, **kwargs: Any) -> int:
        """Fork a child running ``op``; returns its pid."""
        assert self.process.stdin is not None and self.process.stdout is not None
        command = {"op": op, "kwargs": kwargs, "log": str(log), "run_id": run_id, "try_number": try_number}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return int(self._message()["pid"])

    def wait(self) -> int:
        """Wait for the current child; returns its exit code (negative: killed by that signal)."""
        return int(self._message()["exit"])

    def _message(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the crash runner exited")
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL) :])

    def run(self, op: str, *, run_id: str, log: Path, try_number: int = 1, **kwargs: Any) -> int:
        """Run ``op`` to its end in a child; returns the exit code."""
        self.start(op, run_id=run_id, log=log, try_number=try_number, **kwargs)
        return self.wait()

    @staticmethod
    def kill(pid: int) -> None:
        """SIGKILL the child (no cleanup of any kind runs)."""
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    sys.exit(serve())
