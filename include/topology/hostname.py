"""Hostname callable for workers that share one machine.

Airflow records on each task instance the ``hostname`` of the worker that ran it (`[core] hostname_callable`,
by default the machine's FQDN). Two Celery workers on one machine would both report the same name, so the
native topology points ``AIRFLOW__CORE__HOSTNAME_CALLABLE`` at :func:`worker_hostname` and gives each worker
its name in ``PARTNERSHIP_ADS_WORKER_NAME``. In containers (compose) every worker has its own hostname and
this module is not used.
"""

from __future__ import annotations

import os
import socket

WORKER_NAME_ENV = "PARTNERSHIP_ADS_WORKER_NAME"


def worker_hostname() -> str:
    """``<worker name>@<fqdn>``: the Celery node name of this worker, or the bare FQDN outside a worker."""
    fqdn = socket.getfqdn()
    name = os.environ.get(WORKER_NAME_ENV)
    return f"{name}@{fqdn}" if name else fqdn
