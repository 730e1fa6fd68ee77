"""Deployment settings and the Airflow lookups the run-parameter rules need, kept out of
:mod:`partnership_ads.run_plan` so that it stays pure.

Both fail closed: "not defined" is an answer (None), but any other failure (a secrets backend or the API
server not answering, a malformed ``AIRFLOW_CONN_*``) raises, so no caller can mistake "could not read" for
"absent". Imports are local: the DAG files import this module at parse time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


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


def given(value: Any) -> bool:
    """Whether a parameter or setting was given (not None, "", [] or ())."""
    return value not in (None, "", [], ())


def deployment_setting(
    variable: str, env: str, *, get_variable: Callable[[str], str | None], environ: Mapping[str, str]
) -> tuple[str | None, str]:
    """A setting's value, stripped, and where it came from (``Variable <name>`` or ``env <NAME>``): the
    Airflow Variable first, then the environment variable; ``(None, "")`` when neither is set."""
    value = get_variable(variable)
    if given(value) and str(value).strip():
        return str(value).strip(), f"Variable {variable}"
    value = environ.get(env)
    if given(value) and str(value).strip():
        return str(value).strip(), f"env {env}"
    return None, ""
