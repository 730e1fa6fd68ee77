"""revoke_partnership_ad_codes: delete the ad codes of given media and push the revocation to the sinks.

Manual only. Wiring and parameters only: no network or database access at parse time.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, Param

from partnership_ads.operators import RevokeAdCodesOperator

with DAG(
    dag_id="revoke_partnership_ad_codes",
    description="Delete partnership ad codes for given Instagram media and tell every sink",
    doc_md=__doc__,
    schedule=None,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    render_template_as_native_obj=True,
    params={
        "media_ids": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^[0-9]+$"},
            minItems=1,
            title="media_ids",
            description="Instagram media ids (content_id) whose ad code is deleted.",
        ),
        "meta_conn_id": Param(
            "meta_graph_default",
            type="string",
            title="meta_conn_id",
            description="Connection used when the ledger names no creator with a connection (the brand's own "
            "media).",
        ),
        "sinks": Param(
            None,
            type=["null", "array"],
            items={"type": "string", "enum": ["sql", "webhook", "files"]},
            examples=["sql", "webhook", "files"],
            title="sinks",
            description="Tell only these sinks. Empty: every configured sink.",
        ),
    },
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=2)},
    tags=["partnership_ads", "meta"],
):
    RevokeAdCodesOperator(
        task_id="revoke_ad_codes",
        media_ids="{{ params.media_ids }}",
        meta_conn_id="{{ params.meta_conn_id }}",
        sinks="{{ params.sinks }}",
    )
