"""The deployment's Celery configuration: Airflow's default, plus the project's modules preloaded in workers.

Set ``[celery] celery_config_options = partnership_ads.celery_config.CELERY_CONFIG`` (env
``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS``), as ``docker-compose.yaml`` and the native topology do. A Celery
worker imports the modules of ``imports`` once, before it forks its pool; every task process is forked from a
pool process, so it starts with them already imported. Airflow's worker does the same for a few modules of its
own (``on_celery_import_modules`` in the Celery provider) for the same reason: imports cost each short task
its start. Here they are what an issue shard imports in ``execute`` (the hook with the HTTP provider, the
ledger with the PostgreSQL provider, pyarrow): about 0.3 s of CPU per task, paid once per worker instead.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

#: Imported by each Celery worker before it forks its pool (:mod:`partnership_ads.worker_preload`).
PRELOAD_MODULE = "partnership_ads.worker_preload"

CELERY_CONFIG: dict[str, Any] = {
    **DEFAULT_CELERY_CONFIG,
    "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), PRELOAD_MODULE),
}
