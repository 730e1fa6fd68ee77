"""Airflow connections as the pipeline reads them: "not defined" and "could not be read" are different things.

Airflow's ``BaseHook.get_connection`` raises the same ``AirflowNotFoundException`` when no backend defines a
connection and when a backend failed (a malformed ``AIRFLOW_CONN_*`` value, a secrets backend that timed out):
it logs the failure at debug level and moves on. A pipeline that took both for "absent" would carry on with a
fallback (a private SQLite ledger, an item "awaiting" a creator whose connection exists) that breaks its
guarantees. :func:`resolve_connection` tells them apart and fails closed.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowException

if TYPE_CHECKING:
    from airflow.sdk import Connection

log = logging.getLogger(__name__)

#: Executors whose tasks all run on the machine that runs the scheduler (or ``airflow dags test``): the only
#: deployments where a file on local disk is the same file for every task.
SINGLE_MACHINE_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})


class ConnectionUnreadableError(AirflowException):
    """A connection is defined (or may be) but could not be read: retry later, never treat it as absent."""


def env_name(conn_id: str) -> str:
    """The environment variable that defines ``conn_id`` (``AIRFLOW_CONN_<CONN_ID>``)."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def resolve_connection(conn_id: str) -> Connection | None:
    """The connection ``conn_id``, or None when no secrets backend defines it.

    :raises ConnectionUnreadableError: a backend failed while looking it up, or ``AIRFLOW_CONN_<ID>`` is set
        but could not be parsed. The message names the connection and the backend, never a value.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        pass
    if os.environ.get(env_name(conn_id), "").strip():
        raise ConnectionUnreadableError(
            f"Connection {conn_id!r} is set in {env_name(conn_id)} but could not be parsed: fix the value "
            "(JSON or URI). Stopping before any call."
        )
    # Airflow swallowed whatever each backend raised: ask them again to tell absence from failure.
    from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

    for backend in ensure_secrets_backend_loaded():
        try:
            found = backend.get_connection(conn_id=conn_id)
        except Exception as exc:
            raise ConnectionUnreadableError(
                f"Connection {conn_id!r} could not be read: the secrets backend {type(backend).__name__} "
                f"failed ({type(exc).__name__}). Stopping before any call; the task is retried."
            ) from None
        if found:
            return found  # the first lookup's failure was transient
    return None


def connection_exists(conn_id: str) -> bool:
    """Whether connection ``conn_id`` is defined (:class:`ConnectionUnreadableError` when unreadable)."""
    return resolve_connection(conn_id) is not None


def executor() -> str:
    """The deployment's executor setting (``[core] executor``; several, comma-separated, are possible)."""
    from airflow.sdk.configuration import conf

    return str(conf.get("core", "executor", fallback="LocalExecutor") or "LocalExecutor")


def single_machine() -> bool:
    """Whether every task runs on this machine: each executor configured is a single-machine one."""
    names = {name.strip().rsplit(".", 1)[-1] for name in executor().split(",") if name.strip()}
    return bool(names) and names <= SINGLE_MACHINE_EXECUTORS
