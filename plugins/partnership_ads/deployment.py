"""Airflow lookups the run-parameter rules need, kept out of :mod:`partnership_ads.run_plan` so it stays pure.

Both fail closed: "not defined" is an answer (None), but any other failure (a secrets backend or the API
server not answering, a malformed ``AIRFLOW_CONN_*``) raises, so no caller can mistake "could not read" for
"absent". Imports are local: the DAG files import this module at parse time.
"""

from __future__ import annotations


def get_variable(key: str) -> str | None:
    """The Airflow Variable ``key``, or None when it is not defined (a lookup error raises)."""
    from airflow.sdk import Variable

    return Variable.get(key, default=None)


def connection_type(conn_id: str) -> str | None:
    """The ``conn_type`` of connection ``conn_id``, or None when it is not defined anywhere.

    :raises ConnectionUnreadableError: the lookup could not answer (see :mod:`partnership_ads.connections`).
    """
    from partnership_ads.connections import resolve_connection

    connection = resolve_connection(conn_id)
    return None if connection is None else (connection.conn_type or "")
