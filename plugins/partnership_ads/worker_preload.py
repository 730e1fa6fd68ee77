"""What a Celery worker imports before it forks its pool (:mod:`partnership_ads.celery_config`).

Only imports: no connection, Variable or ledger is read, so a worker starts the same whatever their state.
These are the modules the fetch, plan, issue and push tasks import in ``execute``; the DAG files never import
them (they would slow DAG parsing).
"""

from __future__ import annotations

import airflow.providers.http.hooks.http
import airflow.providers.postgres.hooks.postgres  # noqa: F401
import pyarrow.parquet  # noqa: F401

import partnership_ads.hooks
import partnership_ads.issuance
import partnership_ads.ledger
import partnership_ads.snapshot
import partnership_ads.token_health  # noqa: F401
