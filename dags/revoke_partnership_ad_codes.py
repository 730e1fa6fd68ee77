"""revoke_partnership_ad_codes: delete the ad codes of given media and push the revocation to the sinks.

Manual only. Scoped like the pipeline's trigger: only media the ledger records under a brand this deployment
serves, deleted with that brand's (or the creator's) connection; with a brand list, the form's meta_conn_id
stays empty. Every media is checked before the first delete.

Wiring and parameters only: no network or database access at parse time.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG

from partnership_ads.dag_settings import api_pool
from partnership_ads.operators import RevokeAdCodesOperator
from partnership_ads.trigger_form import REVOKE_PARAMS

with DAG(
    dag_id="revoke_partnership_ad_codes",
    description="Delete partnership ad codes for given Instagram media and tell every sink",
    doc_md=__doc__,
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    render_template_as_native_obj=True,
    params=REVOKE_PARAMS,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=2)},
    tags=["partnership_ads", "meta"],
) as dag:
    RevokeAdCodesOperator(
        task_id="revoke_ad_codes",
        # The pool capping Graph calls across all workers (env PARTNERSHIP_ADS_API_POOL, read at parse time).
        pool=api_pool(os.environ),
        media_ids="{{ params.media_ids }}",
        meta_conn_id="{{ params.meta_conn_id }}",
        sinks="{{ params.sinks }}",
    )
